//! A local SMSC behind an HTTP gateway, for tests and the demo: `POST /send` with JSON
//! `{"to", "text", "client_ref", "sender"?}` and a bearer token, answered `200 {"id"}`.
//! It records every request it accepted, in order, and dedupes nothing — a message sent
//! twice is there twice — and can be told to fail the next N requests with a status (500:
//! the gateway is down; 400: refused). Shares no code with contactd's SMS adapter.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// One SMS the SMSC took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub to: String,
    pub text: String,
    pub client_ref: String,
    pub sender: Option<String>,
    /// The id it answered with.
    pub id: String,
}

#[derive(Default)]
struct Book {
    received: Vec<Sms>,
    /// Requests of any outcome, failed ones included.
    requests: usize,
    fail: Option<(u32, u16)>,
}

struct Shared {
    token: String,
    state: Mutex<Book>,
}

/// The running SMSC; stops when dropped.
pub struct Smsc {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Smsc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Book> {
    s.state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Smsc {
    /// Listens on 127.0.0.1 (a free port); requests must carry `Bearer token`.
    pub async fn start(token: &str) -> std::io::Result<Smsc> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            token: token.to_string(),
            state: Mutex::default(),
        });
        let app = Router::new()
            .route("/send", post(receive))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Smsc { addr, shared, task })
    }

    /// The gateway URL to configure (`[sms] url`).
    pub fn url(&self) -> String {
        format!("http://{}/send", self.addr)
    }

    /// The SMS accepted so far, in arrival order.
    pub fn received(&self) -> Vec<Sms> {
        lock(&self.shared).received.clone()
    }

    /// Requests seen, accepted or not.
    pub fn requests(&self) -> usize {
        lock(&self.shared).requests
    }

    /// The next `n` requests are answered with `status` (and not recorded as received).
    pub fn fail_next(&self, n: u32, status: u16) {
        lock(&self.shared).fail = Some((n, status));
    }
}

async fn receive(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = lock(&s);
    st.requests += 1;
    if let Some((n, status)) = st.fail {
        st.fail = (n > 1).then(|| (n - 1, status));
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (code, Json(json!({"error": "told to fail"}))).into_response();
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {}", s.token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad token"})),
        )
            .into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "not JSON"}))).into_response();
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(to), Some(text), Some(client_ref)) =
        (field("to"), field("text"), field("client_ref"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "to, text and client_ref are required"})),
        )
            .into_response();
    };
    let id = format!("smsc-{}", st.received.len() + 1);
    st.received.push(Sms {
        to,
        text,
        client_ref,
        sender: field("sender"),
        id: id.clone(),
    });
    (StatusCode::OK, Json(json!({"id": id}))).into_response()
}
