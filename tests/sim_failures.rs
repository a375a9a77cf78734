//! Failed originates as FreeSWITCH reports them (traces 04 and 25): both loopback legs, or
//! the single leg of a FreeTDM span or SIP gateway, go through CHANNEL_HANGUP and
//! CHANNEL_HANGUP_COMPLETE (with the Q.850 code) around the `-ERR <CAUSE>` job; the far
//! end's refusal is complete before the job is answered, the switch's own timeout is
//! answered at once (between T-1 and T seconds of `originate_timeout`, counted in whole
//! seconds). A SIP carrier refusing a call over its limit is such a refusal too. Also:
//! configured dialplan contexts and directory users, and `api_hangup_hook` (run as the leg
//! hangs up, its `${…}` expanded; refused by originate's variable check without
//! `origination_nested_vars=true`).

use crate::sim_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use contactd::sim::{Behaviour, Extension, SimConfig, Simulator, TrunkConfig, TrunkKind};
use sim_support::{is, Client};

/// 1 simulated second = 50 ms.
const SCALE: f64 = 0.05;

fn cfg() -> SimConfig {
    let subscribers = vec![
        Extension::new(r"^busy$", &[("hangup", "USER_BUSY")]),
        Extension::new(r"^gone$", &[("hangup", "UNALLOCATED_NUMBER")]),
        Extension::new(r"^fail$", &[("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        Extension::new(
            r"^ring$",
            &[("ring_ready", ""), ("sleep", "120000"), ("hangup", "")],
        ),
        Extension::new(
            r"^q_(\w+)$",
            &[("set", "queue=$1"), ("answer", ""), ("park", "")],
        ),
    ];
    SimConfig {
        time_scale: SCALE,
        heartbeat_ms: 0,
        contexts: HashMap::from([("subs".to_string(), subscribers)]),
        users: HashMap::from([("203".to_string(), "loopback/ring/subs".to_string())]),
        trunks: vec![
            TrunkConfig {
                name: "1".into(),
                kind: TrunkKind::Freetdm,
                channels: 4,
            },
            TrunkConfig {
                name: "gw".into(),
                kind: TrunkKind::Gateway,
                channels: 4,
            },
            TrunkConfig {
                name: "one".into(),
                kind: TrunkKind::Gateway,
                channels: 1,
            },
        ],
        numbers: HashMap::from([
            ("5550017".to_string(), Behaviour::Busy { after_ms: 200 }),
            (
                "5550001".to_string(),
                Behaviour::Reject {
                    cause: "UNALLOCATED_NUMBER".into(),
                    after_ms: 100,
                    ring: false,
                },
            ),
            ("5550019".to_string(), Behaviour::NoAnswer),
        ]),
        ..Default::default()
    }
}

/// Index of the first event matching, panicking with the events if there is none.
fn pos(c: &Client, what: &str, f: impl Fn(&sim_support::Ev) -> bool) -> usize {
    c.events.iter().position(f).unwrap_or_else(|| {
        panic!(
            "no {what} in {:#?}",
            c.events.iter().map(|e| e.key()).collect::<Vec<_>>()
        )
    })
}

/// `bgapi originate` of `url` with `uuid`; waits for the A-leg's CHANNEL_DESTROY and returns
/// the job's body and its index among the events.
async fn failed(c: &mut Client, uuid: &str, vars: &str, url: &str) -> (String, usize) {
    let r = c
        .cmd(&format!(
            "bgapi originate {{origination_uuid={uuid}{vars}}}{url} &park()"
        ))
        .await;
    let job = r
        .lines()
        .find_map(|l| l.strip_prefix("Job-UUID: "))
        .expect("a Job-UUID")
        .to_string();
    c.wait(|e| is(e, "CHANNEL_DESTROY", uuid)).await;
    let j = pos(c, "BACKGROUND_JOB", |e| {
        e.name() == "BACKGROUND_JOB" && e.get("Job-UUID") == Some(job.as_str())
    });
    (c.events[j].body.clone(), j)
}

/// The A-leg: no answer, the cause and its Q.850 code on CHANNEL_HANGUP_COMPLETE.
fn check_leg(c: &Client, uuid: &str, cause: &str, q850: &str) -> (usize, usize, usize) {
    let keys = c.keys_of(uuid);
    assert!(!keys.iter().any(|k| k == "CHANNEL_ANSWER"), "{keys:?}");
    let h = pos(c, "A's CHANNEL_HANGUP", |e| is(e, "CHANNEL_HANGUP", uuid));
    let hc = pos(c, "A's CHANNEL_HANGUP_COMPLETE", |e| {
        is(e, "CHANNEL_HANGUP_COMPLETE", uuid)
    });
    let d = pos(c, "A's CHANNEL_DESTROY", |e| is(e, "CHANNEL_DESTROY", uuid));
    assert!(pos(c, "A's CHANNEL_CREATE", |e| is(e, "CHANNEL_CREATE", uuid)) < h);
    assert_eq!(c.events[h].get("Hangup-Cause"), Some(cause));
    assert_eq!(c.events[hc].get("Hangup-Cause"), Some(cause));
    assert_eq!(c.events[hc].get("variable_hangup_cause"), Some(cause));
    assert_eq!(c.events[hc].get("variable_hangup_cause_q850"), Some(q850));
    assert!(h < hc && hc < d);
    (h, hc, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_refusals_complete_before_the_job_answers() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    for (n, (dest, cause, q850)) in [
        ("busy", "USER_BUSY", "17"),
        ("gone", "UNALLOCATED_NUMBER", "1"),
        ("fail", "NORMAL_TEMPORARY_FAILURE", "41"),
    ]
    .into_iter()
    .enumerate()
    {
        let u = format!("44444444-0000-4000-8000-00000000000{n}");
        let (body, job) = failed(&mut c, &u, "", &format!("loopback/{dest}/subs")).await;
        assert_eq!(body, format!("-ERR {cause}\n"));
        let (_, hc, d) = check_leg(&c, &u, cause, q850);
        // the far end's refusal: CHANNEL_HANGUP_COMPLETE, the job, then CHANNEL_DESTROY
        assert!(
            hc < job && job < d,
            "{cause}: complete {hc} job {job} destroy {d}"
        );
        let b = format!("loopback/{dest}-b");
        let bh = pos(&c, "B's CHANNEL_HANGUP", |e| {
            e.name() == "CHANNEL_HANGUP" && e.get("Channel-Name") == Some(b.as_str())
        });
        assert_eq!(c.events[bh].get("Hangup-Cause"), Some(cause));
        let t = sim
            .ground_truth()
            .into_iter()
            .find(|r| r.uuid == u)
            .unwrap();
        assert_eq!(t.q850, Some(q850.parse().unwrap()));
        assert!(!t.answered);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_the_switch_timeout_answered_at_once() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let u = "44444444-0000-4000-8000-000000000010";
    let t0 = Instant::now();
    let (body, job) = failed(&mut c, u, ",originate_timeout=3", "loopback/ring/subs").await;
    assert_eq!(body, "-ERR NO_ANSWER\n");
    let (h, hc, _) = check_leg(&c, u, "NO_ANSWER", "19");
    // 2 to 3 simulated seconds: 100-150 ms real (and a margin for a busy machine)
    let el = t0.elapsed().as_millis();
    assert!((90..600).contains(&el), "{el} ms");
    // the job comes right after the A-leg's hangup, before its partner is hung up
    assert!(h < job && job < hc, "hangup {h} job {job} complete {hc}");
    let bh = pos(&c, "B's CHANNEL_HANGUP", |e| {
        e.name() == "CHANNEL_HANGUP" && e.get("Channel-Name") == Some("loopback/ring-b")
    });
    assert!(job < bh);
    assert_eq!(c.events[bh].get("Hangup-Cause"), Some("NO_ANSWER"));
    // ring_ready: the A-leg rang
    assert!(c.keys_of(u).iter().any(|k| k == "CHANNEL_PROGRESS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_leg_endpoints_fail_with_the_networks_cause() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let cases = [
        ("freetdm/1/a/5550017", "USER_BUSY", "17", false),
        ("freetdm/1/a/5550001", "UNALLOCATED_NUMBER", "1", false),
        ("sofia/gateway/gw/5550017", "USER_BUSY", "17", false),
        ("freetdm/1/a/5550019", "NO_ANSWER", "19", true),
    ];
    for (n, (url, cause, q850, timeout)) in cases.into_iter().enumerate() {
        let u = format!("44444444-0000-4000-8000-00000000002{n}");
        let (body, job) = failed(&mut c, &u, ",originate_timeout=3", url).await;
        assert_eq!(body, format!("-ERR {cause}\n"), "{url}");
        let (h, hc, d) = check_leg(&c, &u, cause, q850);
        // one leg only: no loopback partner
        assert!(c
            .events
            .iter()
            .all(|e| e.get("Other-Leg-Unique-ID").is_none()));
        if timeout {
            assert!(h < job && job < hc, "{url}: {h} {job} {hc}");
        } else {
            assert!(hc < job && job < d, "{url}: {hc} {job} {d}");
        }
        let name = c.events[h].get("Channel-Name").unwrap_or("").to_string();
        assert!(
            name.starts_with("FreeTDM/1:") || name.starts_with("sofia/gateway/gw/"),
            "{name}"
        );
    }
    assert!(sim.live_channels().is_empty());
    // the FreeTDM channel is free once it has cleared (500 simulated ms, 25 ms here)
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(sim.live_channels_on("1"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_the_carriers_limit_is_placed_and_refused() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let first = c.api("originate sofia/gateway/one/5550100 &park()").await;
    assert!(first.starts_with("+OK "), "{first}");
    let u = "44444444-0000-4000-8000-000000000040";
    let (body, job) = failed(&mut c, u, "", "sofia/gateway/one/5550101").await;
    assert_eq!(body, "-ERR NORMAL_TEMPORARY_FAILURE\n");
    let (_, hc, d) = check_leg(&c, u, "NORMAL_TEMPORARY_FAILURE", "41");
    assert!(hc < job && job < d);
    assert_eq!(sim.live_channels_on("one"), 1);
    assert_eq!(sim.peak_channels_on("one"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_users_and_configured_contexts() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    // user/203 dials its dial-string: the legs are the loopback's, with the presence id
    let u = "44444444-0000-4000-8000-000000000030";
    let (body, _) = failed(&mut c, u, ",originate_timeout=2", "user/203").await;
    assert_eq!(body, "-ERR NO_ANSWER\n");
    let create = pos(&c, "CHANNEL_CREATE", |e| is(e, "CHANNEL_CREATE", u));
    assert_eq!(
        c.events[create].get("Channel-Name"),
        Some("loopback/ring-a")
    );
    assert!(c.events[create]
        .get("Channel-Presence-ID")
        .is_some_and(|p| p.starts_with("203@")));
    assert_eq!(c.events[create].get("variable_dialed_user"), Some("203"));

    // an extension's captures ($1) in a configured context
    let q = "44444444-0000-4000-8000-000000000031";
    let r = c
        .api(&format!(
            "originate {{origination_uuid={q}}}loopback/q_general/subs &park()"
        ))
        .await;
    assert_eq!(r, format!("+OK {q}\n"));
    let set = c
        .wait(|e| {
            e.key() == "CHANNEL_EXECUTE_COMPLETE(set)"
                && e.get("Channel-Name") == Some("loopback/q_general-b")
        })
        .await;
    assert_eq!(c.events[set].get("Application-Data"), Some("queue=general"));
    // a destination no extension of the context matches has no route
    let (body, _) = failed(
        &mut c,
        "44444444-0000-4000-8000-000000000032",
        "",
        "loopback/nothing/subs",
    )
    .await;
    assert_eq!(body, "-ERR NO_ROUTE_DESTINATION\n");
    c.api(&format!("uuid_kill {q}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hangup_hook_notes_the_end_of_a_refused_call() {
    let sim = Simulator::start(cfg()).await.unwrap();
    let mut c = Client::connect(&sim, "plain ALL").await;
    let hook = |u: &str| {
        format!("api_hangup_hook=db::insert/ends/{u}/${{hangup_cause}}/${{hangup_cause_q850}}/${{answer_epoch}}")
    };
    // busy, and the switch's own timeout: noted, unanswered (answer_epoch 0)
    for (n, (url, noted)) in [
        ("freetdm/1/a/5550017", "USER_BUSY/17/0"),
        ("freetdm/1/a/5550019", "NO_ANSWER/19/0"),
    ]
    .into_iter()
    .enumerate()
    {
        let u = format!("44444444-0000-4000-8000-00000000005{n}");
        let vars = format!(
            ",originate_timeout=3,origination_nested_vars=true,{}",
            hook(&u)
        );
        failed(&mut c, &u, &vars, url).await;
        assert_eq!(c.api(&format!("db select/ends/{u}")).await, noted, "{url}");
    }
    // without origination_nested_vars the hook's value holds a variable: never set
    let u = "44444444-0000-4000-8000-000000000060";
    let (body, _) = failed(&mut c, u, &format!(",{}", hook(u)), "freetdm/1/a/5550017").await;
    assert_eq!(body, "-ERR USER_BUSY\n");
    assert_eq!(c.api(&format!("db select/ends/{u}")).await, "");
}
