//! Guards "other channels, same rules": `POST /api/v1/readings` accepts and refuses exactly
//! the values the IVR does (the same `core::meter` check decides), names the field and the
//! rule in a 422, answers 404 for an unknown account and 401 without the token, stores like
//! the IVR, and a second submission the same day replaces the pending one, keeping history.
use crate::common;
use crate::meter_support;

use chrono::Duration as Days;
use contactd::core::meter::{check_reading, LastReading, MeterSpec, ReadingRules};
use meter_support::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(addr: std::net::SocketAddr, token: Option<&str>, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out[9..12].parse().unwrap();
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (code, json)
}

const TOKEN: &str = "test-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_readings_follow_the_ivr_rules() {
    let env = common::TestEnv::new().await;
    let (_sim, app) = start(&env).await;
    let addr = app.http_addr;
    let one = |v: Value| json!({"account": "100001", "zones": [{"zone": 1, "value": v}], "source": "web"});

    // no token / unknown account
    assert_eq!(post(addr, None, &one(json!("1100"))).await.0, 401);
    let unknown =
        json!({"account": "999999", "zones": [{"zone": 1, "value": "1"}], "source": "web"});
    assert_eq!(post(addr, Some(TOKEN), &unknown).await.0, 404);

    // every value is judged by HTTP exactly as the shared check (the IVR's) judges it
    let spec = MeterSpec {
        digits: 5,
        zones: 1,
    };
    let last = LastReading {
        value: 1000,
        date: today(&app) - Days::days(10),
    };
    let rules = ReadingRules {
        max_daily_kwh: MAX_DAILY,
    };
    for (value, rule) in [
        ("900", Some("below_previous")),
        ("9000", Some("above_daily_maximum")),
        ("123456", Some("too_many_digits")),
        ("12a4", Some("digits_only")),
        ("", Some("required")),
        ("1500", None),
    ] {
        let pure = check_reading(spec, 1, last, value, today(&app), rules);
        assert_eq!(pure.as_ref().err().map(|e| e.rule()), rule, "{value}");
        let (code, body) = post(addr, Some(TOKEN), &one(json!(value))).await;
        match rule {
            Some(rule) => {
                assert_eq!(code, 422, "{value}: {body}");
                assert_eq!(body["rule"], rule, "{value}: {body}");
                assert_eq!(body["field"], "zones[0].value", "{value}: {body}");
            }
            None => assert_eq!(code, 201, "{value}: {body}"),
        }
    }
    // same day again (a number this time): replaces the pending 1500, history kept
    let (code, body) = post(addr, Some(TOKEN), &one(json!(1200))).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["zones"][0]["consumption"], 200);
    let r = readings(&env).await;
    let got: Vec<(i64, &str, &str)> = r
        .iter()
        .map(|r| (r.2, r.3.as_str(), r.4.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(1500, "replaced", "web"), (1200, "pending", "web")]
    );

    // two zones: both required, each checked; roll-over accepted from a messenger
    let two = |day: &str, night: Option<&str>| {
        let mut zones = vec![json!({"zone": 1, "value": day})];
        if let Some(n) = night {
            zones.push(json!({"zone": 2, "value": n}));
        }
        json!({"account": "200002", "meter": "M-2", "zones": zones, "source": "messenger"})
    };
    let (code, body) = post(addr, Some(TOKEN), &two("5100", None)).await;
    assert_eq!(
        (code, body["rule"].as_str()),
        (422, Some("one_value_per_zone")),
        "{body}"
    );
    let (code, body) = post(addr, Some(TOKEN), &two("5100", Some("2999"))).await;
    assert_eq!(
        (code, body["field"].as_str()),
        (422, Some("zones[1].value")),
        "{body}"
    );
    assert_eq!(
        post(addr, Some(TOKEN), &two("5100", Some("3050"))).await.0,
        201
    );
    let roll = json!({"account": "300003", "zones": [{"zone": 1, "value": "00100"}], "source": "messenger"});
    let (code, body) = post(addr, Some(TOKEN), &roll).await;
    assert_eq!(
        (code, &body["zones"][0]["rolled_over"]),
        (201, &json!(true)),
        "{body}"
    );

    // a bad source, bad JSON
    let bad = json!({"account": "100001", "zones": [], "source": "fax"});
    let (code, body) = post(addr, Some(TOKEN), &bad).await;
    assert_eq!((code, body["field"].as_str()), (422, Some("source")));
    let (code, body) = post(addr, Some(TOKEN), &json!({"zones": 1})).await;
    assert_eq!((code, body["field"].as_str()), (422, Some("body")));
    app.shutdown(std::time::Duration::from_secs(1)).await;
}
