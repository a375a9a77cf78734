//! The small HTTP server: `/healthz` and `/metrics` for the sysadmin's monitoring, and
//! `/api/v1/*` behind a bearer token. Reads state, decides nothing.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::config::Config;
use crate::esl::control::SwitchLink;
use crate::service::acd::Acd;
use crate::store::redis::LiveState;
use auth::{require_operator_token, require_token};

pub mod acd;
mod api_error;
pub mod auth;
mod drivers;
pub mod kpi;
pub mod messages;
pub mod op_campaigns;
pub mod qa;
pub mod readings;
pub mod trunk_metrics;
pub mod wallboard;

/// What the handlers read: handed over by the composition root, owned here.
pub struct HttpState {
    pub config: Arc<Config>,
    pub links: Vec<SwitchLink>,
    pub pool: deadpool_postgres::Pool,
    pub live: LiveState,
    /// Calls on the outbound socket right now.
    pub outbound_live: Arc<std::sync::atomic::AtomicUsize>,
    /// Set on SIGTERM: `/healthz` reports draining.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub acd: Acd,
    /// E-mail and SMS during a call (`/api/v1/calls/{uuid}/messages`).
    pub messages: crate::service::messages::Messages,
    /// Operator campaigns: preview dialing, dispositions.
    pub opcamp: Arc<crate::service::opcamp::OpRunner>,
    /// The campaign leases this instance holds (notice and operator runners).
    pub drivers: Vec<crate::service::campaign_lease::Drivers>,
    /// The wallboard's hub and the public counter's limits.
    pub wallboard: wallboard::Wallboard,
}

pub fn router(shared: Arc<HttpState>) -> Router {
    let api = Router::new()
        .route("/api/v1/switches", get(switches))
        .merge(readings::routes())
        .merge(acd::routes())
        .merge(kpi::routes())
        .merge(qa::routes())
        .merge(messages::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ));
    // An operator's screen-pop stream also takes that operator's own token.
    let operator = acd::operator_stream_routes()
        .merge(op_campaigns::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_operator_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(api)
        .merge(operator)
        .merge(wallboard::routes())
        .with_state(shared)
}

fn switch_states(shared: &HttpState) -> serde_json::Value {
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

async fn healthz(State(shared): State<Arc<HttpState>>) -> Response {
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
        "campaigns": drivers::health(&shared.drivers),
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn switches(State(shared): State<Arc<HttpState>>) -> Json<serde_json::Value> {
    Json(switch_states(&shared))
}

async fn metrics(State(shared): State<Arc<HttpState>>) -> Response {
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
    drivers::metrics(&shared.drivers, &mut out);
    wallboard::metrics::write(&shared, &mut out).await;
    trunk_metrics::write(&shared, &mut out).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
