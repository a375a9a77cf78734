//! `/api/v1/operators/*` and `/api/v1/acd/*`: operators, their skills and states, their
//! screen pops as Server-Sent Events, the queues, ACD call records, transfers and callbacks.
//! Behind the API's bearer token (checked by its middleware, 401). Inputs are checked by the
//! same functions as `contactd operators` ([`crate::core::acd::names::check_new_operator`],
//! [`crate::core::acd::names::check_name`]); the decisions are the ACD's ([`crate::service::acd::Acd`]).
//!
//! Errors are `{"error": "..."}` naming what was wrong: 400 invalid, 404 not found,
//! 409 conflict, 502 the switch refused, 503 storage unavailable (details only in the log).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::routing::{get, post, put};
use axum::Router;
use uuid::Uuid;

use super::api_error::{ApiError, ApiResult};
use super::HttpState;
use crate::core::acd::names::check_name;

mod calls;
mod operators;

use calls::{call, callbacks, queues, transfer};
use operators::{
    change_state, create_group, create_operator, day, events, list_groups, list_operators,
    set_skills,
};

/// SSE comments this often keep proxies and browsers from closing an idle stream.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most callbacks one request lists.
pub(super) const MAX_CALLBACKS: i64 = 1000;

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new()
        .route(
            "/api/v1/operators",
            get(list_operators).post(create_operator),
        )
        .route(
            "/api/v1/operator-groups",
            get(list_groups).post(create_group),
        )
        .route("/api/v1/operators/{login}/skills", put(set_skills))
        .route("/api/v1/operators/{login}/state", post(change_state))
        .route("/api/v1/operators/{login}/day", get(day))
        .route("/api/v1/acd/queues", get(queues))
        .route("/api/v1/acd/calls/{uuid}", get(call))
        .route("/api/v1/acd/calls/{uuid}/transfer", post(transfer))
        .route("/api/v1/acd/callbacks", get(callbacks))
}

/// The screen-pop stream, behind its own check (the API token or the operator's token).
pub fn operator_stream_routes() -> Router<Arc<HttpState>> {
    Router::new().route("/api/v1/operators/{login}/events", get(events))
}

/// The `{login}` of a path, checked before it reaches a query.
pub(super) fn login_of(path: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(login) = path.map_err(|e| ApiError::invalid(format!("path: {e}")))?;
    check_name("login", &login).map_err(ApiError::invalid)?;
    Ok(login)
}

/// The `{uuid}` of a path: a call's channel UUID, in the switch's lower-case form.
pub(super) fn call_of(path: Result<Path<String>, PathRejection>) -> ApiResult<Uuid> {
    let Path(s) = path.map_err(|e| ApiError::invalid(format!("path: {e}")))?;
    Uuid::try_parse(&s).map_err(|_| ApiError::invalid(format!("call {s:?}: not a UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn call_ids_are_uuids() {
        let p = |s: &str| call_of(Ok(Path(s.to_string())));
        let u = p("0B7E2F6C-5A43-4F0E-9A43-6B1F1D2C3E4F").unwrap();
        assert_eq!(u.to_string(), "0b7e2f6c-5a43-4f0e-9a43-6b1f1d2c3e4f");
        for bad in [
            "",
            "42",
            "0b7e2f6c-5a43-4f0e-9a43-6b1f1d2c3e4",
            "x' OR '1'='1",
        ] {
            assert_eq!(p(bad).unwrap_err().0, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn logins_in_paths_are_checked() {
        let p = |s: &str| login_of(Ok(Path(s.to_string())));
        assert_eq!(p("alice.s"), Ok("alice.s".to_string()));
        for bad in ["", "Alice", "al ice", "../etc", &"a".repeat(65)] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.0, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.1.starts_with("login"), "{}", e.1);
        }
    }
}
