//! `/api/v1/calls/{uuid}/messages`: an operator sends a configured template by e-mail or
//! SMS about a call, and lists what was sent for it. Behind the API token (`http::mod`).
//!
//! `POST` `{"template": "NAME", "to": "..."?}` → 201 `{"message": {...}, "created": true}`
//! when queued now, 200 with `"created": false` when this template was already queued for
//! the call by an operator (a double click sends once); 400 `{"error"}` for a path that is
//! not a uuid, a body that is not that JSON, an unknown template or a recipient refused
//! (`to` is an E.164-able phone number for SMS — `core::numbers` — or an e-mail address
//! lettre accepts); 404 for a call contactd has no record of; 503 when the database is
//! away; 422 `{"error", "message"}` when the call has no value for a placeholder of the
//! template (`{balance}` of a caller without an account): the message is recorded `failed`
//! with that reason, not sent with a gap. Without `to`, an SMS goes to the call's number and an e-mail to the contact's
//! address from the list (400 if there is none).
//!
//! `GET` → 200 `{"messages": [...]}` with each message's state and every send attempt.
//!
//! `GET /api/v1/messages/templates` → 200 `{"templates": [{"name", "channel"}]}`: what an
//! operator's screen may offer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::HttpState;
use crate::service::messages::{MessageError, Queued, Recipient};
use crate::store::messages::{self as store, Of};

/// The trigger an operator's request writes: one message per call and template.
pub const OPERATOR: &str = "operator";

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/api/v1/calls/{uuid}/messages", get(list).post(send))
        .route("/api/v1/messages/templates", get(templates))
}

fn error(code: StatusCode, msg: impl std::fmt::Display) -> Response {
    (code, Json(json!({"error": msg.to_string()}))).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::warn!("messages API: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    template: String,
    #[serde(default)]
    to: Option<String>,
}

async fn send(
    State(shared): State<Arc<HttpState>>,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(uuid) = Uuid::parse_str(&uuid) else {
        return error(StatusCode::BAD_REQUEST, "the path's call id is not a uuid");
    };
    let req: SendRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body: {e} (expected {{\"template\": \"NAME\", \"to\": \"...\"}})"),
            )
        }
    };
    let to = match req.to {
        Some(t) => Recipient::To(t),
        None => Recipient::Default,
    };
    let queued = shared
        .messages
        .queue(&uuid.to_string(), &req.template, to, OPERATOR)
        .await;
    let Queued {
        id,
        created,
        refused,
    } = match queued {
        Ok(x) => x,
        Err(MessageError::UnknownCall(c)) => {
            return error(StatusCode::NOT_FOUND, format!("no call {c} is known"))
        }
        Err(e) if e.is_client_error() => return error(StatusCode::BAD_REQUEST, e),
        Err(e) => return unavailable(e),
    };
    match store::list(&shared.pool, Of::Id(id.0)).await {
        Ok(mut rows) if !rows.is_empty() => {
            let m = rows.remove(0);
            if let Some(why) = refused {
                // the call lacks a field the template needs: recorded with the call, refused here
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"error": why, "message": m, "created": true})),
                )
                    .into_response();
            }
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, Json(json!({"message": m, "created": created}))).into_response()
        }
        Ok(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "message vanished"),
        Err(e) => unavailable(e),
    }
}

async fn list(State(shared): State<Arc<HttpState>>, Path(uuid): Path<String>) -> Response {
    let Ok(uuid) = Uuid::parse_str(&uuid) else {
        return error(StatusCode::BAD_REQUEST, "the path's call id is not a uuid");
    };
    match store::list(&shared.pool, Of::Call(uuid)).await {
        Ok(rows) => Json(json!({"messages": rows})).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn templates(State(shared): State<Arc<HttpState>>) -> Response {
    let list: Vec<_> = shared
        .messages
        .templates()
        .into_iter()
        .map(|(name, channel)| json!({"name": name, "channel": channel}))
        .collect();
    Json(json!({"templates": list})).into_response()
}
