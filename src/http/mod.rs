//! The small HTTP server: `/healthz` and `/metrics` for the sysadmin's monitoring, and
//! `/api/v1/*` behind a bearer token. Reads state, decides nothing.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::Shared;

pub mod acd;
pub mod readings;

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/v1/switches", get(switches))
        .merge(readings::routes())
        .merge(acd::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    // An operator's screen-pop stream also takes that operator's own token.
    let operator = acd::operator_stream_routes().route_layer(middleware::from_fn_with_state(
        shared.clone(),
        require_operator_token,
    ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(operator)
        .with_state(shared)
}

/// Compares without an early exit so the token cannot be guessed byte by byte by timing.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn bearer(req: &Request) -> &str {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"error": "missing or wrong bearer token"})),
    )
        .into_response()
}

async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let expected = shared.config.http.token.expose().as_bytes();
    if token_matches(bearer(&req).as_bytes(), expected) {
        next.run(req).await
    } else {
        unauthorized()
    }
}

/// `/api/v1/operators/{login}/events`: the API token, or the token of that operator (so an
/// operator's desktop holds a token that opens their own stream and nothing else).
async fn require_operator_token(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let secret = shared.config.http.token.expose();
    let given = bearer(&req).as_bytes();
    let login = req
        .uri()
        .path()
        .strip_prefix("/api/v1/operators/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default();
    let own = operator_token(secret, login);
    let ok = !secret.is_empty()
        && (token_matches(given, secret.as_bytes()) || token_matches(given, own.as_bytes()));
    if ok {
        next.run(req).await
    } else {
        unauthorized()
    }
}

/// An operator's own token: HMAC-SHA256 of the login under the API token, hex. Nothing to
/// store; changing `http.token` revokes every operator's token at once.
pub fn operator_token(secret: &str, login: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any size");
    mac.update(b"contactd-operator:");
    mac.update(login.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn switch_states(shared: &Shared) -> serde_json::Value {
    shared
        .links
        .iter()
        .map(|l| {
            let status = l.status();
            let detail = match &status {
                crate::esl::control::LinkStatus::AuthFailed(m)
                | crate::esl::control::LinkStatus::Down(m) => m.clone(),
                _ => String::new(),
            };
            (
                l.name().to_string(),
                json!({
                    "state": status.label(),
                    "detail": detail,
                    "live_calls": l.counters().live_calls.load(Ordering::Relaxed),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let pg = shared.pool.get().await.is_ok();
    let redis = shared.live.ping().await.is_ok();
    let any_switch = shared
        .links
        .iter()
        .any(|l| l.status() == crate::esl::control::LinkStatus::Connected);
    let ok = pg && redis && any_switch;
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "postgres": pg,
        "redis": redis,
        "draining": shared.draining.load(Ordering::Relaxed),
        "switches": switch_states(&shared),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn switches(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(switch_states(&shared))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    gauge(
        &mut out,
        "contactd_esl_connected",
        "1 if the ESL control connection to the switch is up",
        "gauge",
    );
    for l in &shared.links {
        let up = u8::from(l.status() == crate::esl::control::LinkStatus::Connected);
        let _ = writeln!(
            out,
            "contactd_esl_connected{{switch=\"{}\"}} {up}",
            l.name()
        );
    }
    gauge(
        &mut out,
        "contactd_esl_events_total",
        "ESL events read from the switch",
        "counter",
    );
    for l in &shared.links {
        let n = l.counters().events.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "contactd_esl_events_total{{switch=\"{}\"}} {n}",
            l.name()
        );
    }
    gauge(
        &mut out,
        "contactd_esl_connects_total",
        "successful ESL connections (first connect and reconnects)",
        "counter",
    );
    for l in &shared.links {
        let n = l.counters().connects.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "contactd_esl_connects_total{{switch=\"{}\"}} {n}",
            l.name()
        );
    }
    gauge(
        &mut out,
        "contactd_esl_auth_failures_total",
        "ESL password rejections",
        "counter",
    );
    for l in &shared.links {
        let n = l.counters().auth_failures.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "contactd_esl_auth_failures_total{{switch=\"{}\"}} {n}",
            l.name()
        );
    }
    gauge(
        &mut out,
        "contactd_calls_live",
        "live channels on the switch, as resynced and tracked by contactd",
        "gauge",
    );
    for l in &shared.links {
        let n = l.counters().live_calls.load(Ordering::Relaxed);
        let _ = writeln!(out, "contactd_calls_live{{switch=\"{}\"}} {n}", l.name());
    }
    gauge(
        &mut out,
        "contactd_outbound_sessions",
        "calls currently handled on the outbound socket",
        "gauge",
    );
    let _ = writeln!(
        out,
        "contactd_outbound_sessions {}",
        shared.outbound_live.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison() {
        assert!(super::token_matches(b"abc", b"abc"));
        assert!(!super::token_matches(b"abd", b"abc"));
        assert!(!super::token_matches(b"ab", b"abc"));
        assert!(!super::token_matches(b"", b"abc"));
    }
}
