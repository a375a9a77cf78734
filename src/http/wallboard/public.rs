//! `GET /api/v1/public/wait?queue=NAME`: the current estimated wait and callers waiting, for
//! the company's web site. No token; rate-limited per client address (429 with
//! Retry-After), cacheable for a few seconds (Cache-Control, ETag, 304), and computed at most
//! once per queue in that time however many ask. The wait is the one callers hear
//! (`Acd::estimated_wait` for the next caller in line).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::Digest;
use tokio::time::Instant;

use super::super::HttpState;

/// How long an answer may be reused, by browsers and proxies and by contactd itself.
const FRESH: Duration = Duration::from_secs(5);

/// An answer: its JSON body and ETag.
type Answer = Arc<(String, String)>;

/// Answers by queue, with when each was made.
#[derive(Default)]
pub(super) struct Cache(Mutex<HashMap<String, (Instant, Answer)>>);

fn error(code: StatusCode, msg: String) -> Response {
    (code, Json(json!({ "error": msg }))).into_response()
}

pub(super) async fn wait(State(shared): State<Arc<HttpState>>, req: Request) -> Response {
    // Without connect info (a router served without it) everyone shares one bucket.
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let now = shared.acd.clock().instant();
    let limited = shared
        .wallboard
        .limiter
        .lock()
        .expect("limiter")
        .check(ip, now);
    if let Err(after) = limited {
        let mut r = error(StatusCode::TOO_MANY_REQUESTS, "too many requests".into());
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url_pairs(q)
                .into_iter()
                .collect::<HashMap<String, String>>()
        })
        .unwrap_or_default();
    let Some(queue) = query.get("queue").filter(|q| !q.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "queue: required".into());
    };
    if !shared.config.acd.queue.contains_key(queue) {
        let shown: String = queue.chars().take(64).collect();
        return error(StatusCode::NOT_FOUND, format!("no queue named {shown:?}"));
    }
    let answer = match answer(&shared, queue, now).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(queue, "public wait: {e}");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the live state cannot be read now".into(),
            );
        }
    };
    let (body, etag) = (&answer.0, &answer.1);
    let headers = [
        (
            header::CACHE_CONTROL,
            format!("public, max-age={}", FRESH.as_secs()),
        ),
        (header::ETAG, etag.clone()),
        // Public figures, no credentials: any site may show them.
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()),
    ];
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response()
}

async fn answer(
    shared: &HttpState,
    queue: &str,
    now: Instant,
) -> Result<Answer, crate::store::StoreError> {
    let cache = &shared.wallboard.cache;
    if let Some((at, a)) = cache.0.lock().expect("cache").get(queue) {
        if now.saturating_duration_since(*at) < FRESH {
            return Ok(a.clone());
        }
    }
    let waiting = shared.acd.store().queue_len(queue).await?;
    // What the next caller in line would hear.
    let wait = shared.acd.estimated_wait(queue, waiting + 1).await;
    let body = json!({
        "queue": queue,
        "callers_waiting": waiting,
        "estimated_wait_seconds": wait.as_secs(),
    })
    .to_string();
    let hash = sha2::Sha256::digest(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        hash[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let a = Arc::new((body, etag));
    cache
        .0
        .lock()
        .expect("cache")
        .insert(queue.to_string(), (now, a.clone()));
    Ok(a)
}

/// `a=b&c=d` with `+` and `%XX` decoded.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (!k.is_empty()).then(|| (decode(k), decode(v)))
        })
        .collect()
}
