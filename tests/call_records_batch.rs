//! The event stream's call records written a batch at a time (one statement per kind) end
//! up exactly as written one event at a time — a late answer after an end, a second end
//! that only fills in, two playback results — also when the batch waited in the spool
//! while PostgreSQL was away. Real PostgreSQL, cut off by a TCP fault proxy.
use crate::common;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::faultproxy::FaultProxy;
use contactd::store::journal::{spool_path, Journal};
use contactd::store::migrate;
use contactd::store::postgres::{pool, CallEnd, CallRecord, Calls, NewCall};
use uuid::Uuid;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

/// What the switch reported, in order, for the calls of one run.
enum Ev {
    Answer(usize, i64),
    Response(usize, &'static str),
    End(usize, &'static str, Option<i32>, Option<i64>, i64),
}

fn events() -> Vec<Ev> {
    use Ev::*;
    vec![
        // 0: answered, message played to its end, hung up by contactd
        Answer(0, 1),
        Response(0, "FILE PLAYED"),
        End(0, "NORMAL_CLEARING", Some(16), Some(1), 5),
        // 1: never answered; a second report of its end brings the Q.850 code
        End(1, "NO_ANSWER", None, None, 6),
        End(1, "ORIGINATOR_CANCEL", Some(19), None, 9),
        // 2: an answer reported after its end changes nothing
        End(2, "USER_BUSY", Some(17), None, 3),
        Answer(2, 4),
        // 3: two playbacks: the last response stays, the first who-ended-it wins
        Answer(3, 1),
        Response(3, "PLAYBACK ERROR"),
        Response(3, "FILE PLAYED"),
        End(3, "NORMAL_CLEARING", Some(16), None, 7),
        // 4: answered twice (the first time counts), still up
        Answer(4, 2),
        Answer(4, 8),
    ]
}

const CALLS: usize = 5;

async fn rows_of(calls: &Calls, ids: &[Uuid]) -> Vec<CallRecord> {
    let mut out = Vec::new();
    for id in ids {
        let mut r = calls.get(*id).await.unwrap().expect("call row");
        // compared across two sets of calls: only what the events wrote
        r.uuid = Uuid::nil();
        r.created_at = t(0);
        out.push(r);
    }
    out
}

async fn insert(calls: &Calls) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for _ in 0..CALLS {
        let id = Uuid::new_v4();
        calls
            .insert(&NewCall {
                uuid: id,
                node: "fs1",
                direction: "outbound",
                purpose: "campaign",
                trunk: Some("e1"),
                number: Some("+79161234567"),
                entry: None,
                state: "dialing",
            })
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

fn end(
    id: Uuid,
    cause: &'static str,
    q850: Option<i32>,
    answered: Option<i64>,
    at: i64,
) -> CallEnd<'static> {
    CallEnd {
        uuid: id,
        cause,
        q850,
        billsec: answered.map(|a| (at - a) as i32),
        answered_at: answered.map(t),
        ended_at: t(at),
        hungup_by: "unknown",
        state: if answered.is_some() {
            "ended"
        } else {
            "failed"
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spooled_batch_of_records_lands_as_one_event_at_a_time_would() {
    let env = common::TestEnv::new().await;
    let direct_pool = pool(env.db_url(), 2).unwrap();
    migrate::run(&direct_pool).await.unwrap();
    let one_by_one = Calls::new(direct_pool);
    let (proxy, via) = FaultProxy::for_url(env.db_url()).await;
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(
        &spool_path(dir.path(), "test", &via),
        pool(&via, 2).unwrap(),
    )
    .unwrap();
    let batched = Calls::with_journal(j.clone());

    let a = insert(&one_by_one).await;
    for ev in events() {
        match ev {
            Ev::Answer(c, at) => one_by_one.mark_answered(a[c], t(at)).await.unwrap(),
            Ev::Response(c, r) => one_by_one.set_app_response(a[c], r).await.unwrap(),
            Ev::End(c, cause, q, ans, at) => one_by_one
                .record_end(&end(a[c], cause, q, ans, at))
                .await
                .unwrap(),
        }
    }

    // The same events as the records task writes a run of them: per kind, in one
    // statement each, while PostgreSQL is away.
    let b = insert(&batched).await;
    let (mut answers, mut responses, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    let mut ended = std::collections::HashSet::new();
    for ev in events() {
        match ev {
            Ev::Answer(c, at) if !ended.contains(&c) => answers.push((b[c], t(at))),
            Ev::Answer(..) => {}
            Ev::Response(c, r) => responses.push((b[c], r)),
            Ev::End(c, cause, q, ans, at) => {
                ended.insert(c);
                ends.push(end(b[c], cause, q, ans, at));
            }
        }
    }
    proxy.cut().await;
    batched.mark_answered_all(&answers).await.unwrap();
    batched.set_app_responses(&responses).await.unwrap();
    batched.record_ends(&ends).await.unwrap();
    assert_eq!(j.backlog(), 3, "one spooled write per kind");
    // contactd dies with them spooled; the spool is replayed by the next run
    drop(batched);
    drop(j);
    proxy.restore().await;
    let j = Journal::open(
        &spool_path(dir.path(), "test", &via),
        pool(&via, 2).unwrap(),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let replayer = tokio::spawn(j.clone().run(stop_rx));
    assert!(
        common::eventually(Duration::from_secs(15), || async { j.backlog() == 0 }).await,
        "spool not replayed: {} left",
        j.backlog()
    );
    assert_eq!(j.dead_letters(), 0, "PostgreSQL refused a batch");

    let want = rows_of(&one_by_one, &a).await;
    assert_eq!(
        want[2].answered_at, None,
        "late answer ignored one at a time"
    );
    assert_eq!(want[3].hungup_by.as_deref(), Some("party"));
    assert_eq!(rows_of(&one_by_one, &b).await, want);

    // and written straight through (PostgreSQL up), the same again
    let direct = Calls::with_journal(j.clone());
    let c = insert(&direct).await;
    let remap = |u: Uuid| c[b.iter().position(|x| *x == u).unwrap()];
    let answers: Vec<_> = answers.iter().map(|(u, at)| (remap(*u), *at)).collect();
    let responses: Vec<_> = responses.iter().map(|(u, r)| (remap(*u), *r)).collect();
    let ends: Vec<_> = ends
        .into_iter()
        .map(|e| CallEnd {
            uuid: remap(e.uuid),
            ..e
        })
        .collect();
    direct.mark_answered_all(&answers).await.unwrap();
    direct.set_app_responses(&responses).await.unwrap();
    direct.record_ends(&ends).await.unwrap();
    assert_eq!(j.backlog(), 0, "PostgreSQL up: written straight through");
    assert_eq!(rows_of(&direct, &c).await, want);
    let _ = stop_tx.send(true);
    let _ = replayer.await;
}
