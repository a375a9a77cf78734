//! Guards E1 span alarms: mid-campaign the span of trunk `e1a` alarms (the simulator fires
//! mod_freetdm's TRAP events and refuses calls on it as the real switch does); contactd
//! takes the trunk out of service and the campaign goes on over `e1b` on the other switch,
//! `contactd trunks` and `/metrics` say so, the sysadmins get one e-mail (and only one, the
//! SMTP sink counts), and once the alarm clears calls go to `e1a` again. Every subscriber is
//! reached once, and no trunk ever carries more calls than its channels (simulators' counts).
use crate::common;
use crate::trunks_support;

use std::time::Duration;

use common::smtp::{free_port, Sink};
use trunks_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_alarm_moves_the_calls_to_the_other_trunk_and_mails_the_sysadmins_once() {
    let env = common::TestEnv::new().await;
    let smtp = free_port();
    let sink = Sink::start(smtp, None).await;
    let (a, b) = (switch(30, 20_000).await, switch(30, 20_000).await);
    let mail = format!(
        "[mail]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp}\nsysadmins = [\"noc@example.org\"]\nretry_seconds = 1\n"
    );
    let app = daemon(&env, &a, 3, &b, 3, "fill_first", &mail).await;
    const N: usize = 40;
    import(&app, N).await;
    let (id, _) = app.shared.campaigns.create(&campaign(1, 3)).await.unwrap();

    // fill_first: e1a carries the calls first
    assert!(
        common::eventually(Duration::from_secs(20), || async { answered(&a) >= 3 }).await,
        "no calls on e1a"
    );
    assert!(a.span_alarm("1", true));
    // the daemon hears it: the trunk is out, in the CLI and on /metrics
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            trunks_line(&app, "e1a").await.contains("alarm (red)")
        })
        .await,
        "contactd trunks: {}",
        trunks_line(&app, "e1a").await
    );
    let line = trunks_line(&app, "e1a").await;
    assert!(line.contains("0/3"), "capacity 0 in alarm: {line}");
    let metrics = http_get(app.http_addr, "/metrics").await;
    assert!(
        metrics.contains("contactd_trunk_in_service{trunk=\"e1a\",state=\"alarm\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("contactd_trunk_span_alarms_total{trunk=\"e1a\"} 1"));
    assert!(metrics.contains("contactd_trunk_in_service{trunk=\"e1b\",state=\"in_service\"} 1"));

    // calls go on over e1b, none is placed on the span in alarm
    let on_a = a
        .api_log()
        .iter()
        .filter(|c| c.contains("originate"))
        .count();
    let b_before = answered(&b);
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            answered(&b) >= b_before + 4
        })
        .await,
        "the campaign did not go on over e1b"
    );
    let on_a_now = a
        .api_log()
        .iter()
        .filter(|c| c.contains("originate"))
        .count();
    assert!(
        on_a_now <= on_a + 1,
        "originates still sent to the span in alarm: {on_a} then {on_a_now}"
    );

    // one e-mail to the sysadmins
    assert!(
        common::eventually(Duration::from_secs(20), || async {
            !sink.messages().is_empty()
        })
        .await,
        "no alert e-mail"
    );
    // the alarm clears and is raised again on no channel: still one e-mail for this episode
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let m = &msgs[0];
    assert!(m["subject"].as_str().unwrap().contains("span 1"), "{m}");
    assert!(m["subject"].as_str().unwrap().contains("fs1"), "{m}");
    assert!(m["text"].as_str().unwrap().contains("e1a"), "{m}");
    let rcpt: Vec<String> = serde_json::from_value(m["rcpt_tos"].clone()).unwrap();
    assert_eq!(rcpt, ["noc@example.org"]);

    // cleared: e1a is back and carries calls again
    assert!(a.span_alarm("1", false));
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            trunks_line(&app, "e1a").await.contains("in service")
        })
        .await,
        "{}",
        trunks_line(&app, "e1a").await
    );
    let a_before = answered(&a);
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            answered(&a) > a_before
        })
        .await,
        "no calls on e1a after the alarm cleared"
    );
    assert!(
        finished(&app, id, Duration::from_secs(120)).await,
        "campaign not finished"
    );
    assert_eq!(reached(&a, &b).len(), N, "every subscriber reached");
    let again = redialed_after_hearing(&a, &b);
    assert!(
        again.is_empty(),
        "dialed again after hearing the message: {again:#?}"
    );
    assert!(a.peak_channels_on("1") <= 3 && b.peak_channels_on("1") <= 3);
    // still one e-mail after the whole episode
    assert_eq!(sink.messages().len(), 1);
    app.shutdown(Duration::from_secs(1)).await;
}

/// Two instances read the same switch's events at their own pace: the fast one has seen the
/// alarm and its clear before the slow one handles the alarm. The slow one must not mail
/// the episode again.
#[tokio::test]
async fn a_slow_instance_does_not_mail_an_episode_a_fast_one_saw_cleared() {
    use contactd::store::trunk_state::{claim_alert, end_alert, unclaim_alert};
    let env = common::TestEnv::new().await;
    let live = env.live_state().await;
    assert!(claim_alert(&live, "fs1", "1").await.unwrap(), "fast: mails");
    end_alert(&live, "fs1", "1").await.unwrap();
    assert!(
        !claim_alert(&live, "fs1", "1").await.unwrap(),
        "slow: the same episode mailed twice"
    );
    // a mail that could not be queued is given back: the next event tries again
    unclaim_alert(&live, "fs1", "1").await.unwrap();
    assert!(claim_alert(&live, "fs1", "1").await.unwrap());
}
