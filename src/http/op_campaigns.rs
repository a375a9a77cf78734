//! Operator campaigns over HTTP, for the operator's screen (their own token, or the API
//! token): the disposition of the campaign call they just had, and preview dialing (the
//! next contact, then its call).
//!
//! - `POST /api/v1/operators/{login}/disposition` `{"call", "code", "callback_at"?,
//!   "callback_number"?}` → `{"call", "code", "callback"?}`; 400 an unknown code or a bad
//!   callback, 404 no such call of theirs waiting for a disposition.
//! - `GET /api/v1/operators/{login}/preview?campaign=ID` → the contact (204: none due).
//! - `POST /api/v1/operators/{login}/preview/dial` `{"campaign"}` → 202, the call is placed.
//! - `GET /api/v1/operators/{login}/callbacks` → `{"callbacks": [...]}`: the callbacks they
//!   scheduled (latest due first, at most 200) with state, calls not connected and last outcome.
//!
//! Errors are `{"error": "..."}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::api_error::ApiError;
use super::HttpState;
use crate::service::opcamp::operator::Disposition;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/api/v1/operators/{login}/disposition", post(disposition))
        .route("/api/v1/operators/{login}/preview", get(preview))
        .route("/api/v1/operators/{login}/preview/dial", post(dial))
        .route("/api/v1/operators/{login}/callbacks", get(callbacks))
}

/// A login as the operators' routes take it (`crate::core::acd::names` rules).
fn login_of(login: &str) -> Result<String, ApiError> {
    crate::core::acd::names::check_name("login", login).map_err(ApiError::invalid)?;
    Ok(login.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    call: String,
    code: String,
    #[serde(default)]
    callback_at: Option<String>,
    #[serde(default)]
    callback_number: Option<String>,
}

async fn disposition(
    State(shared): State<Arc<HttpState>>,
    Path(login): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let login = login_of(&login)?;
    let b: DispositionBody =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("body: {e}")))?;
    let call = Uuid::parse_str(&b.call)
        .map_err(|_| ApiError::invalid(format!("call {:?}: not a UUID", b.call)))?;
    let callback_at = match &b.callback_at {
        None => None,
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "callback_at {t:?}: RFC 3339, e.g. 2026-12-02T15:00:00+03:00"
                    ))
                })?
                .with_timezone(&Utc),
        ),
    };
    let id = shared
        .opcamp
        .set_disposition(
            &login,
            Disposition {
                call,
                code: b.code.clone(),
                callback_at,
                callback_number: b.callback_number,
            },
        )
        .await?;
    Ok(Json(json!({"call": call, "code": b.code, "callback": id})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    campaign: i64,
}

async fn preview(
    State(shared): State<Arc<HttpState>>,
    Path(login): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<Response, ApiError> {
    let login = login_of(&login)?;
    match shared.opcamp.preview_next(&login, q.campaign).await? {
        Some(card) => Ok(Json(json!({"campaign": q.campaign, "contact": card})).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialBody {
    campaign: i64,
}

async fn dial(
    State(shared): State<Arc<HttpState>>,
    Path(login): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let login = login_of(&login)?;
    let b: DialBody =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("body: {e}")))?;
    let contact = shared.opcamp.preview_dial(&login, b.campaign).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"campaign": b.campaign, "contact": contact})),
    )
        .into_response())
}

/// Most callbacks one request lists.
const CALLBACKS_LIMIT: i64 = 200;

async fn callbacks(
    State(shared): State<Arc<HttpState>>,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let login = login_of(&login)?;
    let list = shared
        .opcamp
        .callbacks_of(&login, CALLBACKS_LIMIT)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({"operator": login, "callbacks": list})).into_response())
}
