//! What a waiting caller is offered once the wait is too long or the queue is full: the
//! overflow queue, or a callback (the number confirmed or keyed in, a time chosen).

use std::time::Duration;

use tracing::{info, warn};
use uuid::Uuid;

use super::{Caller, Next};
use crate::core::acd::outcome::AcdOutcome;
use crate::core::acd::queue::Overflow;
use crate::core::channels::SwitchEvent;
use crate::core::values::PhoneNumber;
use crate::esl::control::WatchEvent;
use crate::service::acd::hangup::EndedBy;
use crate::service::acd::Unstored;
use crate::store::acd::Abandoned;

impl Caller {
    /// Waited the maximum: to the overflow queue, or a callback offer.
    pub(super) async fn overflow(&mut self, queue: &str, overflow: &str) -> Next {
        let store = &self.acd.inner.store;
        // Taken out of the queue first: if an operator got it meanwhile, nothing happens.
        if !matches!(
            store.abandon(queue, &self.call).await,
            Ok(Abandoned::WasWaiting)
        ) {
            return Next::Continue;
        }
        let u = Uuid::parse_str(&self.call).ok();
        match Overflow::parse(overflow).unwrap_or(Overflow::Callback) {
            Overflow::Queue(to) => {
                let to = to.as_str();
                let prio = self.acd.cfg().queue.get(to).map_or(100, |q| q.priority);
                store
                    .enqueue(to, &self.call, prio, usize::MAX / 2, self.acd.now_ms())
                    .await
                    .or_log(&self.call, &format!("overflow into queue {to}"));
                if let Some(u) = u {
                    self.acd
                        .inner
                        .records
                        .moved(u, to)
                        .await
                        .or_log(&self.call, &format!("call record: moved to {to}"));
                }
                info!(call = %self.call, from = queue, to, "acd: overflow");
                self.acd.kick();
                Next::Continue
            }
            Overflow::Callback => {
                if let Some(u) = u {
                    self.acd
                        .inner
                        .records
                        .moved(u, AcdOutcome::Callback.as_str())
                        .await
                        .or_log(&self.call, "call record: moved to a callback offer");
                }
                self.offer_callback(queue, false).await;
                Next::Done
            }
        }
    }

    /// Runs one `play_and_get_digits` and returns the digits, or None (no valid entry,
    /// or the caller hung up). Asked again once if the control link dropped meanwhile: the
    /// answer was lost with the link.
    pub(super) async fn collect(&mut self, args: String) -> Option<String> {
        for _ in 0..2 {
            match self.collect_once(&args).await {
                Asked::Answered(digits) => return digits,
                // not back within a minute: the flow ends as if the caller had not answered
                Asked::Lost if self.there_once_back().await == Some(true) => {
                    self.break_media().await
                }
                Asked::Lost => return None,
            }
        }
        None
    }

    async fn collect_once(&mut self, args: &str) -> Asked {
        let Ok(app) = self
            .link()
            .execute(&self.call, "play_and_get_digits", args)
            .await
        else {
            return Asked::Answered(None);
        };
        let deadline = self.acd.clock().instant() + Duration::from_secs(120);
        loop {
            match tokio::time::timeout_at(deadline, self.watch.recv()).await {
                Ok(Some(WatchEvent::Switch(SwitchEvent::ExecuteComplete {
                    application_uuid,
                    digits,
                    read_result,
                    ..
                }))) if application_uuid.as_deref() == Some(app.as_str()) => {
                    let ok = crate::core::flow::read_ok(read_result.as_deref());
                    return Asked::Answered(digits.filter(|_| ok));
                }
                Ok(Some(WatchEvent::Switch(SwitchEvent::Hangup(h)))) => {
                    self.hung_up = true;
                    self.ended_by = Some(EndedBy::caller_hung_up(&h.cause));
                    return Asked::Answered(None);
                }
                Ok(Some(WatchEvent::LinkLost)) => return Asked::Lost,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return Asked::Answered(None),
            }
        }
    }

