//! `GET /api/v1/kpi?from=…&to=…&by=30m&queue=…&operator=…`: the KPIs of `contactd kpi`
//! as JSON. `from`/`to` are local days (`to` included) or moments (`YYYY-MM-DDTHH:MM`, or
//! RFC 3339); default: today. 400 `{"error", "field"}` names a bad parameter.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use chrono_tz::Tz;
use serde_json::json;

use super::HttpState;
use crate::core::kpi::{parse_local, KpiQuery, Span};
use crate::store::kpi::KpiStore;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/api/v1/kpi", get(kpi))
}

fn bad(field: &str, error: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error.to_string(), "field": field})),
    )
        .into_response()
}

const KNOWN: [&str; 5] = ["from", "to", "by", "queue", "operator"];

async fn kpi(
    State(shared): State<Arc<HttpState>>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    if let Some(k) = p.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return bad(k, format!("unknown parameter {k:?}"));
    }
    let Ok(zone) = shared.config.mail.report_time_zone.parse::<Tz>() else {
        return bad("", "[mail] report_time_zone is not a time zone");
    };
    let today = Utc::now()
        .with_timezone(&zone)
        .format("%Y-%m-%d")
        .to_string();
    let from_s = p.get("from").cloned().unwrap_or_else(|| today.clone());
    let from = match parse_local(&from_s, zone, false, "from") {
        Ok(t) => t,
        Err(e) => return bad("from", e),
    };
    let to = match parse_local(p.get("to").unwrap_or(&from_s), zone, true, "to") {
        Ok(t) => t,
        Err(e) => return bad("to", e),
    };
    let by: Span = match p.get("by").map_or(Ok(Span::Minutes(30)), |b| b.parse()) {
        Ok(b) => b,
        Err(e) => return bad("by", e),
    };
    let q = KpiQuery {
        from,
        to,
        by,
        queue: p.get("queue").cloned(),
        operator: p.get("operator").cloned(),
    };
    if let Err(e) = q.check() {
        let field = ["queue", "operator"]
            .into_iter()
            .find(|f| e.starts_with(f))
            .unwrap_or(if e.starts_with("by") { "by" } else { "to" });
        return bad(field, e);
    }
    if let Some(queue) = &q.queue {
        if !shared.config.acd.queue.contains_key(queue) {
            return bad("queue", format!("{queue:?} is not a configured queue"));
        }
    }
    match KpiStore::new(shared.pool.clone(), zone)
        .report(&q, &shared.config.acd.service_level_targets())
        .await
    {
        Ok(r) => Json(json!({
            "from": q.from,
            "to": q.to,
            "by": q.by.label(),
            "time_zone": zone.name(),
            "queues": r.queues,
            "operators": r.operators,
            "qa": r.qa,
            "campaigns": r.campaigns,
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!("kpi: {e}");
            let code = if e.is_retryable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (code, Json(json!({"error": e.to_string()}))).into_response()
        }
    }
}
