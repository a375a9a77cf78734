//! The error of the JSON API's handlers: the status and a message the client sees, as
//! `{"error": "..."}`; storage trouble is logged with its detail and only said to be
//! unavailable. Shared by the ACD's and the operator campaigns' routes.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::service::acd::types::AcdError;
use crate::service::opcamp::operator::OpError;
use crate::store::StoreError;

/// An API error: the status and the message the client sees.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn invalid(m: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, m.into())
    }

    pub(crate) fn not_found(what: impl std::fmt::Display) -> Self {
        Self(StatusCode::NOT_FOUND, format!("no such {what}"))
    }

    /// Storage trouble: logged with its detail, the client only learns it is unavailable.
    pub(crate) fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!("API: {detail}");
        Self(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable".into(),
        )
    }

    pub(crate) fn context(self, prefix: &str) -> Self {
        Self(self.0, format!("{prefix}: {}", self.1))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<AcdError> for ApiError {
    fn from(e: AcdError) -> Self {
        match e {
            AcdError::Invalid(m) => Self(StatusCode::BAD_REQUEST, m),
            AcdError::NotFound(what) => Self::not_found(what),
            AcdError::Conflict(m) => Self(StatusCode::CONFLICT, m),
            AcdError::Store(detail) => Self::unavailable(detail),
            AcdError::Switch(m) => Self(StatusCode::BAD_GATEWAY, format!("switch: {m}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            other => Self::unavailable(other),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::unavailable(e)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::unavailable(crate::store::postgres::pg_detail(&e))
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(m) => Self::invalid(m),
            OpError::NotFound(what) => Self::not_found(what),
            OpError::Conflict(m) => Self(StatusCode::CONFLICT, m),
            OpError::Store(detail) => Self::unavailable(detail),
        }
    }
}

/// A JSON body, or 400 naming what is wrong with it.
pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acd_errors_map_to_statuses() {
        let st = |e: AcdError| ApiError::from(e).0;
        assert_eq!(st(AcdError::Invalid("x".into())), StatusCode::BAD_REQUEST);
        assert_eq!(
            st(AcdError::NotFound("operator x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(st(AcdError::Conflict("busy".into())), StatusCode::CONFLICT);
        assert_eq!(st(AcdError::Switch("down".into())), StatusCode::BAD_GATEWAY);
        let e = ApiError::from(AcdError::Store("password=hunter2 refused".into()));
        assert_eq!(e.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.1.contains("hunter2"), "{}", e.1);
        assert_eq!(
            ApiError::from(AcdError::NotFound("operator bob".into())).1,
            "no such operator bob"
        );
        let e = ApiError::from(StoreError::NotFound("group metre".into()));
        assert_eq!(
            (e.0, e.1.as_str()),
            (StatusCode::NOT_FOUND, "no such group metre")
        );
    }

    #[tokio::test]
    async fn errors_are_json_objects() {
        let r = ApiError::invalid("mode \"x\": \"blind\" or \"attended\"").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v, json!({"error": "mode \"x\": \"blind\" or \"attended\""}));
    }
}