    /// Plays `file` to the caller and waits for its end (or the caller's hang-up; after a
    /// dropped link, until the caller is found there or gone).
    pub(super) async fn play_and_wait(&mut self, file: &str) {
        let Ok(app) = self.link().execute(&self.call, "playback", file).await else {
            return;
        };
        let deadline = self.acd.clock().instant() + Duration::from_secs(60);
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.watch.recv()).await {
            match ev {
                WatchEvent::Switch(SwitchEvent::ExecuteComplete {
                    application_uuid, ..
                }) if application_uuid.as_deref() == Some(app.as_str()) => return,
                WatchEvent::Switch(SwitchEvent::Hangup(h)) => {
                    self.hung_up = true;
                    self.ended_by = Some(EndedBy::caller_hung_up(&h.cause));
                    return;
                }
                // the prompt's end may have been lost with the link: on with the flow
                WatchEvent::LinkLost => {
                    self.there_once_back().await;
                    return;
                }
                _ => {}
            }
        }
    }

    pub(super) fn digits_args(&self, min: u32, max: u32, prompt: &str, regex: &str) -> String {
        format!(
            "{min} {max} 3 7000 # {} {} contactd_digits {regex}",
            self.acd.prompt(prompt),
            self.acd.prompt("acd_invalid"),
        )
    }

    /// "All operators are busy. Press 1 to be called back on this number, 2 to key
    /// another number." The promise is stored in PostgreSQL and dialed later.
    pub(super) async fn offer_callback(&mut self, queue: &str, full: bool) {
        self.break_media().await;
        let now = self.acd.clock().now();
        let u = Uuid::parse_str(&self.call).ok();
        if full {
            if let Some(u) = u {
                self.acd
                    .inner
                    .records
                    .entered(
                        u,
                        &self.acd.inner.node,
                        queue,
                        self.meta.caller.as_deref(),
                        self.meta.account.as_deref(),
                        now,
                    )
                    .await
                    .or_log(
                        &self.call,
                        &format!("call record: entered {queue} at {now}"),
                    );
            }
        }
        let intro = if full {
            "acd_all_busy"
        } else {
            "acd_wait_too_long"
        };
        self.play_and_wait(&self.acd.prompt(intro)).await;
        let caller_ok = self
            .meta
            .caller
            .as_deref()
            .and_then(|c| PhoneNumber::parse(c).ok());
        let mut number = None;
        if !self.hung_up {
            let choice = self
                .collect(self.digits_args(1, 1, "acd_callback_offer", "[12]"))
                .await;
            number = match (choice.as_deref(), &caller_ok) {
                (Some("1"), Some(n)) => Some(n.as_str().to_string()),
                (Some("1" | "2"), _) if !self.hung_up => self
                    .collect(self.digits_args(5, 15, "acd_callback_number", "\\d+"))
                    .await
                    .filter(|d| PhoneNumber::parse(d).is_ok()),
                _ => None,
            };
        }
        let stored = match &number {
            Some(n) => match self.acd.inner.records.add_callback(queue, n, u).await {
                Ok(id) => {
                    info!(call = %self.call, callback = id, number = %n, queue, "acd: callback stored");
                    true
                }
                Err(e) => {
                    warn!(call = %self.call, "acd: cannot store callback: {e}");
                    false
                }
            },
            None => false,
        };
        if !self.hung_up {
            let bye = if stored {
                "acd_callback_stored"
            } else {
                "goodbye"
            };
            self.play_and_wait(&self.acd.prompt(bye)).await;
        }
        // Prompts played to the end: contactd hangs up. A hang-up heard meanwhile was the
        // caller's.
        let by = if self.hung_up {
            self.ended_by.unwrap_or(EndedBy::Unknown)
        } else {
            EndedBy::Contactd
        };
        self.acd.record_hungup_by(&self.call, by).await;
        if !self.hung_up {
            let _ = self
                .link()
                .hangup(&self.call, freeswitch_types::HangupCause::NormalClearing)
                .await;
        }
        if let Some(u) = u {
            let outcome = if stored {
                AcdOutcome::Callback
            } else {
                AcdOutcome::Abandoned
            };
            self.acd
                .inner
                .records
                .ended(u, outcome, self.acd.clock().now())
                .await
                .or_log(&self.call, &format!("call record end ({outcome})"));
        }
    }
}

/// What one question to the caller came to.
enum Asked {
    /// The digits keyed (None: no valid entry, or the caller hung up).
    Answered(Option<String>),
    /// The control link dropped before the answer was seen.
    Lost,
}
