//! `/api/v1/qa`: the calls sampled for review on a day (sampled on the request by the
//! `[qa]` rules; idempotent) and a reviewer's score. Behind the API token (`http::mod`).
//!
//! `GET /api/v1/qa?date=YYYY-MM-DD[&queue=Q][&operator=LOGIN]` → 200 `{"date", "time_zone",
//! "samples": [...]}`, 400 `{"error"}` for a bad query. `POST /api/v1/qa/{call}` with
//! `{"score": 0-100, "comment": "...", "reviewer": "..."}` → 201, 400 for a path that is not
//! a uuid, 404 for a call not sampled, 422 `{"error", "field", "rule"}` for a body refused
//! (the field named: unknown fields, wrong types and values alike); 503 when the database
//! is away (detail only in the log).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::HttpState;
use crate::core::acd::names::check_name;
use crate::core::qa::check_review;
use crate::mail::report::report_locale;
use crate::store::qa::QaStore;
use crate::store::StoreError;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/api/v1/qa", get(list))
        .route("/api/v1/qa/{call}", post(review))
}

fn error(code: StatusCode, msg: impl std::fmt::Display) -> Response {
    (code, Json(json!({"error": msg.to_string()}))).into_response()
}

/// A body refused: the field, the rule, the message (the 422 answer).
struct Refused(String, &'static str, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": self.2, "field": self.0, "rule": self.1})),
        )
            .into_response()
    }
}

fn refuse(field: &str, rule: &'static str, msg: impl std::fmt::Display) -> Refused {
    Refused(field.to_string(), rule, msg.to_string())
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NotFound(what) => error(StatusCode::NOT_FOUND, format!("no such {what}")),
        other => {
            tracing::warn!("QA API: {other}");
            error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
    }
}

fn store(shared: &HttpState) -> QaStore {
    let zone = report_locale(&shared.config.mail).map_or(chrono_tz::UTC, |l| l.time_zone);
    QaStore::new(shared.pool.clone(), zone)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    date: String,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    operator: Option<String>,
}

async fn list(
    State(shared): State<Arc<HttpState>>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("query: {e}")),
    };
    let Ok(date) = NaiveDate::parse_from_str(&q.date, "%Y-%m-%d") else {
        return error(StatusCode::BAD_REQUEST, "date: must be YYYY-MM-DD");
    };
    if let Some(queue) = &q.queue {
        if !shared.config.acd.queue.contains_key(queue) {
            return error(StatusCode::BAD_REQUEST, "queue: no such queue");
        }
    }
    if let Some(login) = &q.operator {
        if let Err(e) = check_name("operator", login) {
            return error(StatusCode::BAD_REQUEST, e);
        }
    }
    let qa = store(&shared);
    if let Err(e) = qa.select_day(&shared.config.qa.rules(), date).await {
        return store_error(e);
    }
    match qa
        .list(date, q.queue.as_deref(), q.operator.as_deref())
        .await
    {
        Ok(samples) => Json(json!({
            "date": date.to_string(),
            "time_zone": shared.config.mail.report_time_zone,
            "samples": samples,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

/// The body's fields, each refused by name: only `score` (a whole number), `comment` and
/// `reviewer` (strings).
fn parse_body(bytes: &[u8]) -> Result<(i64, String, String), Refused> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(refuse("body", "json", "body: must be a JSON object"));
    };
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "score" | "comment" | "reviewer"))
    {
        return Err(refuse(k, "unknown", format!("{k}: unknown field")));
    }
    let score = match body.get("score") {
        Some(Value::Number(n)) => n.as_i64().ok_or(()),
        _ => Err(()),
    }
    .map_err(|_| refuse("score", "range", "score: must be a whole number 0-100"))?;
    let text = |k: &str, required: bool| match body.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        None if !required => Ok(String::new()),
        _ => Err(refuse(k, "type", format!("{k}: must be a string"))),
    };
    Ok((score, text("comment", false)?, text("reviewer", true)?))
}

async fn review(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> Response {
    let call = match path.map(|Path(p)| Uuid::parse_str(&p)) {
        Ok(Ok(u)) => u,
        _ => return error(StatusCode::BAD_REQUEST, "call: must be a call uuid"),
    };
    let (score, comment, reviewer) = match parse_body(&bytes) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let r = match check_review(&reviewer, score, &comment) {
        Ok(r) => r,
        Err(e) => return refuse(e.field, "value", &e).into_response(),
    };
    let at = Utc::now();
    match store(&shared).review(call, &r, at).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({
                "call": call,
                "score": r.score,
                "comment": r.comment,
                "reviewer": r.reviewer,
                "reviewed_at": at,
            })),
        )
            .into_response(),
        Err(e) => store_error(e),
    }
}
