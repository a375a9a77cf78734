//! Callers coming in: admitted into a queue ([`Acd::admit`]), then driven by a task of this
//! instance ([`Acd::take_over`]).

use std::time::Duration;

use tracing::{debug, warn};

use super::{
    caller, hangup, ms_to_time, Acd, AcdError, Admission, Admitted, CallerSnap, Meta, Pending,
    ADMIT_WAIT, LEASE_MS,
};
use crate::core::acd::queue::CallKind;

impl Acd {
    pub(super) fn spawn_caller(&self, call: String, meta: Meta, start: caller::Start) {
        self.inner.owned.lock().expect("owned").insert(call.clone());
        self.inner.callers.lock().expect("callers").insert(
            call.clone(),
            CallerSnap {
                meta: meta.clone(),
                queue: None,
                info: None,
                talk: None,
            },
        );
        // Not cut off at stop: the task sees `stop` and lets its caller go itself.
        self.inner
            .tasks
            .spawn(caller::run(self.clone(), call, meta, start));
    }

    pub(crate) fn disown(&self, call: &str) {
        self.inner.owned.lock().expect("owned").remove(call);
        self.inner.callers.lock().expect("callers").remove(call);
        self.inner
            .pending
            .lock()
            .expect("pending callers lock")
            .remove(call);
    }

    /// Updates what this instance remembers of a caller it drives.
    pub(crate) fn note_caller(&self, call: &str, f: impl FnOnce(&mut CallerSnap)) {
        if let Some(s) = self.inner.callers.lock().expect("callers").get_mut(call) {
            f(s);
        }
    }

    /// A caller handed over by the IVR (or dialing the operators' number): enters `queue`
    /// unless it is full. Afterwards the caller's session transfers the channel to the
    /// ACD's park (`contactd-acd` context) and [`Acd::take_over`] starts driving it.
    pub async fn admit(
        &self,
        call: &str,
        queue: &str,
        caller: Option<&str>,
        ivr: std::collections::BTreeMap<String, String>,
    ) -> Result<Admission, AcdError> {
        let admitted = self.enter(call, queue, caller, ivr).await;
        if admitted.is_err() {
            // The IVR then says the operators are busy and hangs up: contactd ends it.
            self.record_hungup_by(call, hangup::EndedBy::Contactd).await;
        }
        admitted
    }

