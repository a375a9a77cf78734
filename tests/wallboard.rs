//! The wallboard in a real browser (headless Chromium over the DevTools protocol) against
//! contactd, the simulator, real Redis and PostgreSQL: an operator token is refused at the
//! login; the supervisor token opens it; callers arriving, an operator answering and another
//! going on break each show on the page within 1 s of the live state changing, without a
//! reload; the page speaks Russian and English and has a wall mode; a screenshot is saved
//! under target/wallboard/ and is not blank.

use crate::acd_support;
use crate::common;
use crate::wallboard_support;

use std::time::{Duration, Instant};

use acd_support::{add_operators, answers, caller, login, start_sim};
use contactd::service::acd::OperatorCommand;
use wallboard_support::cdp::{Browser, Page};
use wallboard_support::*;

const WITHIN: Duration = Duration::from_secs(1);

/// Waits until `changed` says the live state in Redis has the change, then measures how
/// long until the page shows it (`shown`, a JS expression). The page may be first.
async fn follows<F, Fut>(page: &mut Page, what: &str, mut changed: F, shown: &str) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let mut at_store = None;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: never happened"
        );
        if at_store.is_none() && changed().await {
            at_store = Some(Instant::now());
        }
        if page.eval(&format!("!!({shown})")).await == true {
            let lag = at_store.map_or(Duration::ZERO, |t| t.elapsed());
            eprintln!(
                "wallboard: {what}: on the page {} ms after the store",
                lag.as_millis()
            );
            return lag;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn sign_in(page: &mut Page, base: &str, token: &str, query: &str) {
    page.goto(&format!("{base}/wallboard{query}")).await;
    assert!(
        page.wait_for("document.getElementById('login')", Duration::from_secs(5))
            .await
            .is_some(),
        "the login form first"
    );
    page.eval(&format!(
        "document.getElementById('token').value = {}; document.getElementById('login').submit(); true",
        serde_json::to_string(token).unwrap()
    ))
    .await;
    page.settle().await;
}

fn state_is(login: &str, state: &str) -> String {
    format!("document.querySelector('#operators [data-login=\"{login}\"]')?.dataset.state === '{state}'")
}

fn waiting_is(queue: &str, n: usize) -> String {
    format!("document.querySelector('#queues tr[data-queue=\"{queue}\"] td.waiting')?.dataset.n === '{n}'")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_follows_the_switch_in_a_browser() {
    let env = common::TestEnv::new().await;
    let sim = start_sim(&[("1001", answers(300, None)), ("1002", answers(300, None))]).await;
    let app = start_app(&env, &sim, WALLBOARD_TOML).await;
    // 1002 takes only meter calls: ready, but the general callers wait for 1001.
    add_operators(
        &app,
        &[("1001", &[("general", 5)]), ("1002", &[("meter", 5)])],
    )
    .await;
    login(&app, "1002").await;
    let base = format!("http://{}", app.http_addr);
    let mut browser = Browser::launch().await;
    let page = &mut browser.page;

    // An operator's own token does not open the board.
    let operator = contactd::http::auth::operator_token(&api_token(&app), "op1001");
    sign_in(page, &base, &operator, "?lang=en").await;
    assert_eq!(
        page.eval("document.getElementById('error').textContent")
            .await,
        "This token does not open the wallboard."
    );
    assert_eq!(
        page.eval("!!document.getElementById('queues')").await,
        false
    );

    // The supervisor token does; the board is live (its status and first snapshot).
    sign_in(page, &base, SUPERVISOR, "?lang=en").await;
    assert!(
        page.wait_for(&state_is("op1002", "ready"), Duration::from_secs(5))
            .await
            .is_some(),
        "the first snapshot shows op1002 ready"
    );
    let origin = page.eval("performance.timeOrigin").await;
    assert_eq!(
        page.eval("document.querySelector('#queues-section h2').textContent")
            .await,
        "Queues"
    );

    // Two callers arrive in general.
    let store = app.shared.acd.store().clone();
    let c1 = caller(&sim, &app, "general", "5550101", None);
    let c2 = caller(&sim, &app, "general", "5550102", None);
    let lag = follows(
        page,
        "two callers waiting",
        || {
            let s = store.clone();
            async move { s.queue_len("general").await.unwrap_or(0) == 2 }
        },
        &waiting_is("general", 2),
    )
    .await;
    assert!(lag < WITHIN, "callers shown after {lag:?}");
    // Their waits tick on the page without a new snapshot.
    let t0 = page
        .eval("document.querySelector('#queues tr[data-queue=\"general\"] td.longest').textContent")
        .await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let t1 = page
        .eval("document.querySelector('#queues tr[data-queue=\"general\"] td.longest').textContent")
        .await;
    assert_ne!(t0, t1, "the longest wait ticks");

    // 1001 logs in and answers the first caller.
    login(&app, "1001").await;
    let lag = follows(
        page,
        "op1001 talking",
        || {
            let s = store.clone();
            async move {
                s.agent_state("op1001").await.ok().flatten().as_deref() == Some("talking")
            }
        },
        &format!("{} && {}", state_is("op1001", "talking"), waiting_is("general", 1)),
    )
    .await;
    assert!(lag < WITHIN, "answer shown after {lag:?}");
    // Whichever of the two came first to the queue is the one the switch bridged.
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            sim.bridged_to(&c1).is_some() || sim.bridged_to(&c2).is_some()
        })
        .await,
        "the switch bridged a caller to op1001"
    );

    // 1002 goes on a break.
    app.shared
        .acd
        .command("op1002", OperatorCommand::Break("lunch".into()))
        .await
        .unwrap();
    let lag = follows(
        page,
        "op1002 on a break",
        || {
            let s = store.clone();
            async move { s.agent_state("op1002").await.ok().flatten().as_deref() == Some("break") }
        },
        &state_is("op1002", "break"),
    )
    .await;
    assert!(lag < WITHIN, "break shown after {lag:?}");
    assert_eq!(
        page.eval("performance.timeOrigin").await,
        origin,
        "no reload happened"
    );
    assert_eq!(
        page.eval(
            "document.querySelector('#operators [data-login=\"op1002\"] .state').textContent"
        )
        .await,
        "break"
    );

    // A screenshot of the live board, not blank.
    let shot = page.screenshot().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/wallboard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wallboard-en.png"), &shot).unwrap();
    let (w, h, colours) = wallboard_support::png::colours(&shot);
    assert!(w >= 800 && h >= 600, "{w}x{h}");
    assert!(colours >= 50, "only {colours} colours: blank?");

    // The day's figures are there (from the KPI store), with the plan's progress.
    assert!(
        page.wait_for(
            "document.getElementById('kpi-note').hidden && document.querySelector('#queues tr[data-queue=\"general\"] .plan .bar')",
            Duration::from_secs(10)
        )
        .await
        .is_some(),
        "today's figures and the plan on the board"
    );

    // Russian, and the wall's large-screen mode (no controls).
    page.goto(&format!("{base}/wallboard?lang=ru&wall=1")).await;
    assert!(page
        .wait_for(&state_is("op1001", "talking"), Duration::from_secs(5))
        .await
        .is_some());
    assert_eq!(
        page.eval("document.querySelector('#queues-section h2').textContent")
            .await,
        "Очереди"
    );
    assert_eq!(
        page.eval(
            "document.querySelector('#operators [data-login=\"op1002\"] .state').textContent"
        )
        .await,
        "перерыв"
    );
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('.controls')).display")
            .await,
        "none"
    );
    let big = page
        .eval("parseFloat(getComputedStyle(document.body).fontSize)")
        .await;
    assert!(big.as_f64().unwrap() >= 24.0, "wall type is large: {big}");
    let shot = page.screenshot().await;
    std::fs::write(dir.join("wallboard-ru-wall.png"), &shot).unwrap();
    assert!(wallboard_support::png::colours(&shot).2 >= 50);

    browser.close().await;
    app.shutdown(Duration::from_secs(2)).await;
}
