//! The delivery loop: claims due messages one at a time, sends each through its provider
//! and records the result. Sleeps until the next message falls due or a new one is queued
//! (a wake here, a NOTIFY from another instance), at most [`LOOK_EVERY`].
//!
//! One send, in order: the claim (a committed transaction: state `sending`, `tries + 1`,
//! an attempt row `sending`, a lease), the provider's answer, then `sent` (or the failure)
//! in one transaction. A crash before the provider answered, or between its acceptance and
//! that commit, leaves the row `sending`; once the lease ran out it is claimed again (the
//! open attempt marked `interrupted`) and sent again with the same reference.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::providers::Providers;
use super::Messages;
use crate::core::messages::{after_failure, AfterFailure};
use crate::store::messages as store;
use crate::store::StoreError;

/// The sender looks at the table at least this often (a NOTIFY lost, another instance's
/// retries).
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

/// How long a send in flight may finish after shutdown was asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A claim's lease: longer than any provider may take (SMTP's 30 s, `[sms]
/// timeout_seconds` ≤ 120 s) plus the writes around it, so a live sender's row is never
/// taken over.
fn lease(cfg: &crate::config::Config) -> Duration {
    Duration::from_secs(30u64.max(cfg.sms.timeout_seconds) + 30)
}

impl Messages {
    /// Delivers messages until `shutdown`. A database error is logged and tried again at
    /// the next look.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let providers = Providers::new(&self.config);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let stop = shutdown.clone();
            let pass = self.send_due(&providers, &stop);
            tokio::pin!(pass);
            let result = tokio::select! {
                r = &mut pass => r,
                // the guard wait_for returns must not live across the grace's await
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                    // the pass sees the flag and ends after the message in flight
                    match tokio::time::timeout(SHUTDOWN_GRACE, pass).await {
                        Ok(r) => r,
                        Err(_) => {
                            warn!("messages: shutdown interrupted a send; it is taken over after its lease");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = result {
                warn!(error = %e, "messages: cannot read the messages table");
            }
            let wait = match store::next_due(&self.pool).await {
                Ok(Some(at)) => (at - chrono::Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(LOOK_EVERY),
                _ => LOOK_EVERY,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => return,
            }
        }
    }

    /// Sends every message due now. Returns how many were sent.
    async fn send_due(
        &self,
        providers: &Providers,
        stop: &watch::Receiver<bool>,
    ) -> Result<usize, StoreError> {
        let mut sent = 0;
        let instance = &self.config.daemon.instance;
        while !*stop.borrow() {
            let Some(m) = store::claim(&self.pool, instance, lease(&self.config)).await? else {
                break;
            };
            debug!(message = m.id, attempt = m.attempt_no, channel = %m.channel, "sending message");
            match providers.send(&m).await {
                Ok(provider_id) => {
                    store::mark_sent(&self.pool, m.id, m.attempt_no, provider_id.as_deref())
                        .await?;
                    info!(message = m.id, call = %m.call_uuid, channel = %m.channel, attempt = m.attempt_no, "message sent");
                    sent += 1;
                }
                Err(e) => {
                    let cfg = &self.config.messages;
                    let decision = after_failure(
                        u32::try_from(m.attempt_no).unwrap_or(u32::MAX),
                        e.is_retryable(),
                        cfg.max_tries,
                        Duration::from_secs(cfg.retry_seconds),
                    );
                    let retry_in = match decision {
                        AfterFailure::RetryIn(d) => Some(d),
                        AfterFailure::GiveUp => None,
                    };
                    store::mark_failed(&self.pool, m.id, m.attempt_no, &e.to_string(), retry_in)
                        .await?;
                    match retry_in {
                        Some(d) => {
                            warn!(message = m.id, attempt = m.attempt_no, retry_in_s = d.as_secs(), error = %e, "message not sent, will retry")
                        }
                        None => {
                            warn!(message = m.id, attempt = m.attempt_no, error = %e, "message failed for good")
                        }
                    }
                }
            }
        }
        Ok(sent)
    }

    /// One pass of the sender (tests): sends what is due now and returns how many were sent.
    pub async fn send_due_once(&self) -> Result<usize, StoreError> {
        let (_tx, rx) = watch::channel(false);
        self.send_due(&Providers::new(&self.config), &rx).await
    }
}
