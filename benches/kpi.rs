//! kpi_month_query_ms: a month of 60,000 calls by 140 operators (every operator 14 calls a
//! day, each call the four state periods the ACD writes: offered, talking, wrap-up, then
//! ready until the next call rings; logged out between shifts: 243,600 periods), then
//! `KpiStore::report` for the whole month by
//! 30-minute interval, every queue and every operator. The median of 5 runs after one
//! warm-up (what a supervisor waits for `contactd kpi --by 30m` over a month).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use contactd::core::kpi::{KpiQuery, Span};
use contactd::store::kpi::KpiStore;

use crate::campaign::Scratch;

const SEED: &str = "
INSERT INTO operators (login, name, endpoint)
SELECT 'op' || i, 'Operator ' || i, 'user/' || (1000 + i) FROM generate_series(1, 140) i;

CREATE TEMP TABLE slot AS
SELECT o.id AS op, d, s,
       ((date '2026-11-01' + d + time '09:00') AT TIME ZONE 'Europe/Moscow')
         + make_interval(secs => s * 1920) AS base
  FROM operators o, generate_series(0, 29) d, generate_series(0, 13) s;

-- what the ACD writes: ready until the phone rings, offered, talking, wrap-up, ready again
-- until the next call rings (one ready period between two calls)
INSERT INTO operator_states (operator, state, since, until)
SELECT op, p.state, base + make_interval(secs => p.a),
       base + make_interval(secs => CASE WHEN p.state = 'ready' AND s < 13 THEN 2520 ELSE p.b END)
  FROM slot, (VALUES ('offered', 600, 610), ('talking', 610, 1400),
                     ('wrap_up', 1400, 1430), ('ready', 1430, 1920)) p(state, a, b);
-- the shift's first ready, from logging in to the first call
INSERT INTO operator_states (operator, state, since, until)
SELECT op, 'ready', base, base + interval '600 seconds' FROM slot WHERE s = 0;

-- logged out from the shift's end to the next morning
INSERT INTO operator_states (operator, state, since, until)
SELECT o.id, 'logged_out',
       ((date '2026-11-01' + d + time '09:00') AT TIME ZONE 'Europe/Moscow') + interval '26880 seconds',
       ((date '2026-11-02' + d + time '09:00') AT TIME ZONE 'Europe/Moscow')
  FROM operators o, generate_series(0, 29) d;

INSERT INTO acd_calls (call_uuid, node, queue, entered_at, answered_at, operator, waited_s,
                       talk_s, wrap_up_s, outcome, offers)
SELECT gen_random_uuid(), 'fs1', (ARRAY['general', 'meter', 'connection'])[1 + (s % 3)],
       base + make_interval(secs => 610 - (op * 7 + s * 13) % 41), base + interval '610 seconds',
       op, (op * 7 + s * 13) % 41, 790, 30, 'answered', 1
  FROM slot;

-- 1,200 callers who gave up (a fifth of them within 5 s)
INSERT INTO acd_calls (call_uuid, node, queue, entered_at, waited_s, abandoned_after_s, outcome)
SELECT gen_random_uuid(), 'fs1', 'general',
       ((date '2026-11-01' + (i % 30) + time '09:00') AT TIME ZONE 'Europe/Moscow')
         + make_interval(secs => (i * 37) % 27000),
       (i % 5) * 12 + 2, (i % 5) * 12 + 2, 'abandoned'
  FROM generate_series(1, 1200) i;
ANALYZE;
";

pub async fn month_query() -> (f64, usize, usize) {
    let scratch = Scratch::new().await;
    let pool = contactd::store::postgres::pool(&scratch.db.url, 4).unwrap();
    contactd::store::migrate::run(&pool).await.unwrap();
    let client = pool.get().await.unwrap();
    let t = Instant::now();
    client.batch_execute(SEED).await.unwrap();
    let calls: i64 = client
        .query_one("SELECT count(*) FROM acd_calls", &[])
        .await
        .unwrap()
        .get(0);
    let periods: i64 = client
        .query_one("SELECT count(*) FROM operator_states", &[])
        .await
        .unwrap()
        .get(0);
    eprintln!(
        "kpi: {calls} calls, {periods} state periods seeded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(client);
    let zone = chrono_tz::Europe::Moscow;
    let store = KpiStore::new(pool, zone);
    let q = KpiQuery {
        from: zone
            .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .unwrap()
            .to_utc(),
        to: zone
            .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .unwrap()
            .to_utc(),
        by: Span::Minutes(30),
        queue: None,
        operator: None,
    };
    let targets: BTreeMap<String, u32> = [("general".to_string(), 20)].into();
    let mut times: Vec<Duration> = Vec::new();
    let mut rows = (0, 0);
    for i in 0..6 {
        let t = Instant::now();
        let r = store.report(&q, &targets).await.unwrap();
        if i > 0 {
            times.push(t.elapsed());
        }
        rows = (r.queues.len(), r.operators.len());
    }
    times.sort();
    scratch.drop_now().await;
    (times[times.len() / 2].as_secs_f64() * 1e3, rows.0, rows.1)
}
