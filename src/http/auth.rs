//! Bearer tokens: the API token, and each operator's own token derived from it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::HttpState;

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

pub(super) async fn require_token(
    State(shared): State<Arc<HttpState>>,
    req: Request,
    next: Next,
) -> Response {
    let expected = shared.config.http.token.expose().as_bytes();
    if token_matches(bearer(&req).as_bytes(), expected) {
        next.run(req).await
    } else {
        unauthorized()
    }
}

/// `/api/v1/operators/{login}/events`: the API token, or the token of that operator (so an
/// operator's desktop holds a token that opens their own stream and nothing else).
pub(super) async fn require_operator_token(
    State(shared): State<Arc<HttpState>>,
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
