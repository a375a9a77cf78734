//! The ACD's call routes: the queues now, one call's record, a transfer, the callbacks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::super::api_error::{body, ApiError, ApiResult};
use super::super::HttpState;
use super::{call_of, MAX_CALLBACKS};
use crate::core::acd::outcome::CallbackState;
use crate::service::acd::types::TransferMode;

pub(super) async fn queues(State(shared): State<Arc<HttpState>>) -> ApiResult {
    Ok(Json(shared.acd.queues().await?).into_response())
}

/// One `acd_calls` row, the operator by login.
#[derive(Debug, Serialize)]
pub(super) struct AcdCallRecord {
    call: Uuid,
    node: String,
    queue: String,
    caller: Option<String>,
    account: Option<String>,
    entered_at: DateTime<Utc>,
    offers: i32,
    answered_at: Option<DateTime<Utc>>,
    operator: Option<String>,
    waited_s: Option<f64>,
    talk_s: Option<f64>,
    wrap_up_s: Option<f64>,
    abandoned_after_s: Option<f64>,
    transferred_to: Option<String>,
    recording: Option<String>,
    ended_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
}

pub(super) async fn call(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let uuid = call_of(path)?;
    let row = shared
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT c.call_uuid, c.node, c.queue, c.caller, c.account, c.entered_at, c.offers,
                    c.answered_at, o.login, c.waited_s, c.talk_s, c.wrap_up_s,
                    c.abandoned_after_s, c.transferred_to, c.recording, c.ended_at, c.outcome
             FROM acd_calls c LEFT JOIN operators o ON o.id = c.operator
             WHERE c.call_uuid = $1",
            &[&uuid],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("call {uuid}")))?;
    Ok(Json(AcdCallRecord {
        call: row.get(0),
        node: row.get(1),
        queue: row.get(2),
        caller: row.get(3),
        account: row.get(4),
        entered_at: row.get(5),
        offers: row.get(6),
        answered_at: row.get(7),
        operator: row.get(8),
        waited_s: row.get(9),
        talk_s: row.get(10),
        wrap_up_s: row.get(11),
        abandoned_after_s: row.get(12),
        transferred_to: row.get(13),
        recording: row.get(14),
        ended_at: row.get(15),
        outcome: row.get(16),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferRequest {
    to: String,
    mode: String,
}

fn transfer_mode(s: &str) -> ApiResult<TransferMode> {
    match s {
        "blind" => Ok(TransferMode::Blind),
        "attended" => Ok(TransferMode::Attended),
        other => Err(ApiError::invalid(format!(
            "mode {other:?}: \"blind\" or \"attended\""
        ))),
    }
}

pub(super) async fn transfer(
    State(shared): State<Arc<HttpState>>,
    path: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let uuid = call_of(path)?;
    let req: TransferRequest = body(&bytes)?;
    if !crate::config::is_queue_name(&req.to) {
        return Err(ApiError::invalid(format!(
            "to {:?}: a queue name, 1-32 of a-z 0-9 _",
            req.to
        )));
    }
    let mode = transfer_mode(&req.mode)?;
    let call = uuid.to_string();
    shared.acd.transfer(&call, &req.to, mode).await?;
    Ok(Json(json!({"call": call, "to": req.to, "mode": req.mode})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallbacksQuery {
    #[serde(default)]
    state: Option<String>,
}

fn callback_state(s: Option<&str>) -> ApiResult<Option<&str>> {
    match s {
        None => Ok(None),
        Some(s) if CallbackState::parse(s).is_some() => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(format!(
            "state {other:?}: pending, dialing, done or failed"
        ))),
    }
}

#[derive(Debug, Serialize)]
pub(super) struct CallbackRecord {
    id: i64,
    queue: String,
    number: String,
    call: Option<Uuid>,
    requested_at: DateTime<Utc>,
    state: String,
    attempts: i32,
    last_attempt: Option<DateTime<Utc>>,
    operator: Option<String>,
    result: Option<String>,
}

/// Callbacks, oldest request first (at most [`MAX_CALLBACKS`]), optionally of one state.
pub(super) async fn callbacks(
    State(shared): State<Arc<HttpState>>,
    query: Result<Query<CallbacksQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let state = callback_state(q.state.as_deref())?;
    const COLUMNS: &str = "SELECT b.id, b.queue, b.number, b.call_uuid, b.requested_at, b.state,
            b.attempts, b.last_attempt, o.login, b.result
         FROM acd_callbacks b LEFT JOIN operators o ON o.id = b.operator";
    let db = shared.pool.get().await?;
    let rows = match state {
        Some(s) => {
            let sql =
                format!("{COLUMNS} WHERE b.state = $1 ORDER BY b.requested_at, b.id LIMIT $2");
            db.query(&sql, &[&s, &MAX_CALLBACKS]).await?
        }
        None => {
            let sql = format!("{COLUMNS} ORDER BY b.requested_at, b.id LIMIT $1");
            db.query(&sql, &[&MAX_CALLBACKS]).await?
        }
    };
    let list: Vec<CallbackRecord> = rows
        .iter()
        .map(|r| CallbackRecord {
            id: r.get(0),
            queue: r.get(1),
            number: r.get(2),
            call: r.get(3),
            requested_at: r.get(4),
            state: r.get(5),
            attempts: r.get(6),
            last_attempt: r.get(7),
            operator: r.get(8),
            result: r.get(9),
        })
        .collect();
    Ok(Json(list).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_modes_and_callback_states() {
        assert_eq!(transfer_mode("blind"), Ok(TransferMode::Blind));
        assert_eq!(transfer_mode("attended"), Ok(TransferMode::Attended));
        assert!(transfer_mode("Blind").is_err());
        assert!(transfer_mode("").is_err());
        assert_eq!(callback_state(None), Ok(None));
        for s in ["pending", "dialing", "done", "failed"] {
            assert_eq!(callback_state(Some(s)), Ok(Some(s)));
        }
        assert!(callback_state(Some("PENDING")).is_err());
    }
}