    async fn enter(
        &self,
        call: &str,
        queue: &str,
        caller: Option<&str>,
        ivr: std::collections::BTreeMap<String, String>,
    ) -> Result<Admission, AcdError> {
        let q = self
            .cfg()
            .queue
            .get(queue)
            .ok_or_else(|| AcdError::NotFound(format!("queue {queue}")))?;
        let now = self.now_ms();
        let account = ivr.get("contactd_account").cloned();
        let meta = Meta {
            caller: caller.map(str::to_string),
            account: account.clone(),
            ivr,
            node: self.inner.node.clone(),
            entered_ms: now,
            kind: CallKind::Waiting,
            callback: None,
            consult: None,
            by: Some(self.inner.instance.clone()),
            campaign: None,
        };
        // The record and the meta first: a reservation may come the moment it is queued.
        let json = serde_json::to_string(&meta).expect("meta json");
        let queued = async {
            self.inner.store.set_meta(call, &json).await?;
            self.inner
                .store
                .enqueue(queue, call, q.priority, q.max_waiting, now)
                .await
        };
        // The caller hears nothing while this waits: a Redis that does not answer at once is
        // treated as away (a late write is harmless: queueing again changes nothing).
        let queued = match tokio::time::timeout(ADMIT_WAIT, queued).await {
            Ok(r) => r,
            Err(_) => Err(crate::store::StoreError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        };
        let admitted = match queued {
            Ok(a) => a,
            Err(e) => {
                // Redis is unreachable: the caller is taken anyway and waits with music; its
                // task queues it (in arrival order among those after it) once Redis is back.
                warn!(%call, queue, "acd: Redis unavailable, the caller waits to be queued: {e}");
                self.inner
                    .pending
                    .lock()
                    .expect("pending callers lock")
                    .insert(
                        call.to_string(),
                        Pending {
                            meta: meta.clone(),
                            queue: queue.to_string(),
                            priority: q.priority,
                        },
                    );
                crate::store::acd::Enqueued::Waiting {
                    position: 0,
                    seq: 0,
                }
            }
        };
        if let crate::store::acd::Enqueued::Waiting { seq, .. } = admitted {
            // Its place as the enqueue gave it (0: not queued yet, Redis away). Two callers
            // whose places were not both known were put back out of order after Redis lost
            // them: one queued anew by a new arrival number went ahead of one put back with
            // its old one (acd_faults::redis_restarted_empty_is_rebuilt_before_routing).
            let info = (seq > 0).then(|| crate::store::acd::CallInfo {
                priority: q.priority,
                seq,
                arrived_ms: now,
                queue: queue.to_string(),
            });
            let mut admitted = self.inner.admitted.lock().expect("admitted");
            // a caller who never reached the park (hung up in the transfer) is not kept
            let at = self.inner.clock.instant();
            admitted.retain(|_, a| at.duration_since(a.at) < Duration::from_secs(60));
            admitted.insert(
                call.to_string(),
                Admitted {
                    meta: meta.clone(),
                    at,
                    info,
                },
            );
        }
        match admitted {
            crate::store::acd::Enqueued::Waiting { position, .. } => {
                if let Ok(u) = uuid::Uuid::parse_str(call) {
                    self.inner
                        .records
                        .entered(
                            u,
                            &self.inner.node,
                            queue,
                            caller,
                            account.as_deref(),
                            ms_to_time(now),
                        )
                        .await?;
                }
                Ok(Admission::Waiting { position })
            }
            crate::store::acd::Enqueued::AlreadyOffered => Ok(Admission::Waiting { position: 0 }),
            crate::store::acd::Enqueued::Refused => {
                let meta = Meta {
                    kind: CallKind::Callback,
                    ..meta
                };
                let json = serde_json::to_string(&meta).expect("meta json");
                self.inner.store.set_meta(call, &json).await?;
                Ok(Admission::Full)
            }
        }
    }

    /// The `sched_broadcast` argument that has the switch play the music by itself if this
    /// instance is gone before it takes the caller ([`super::FALLBACK_MUSIC_AFTER_S`]).
    pub fn fallback_music(&self) -> String {
        format!(
            "+{} {}",
            super::FALLBACK_MUSIC_AFTER_S,
            self.cfg().music_on_hold
        )
    }

    /// Cancels the switch's fallback music for `call`: whoever takes the caller plays its
    /// own. Before the park flag is set, so that no bridge can come before it. A failure is
    /// only logged: the music would then start inside this instance's, which is harmless
    /// while the caller waits.
    pub(super) async fn cancel_fallback_music(&self, call: &str) {
        if let Err(e) = self.inner.link.sched_del(call).await {
            debug!(%call, "acd: sched_del: {e}");
        }
    }

    /// Starts driving a caller parked by the `contactd-acd` dialplan after [`Acd::admit`].
    /// A caller admitted while Redis was away is driven from what this instance remembers;
    /// the lease and the park flag follow once Redis answers.
    pub async fn take_over(&self, call: &str, queue: &str) -> Result<(), AcdError> {
        let (local, info) = self
            .inner
            .admitted
            .lock()
            .expect("admitted")
            .remove(call)
            .map_or((None, None), |a| (Some(a.meta), a.info));
        let pending = self
            .inner
            .pending
            .lock()
            .expect("pending callers lock")
            .get(call)
            .map(|p| p.meta.clone());
        let meta = match local.or(pending) {
            Some(m) => m,
            None => self
                .inner
                .store
                .meta(call)
                .await?
                .and_then(|m| serde_json::from_str::<Meta>(&m).ok())
                .ok_or_else(|| AcdError::NotFound(format!("caller {call}")))?,
        };
        self.cancel_fallback_music(call).await;
        let start = if meta.kind == CallKind::Callback {
            caller::Start::CallbackOffer {
                queue: queue.to_string(),
                full: true,
            }
        } else {
            self.kick();
            caller::Start::Fresh
        };
        // The music first; the lease and the park flag are Redis's (and renewed by the task).
        self.spawn_caller(call.to_string(), meta, start);
        self.note_caller(call, |s| {
            s.queue = Some(queue.to_string());
            if s.info.is_none() {
                s.info = info;
            }
        });
        if let Err(e) = self
            .inner
            .store
            .claim(call, &self.inner.instance, LEASE_MS)
            .await
        {
            debug!(%call, "acd: lease not taken yet: {e}");
        }
        if let Err(e) = self.inner.store.set_parked(call).await {
            debug!(%call, "acd: park flag not set: {e}");
        }
        Ok(())
    }
}
