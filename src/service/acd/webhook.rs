//! The optional screen-pop webhook (`acd.webhook_url`): every card pushed to an operator is
//! also POSTed as JSON to a CRM or helpdesk. Delivery never holds up the ACD: each pop is
//! posted by its own task (3 s per attempt, two retries with backoff), at most
//! [`MAX_IN_FLIGHT`] at once — beyond that a pop is dropped with a warning rather than
//! piling up tasks while the receiver is down.
//!
//! A failure is logged with the call, the operator and the receiver's `host:port` only: the
//! URL's user, path or query may carry a token, and the card carries a customer's data.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tracing::warn;

use super::types::ScreenPop;

/// One attempt, connecting included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pauses before the second and the third attempt.
pub const BACKOFF: [Duration; 2] = [Duration::from_millis(500), Duration::from_secs(2)];
/// Pops being delivered at once; more are dropped (and logged) until some finish.
pub const MAX_IN_FLIGHT: usize = 64;

/// The webhook's client; cheap to clone.
#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    /// `host:port`, the only part of the URL that is ever logged.
    target: String,
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Why an attempt failed, in words that carry no part of the URL.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    // The sources (hyper, io) name the cause ("Connection refused"), never the URL, which
    // only reqwest's own Display adds.
    let mut cause = e.source();
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) if !e.is_timeout() => format!("{what}: {c}"),
        _ => what,
    }
}

impl Webhook {
    /// `None` when `url` is empty (no webhook) or not a plain `http://` URL with a host
    /// (configuration validation refuses those; logged here too, without the URL).
    pub fn new(url: &str) -> Option<Self> {
        let url = url.trim();
        if url.is_empty() {
            return None;
        }
        let url = match reqwest::Url::parse(url) {
            Ok(u) if u.scheme() == "http" && u.host_str().is_some() => u,
            _ => {
                warn!("acd.webhook_url is not an http:// URL: screen pops are not posted");
                return None;
            }
        };
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(80)
        );
        // Straight to the configured receiver: no proxy from the environment, no redirects
        // (a redirect could carry the card elsewhere).
        let client = match reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                warn!(target = %target, "screen-pop webhook disabled: {}", describe(&e));
                return None;
            }
        };
        Some(Self {
            client,
            url,
            target,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Posts `pop` in the background and returns at once. Must be called inside the Tokio
    /// runtime.
    pub fn send(&self, pop: Arc<ScreenPop>) {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            warn!(
                call = %pop.call,
                operator = %pop.operator,
                target = %self.target,
                "screen-pop webhook: {MAX_IN_FLIGHT} posts already pending, this one is dropped"
            );
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(reason) = this.deliver(&pop).await {
                warn!(
                    call = %pop.call,
                    operator = %pop.operator,
                    target = %this.target,
                    "screen-pop webhook failed after {} attempts: {reason}",
                    BACKOFF.len() + 1
                );
            }
        });
    }

    /// Every attempt until one gets a 2xx; the last failure otherwise. A 4xx other than 408
    /// or 429 is not retried: the same body would be refused again.
    async fn deliver(&self, pop: &ScreenPop) -> Result<(), String> {
        let body = bytes::Bytes::from(serde_json::to_vec(pop).map_err(|e| e.to_string())?);
        let mut last = String::new();
        for attempt in 0..=BACKOFF.len() {
            if let Some(pause) = attempt.checked_sub(1).map(|i| BACKOFF[i]) {
                tokio::time::sleep(pause).await;
            }
            let sent = self
                .client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    last = format!("HTTP {}", status.as_u16());
                    if status.is_client_error() && !matches!(status.as_u16(), 408 | 429) {
                        break;
                    }
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::Clock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::{Json, Router};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;
    use crate::service::acd::types::CustomerCard;

    fn pop() -> Arc<ScreenPop> {
        Arc::new(ScreenPop {
            call: "0b7e2f6c-5a43-4f0e-9a43-6b1f1d2c3e4f".into(),
            operator: "alice".into(),
            queue: "meter".into(),
            caller: Some("+79161234567".into()),
            entered_at: "2025-01-10T09:00:00+00:00".into(),
            offered_at: "2025-01-10T09:00:12+00:00".into(),
            waited_s: 12.5,
            ivr: [("contactd_step".to_string(), "meter_menu".to_string())].into(),
            customer: Some(CustomerCard {
                account: "1234567".into(),
                holder: "Ivanov I.I.".into(),
                balance_minor: -12_345,
                currency: "RUB".into(),
                ..CustomerCard::default()
            }),
            campaign: None,
        })
    }

    async fn serve(app: Router) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    #[test]
    fn no_url_no_webhook() {
        assert!(Webhook::new("").is_none());
        assert!(Webhook::new("  ").is_none());
        assert!(Webhook::new("https://crm.example/pop").is_none());
        assert!(Webhook::new("not a url").is_none());
    }

    #[test]
    fn debug_shows_host_and_port_only() {
        let w = Webhook::new("http://user:pw-secret@crm.local/pop?token=tok-secret").unwrap();
        let shown = format!("{w:?}");
        assert!(shown.contains("crm.local:80"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[tokio::test]
    async fn the_card_arrives_as_json() {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Option<String>, serde_json::Value)>();
        let app = Router::new().route(
            "/pop",
            post(
                move |headers: axum::http::HeaderMap, Json(v): Json<serde_json::Value>| {
                    let tx = tx.clone();
                    async move {
                        let ct = headers
                            .get("content-type")
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_string);
                        let _ = tx.send((ct, v));
                        StatusCode::NO_CONTENT
                    }
                },
            ),
        );
        let addr = serve(app).await;
        let hook = Webhook::new(&format!("http://{addr}/pop?token=t")).unwrap();
        let p = pop();
        hook.send(p.clone());
        let (ct, got) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("the webhook posts within 5 s")
            .unwrap();
        assert_eq!(ct.as_deref(), Some("application/json"));
        assert_eq!(got, serde_json::to_value(&*p).unwrap());
        assert_eq!(got["customer"]["balance_minor"], -12_345);
    }

    #[tokio::test]
    async fn a_server_error_is_retried() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/pop",
            post(move || {
                let n = h.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let addr = serve(app).await;
        let hook = Webhook::new(&format!("http://{addr}/pop")).unwrap();
        assert_eq!(hook.deliver(&pop()).await, Ok(()));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = Router::new().route(
            "/pop",
            post(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::FORBIDDEN }
            }),
        );
        let addr = serve(app).await;
        let hook = Webhook::new(&format!("http://{addr}/pop")).unwrap();
        assert_eq!(hook.deliver(&pop()).await, Err("HTTP 403".to_string()));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_dead_receiver_does_not_block_and_leaks_nothing() {
        // A port nobody listens on: connections are refused.
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let hook = Webhook::new(&format!(
            "http://user:pw-secret@{addr}/pop?token=tok-secret"
        ))
        .unwrap();
        let clock = Clock::system();
        let t = clock.instant();
        for _ in 0..(MAX_IN_FLIGHT + 10) {
            hook.send(pop());
        }
        assert!(
            clock.since(t) < Duration::from_millis(200),
            "{:?}",
            clock.since(t)
        );
        // The failure it would log: the cause, no part of the URL beyond what `target` shows.
        let err = hook.deliver(&pop()).await.unwrap_err();
        assert!(err.starts_with("cannot connect"), "{err}");
        assert!(!err.contains("secret") && !err.contains("/pop"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_receiver_times_out_in_the_background() {
        // Accepts connections and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = silent.accept().await {
                conns.push(c);
            }
        });
        let hook = Webhook::new(&format!("http://{addr}/pop")).unwrap();
        let clock = Clock::system();
        let t = clock.instant();
        hook.send(pop());
        assert!(
            clock.since(t) < Duration::from_millis(50),
            "{:?}",
            clock.since(t)
        );
        let one = Webhook {
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(300))
                .no_proxy()
                .build()
                .unwrap(),
            ..hook.clone()
        };
        let err = one.deliver(&pop()).await.unwrap_err();
        assert!(err.starts_with("no answer within"), "{err}");
        held.abort();
    }
}
