//! The scanner: this instance's alive mark, after-call work that is over, callers nobody
//! drives, offers and talks to heal, callbacks to dial, operator legs nobody carries on.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::views::{count_operators, need};
use super::{
    callback, caller, ms_to_time, rebuild, Acd, AcdError, Meta, Unstored, ADOPT_AFTER_MS, ALIVE_MS,
    BEAT, LEASE_MS,
};
use crate::core::acd::agent::{wrap_up_ends, StateName};
use crate::core::acd::queue::CallKind;

impl Acd {
    /// Every second: this instance's alive mark (a heartbeat other instances read), then
    /// the checks that need another instance's or the switch's state. Ends at stop.
    pub(super) async fn scan_loop(self) {
        let clock = self.inner.clock.clone();
        let mut beat = clock.instant();
        // The next operator's after-call work to end, when known: woken then, not at the
        // next beat (an operator is ready again on time).
        let mut wrap_up: Option<tokio::time::Instant> = None;
        let mut n: u64 = 0;
        let mut orphans = super::orphans::Orphans::default();
        loop {
            let until = wrap_up.map_or(beat, |w| w.min(beat));
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = self.inner.wrap_started.notified() => {}
                () = self.inner.stop.cancelled() => return,
            }
            if clock.instant() < beat {
                wrap_up = if self.routable() {
                    self.wrap_ups_due().await
                } else {
                    None // looked at again at the beat
                };
                continue;
            }
            beat = clock.instant() + BEAT;
            n += 1;
            if let Err(e) = self
                .inner
                .store
                .set_alive(&self.inner.instance, ALIVE_MS)
                .await
            {
                debug!("acd: alive mark: {e}");
            }
            if self.inner.link.status() != crate::esl::control::LinkStatus::Connected {
                continue;
            }
            rebuild::check(&self).await;
            if !self.inner.trusted.load(Ordering::SeqCst) {
                continue;
            }
            wrap_up = self.wrap_ups_due().await;
            if let Err(e) = self.adopt().await {
                warn!("acd: adopting callers: {e}");
            }
            if n % 2 == 0 {
                if let Err(e) = rebuild::heal(&self).await {
                    warn!("acd: checking offers and talks: {e}");
                }
            }
            if let Err(e) = self.dial_callbacks().await {
                warn!("acd: callbacks: {e}");
            }
            if n % 2 == 1 {
                if let Err(e) = orphans.sweep(&self).await {
                    warn!("acd: checking operator legs: {e}");
                }
            }
        }
    }

    /// Ends the after-call work that is over; the instant the next one is.
    async fn wrap_ups_due(&self) -> Option<tokio::time::Instant> {
        match self.end_wrap_ups().await {
            Ok(next) => next.map(|ms| {
                let wait = Duration::from_millis((ms - self.now_ms()).max(0) as u64);
                self.inner.clock.instant() + wait
            }),
            Err(e) => {
                warn!("acd: after-call work: {e}");
                None
            }
        }
    }

    /// Whether `other` (an instance name as leases and offers carry it) is gone: an earlier
    /// process of this instance, or one whose `alive` mark lapsed.
    pub(super) async fn gone(&self, other: &str) -> Result<bool, AcdError> {
        if other == self.inner.instance {
            return Ok(false);
        }
        if other.starts_with(&self.inner.incarnation_of) {
            return Ok(true);
        }
        Ok(!self.inner.store.is_alive(other).await?)
    }

    /// Operators whose after-call work is over become ready (idle from now). Returns when
    /// the next one known is over (ms), for the scanner to wake then.
    async fn end_wrap_ups(&self) -> Result<Option<i64>, AcdError> {
        let wrap = Duration::from_secs(self.cfg().wrap_up_seconds);
        let now = self.now_ms();
        let mut next = None;
        let mut owed = Vec::new();
        for (agent, info) in self.inner.store.agents().await? {
            if info.state != StateName::WrapUp {
                continue;
            }
            let ends = wrap_up_ends(info.at_ms, wrap);
            // An operator-campaign call's disposition is owed: they stay until it is set.
            if let Ok(Some(call)) = self.inner.store.disposition_due(&agent).await {
                if ends <= now {
                    owed.push((agent, call));
                }
                continue;
            }
            if ends > now {
                next = Some(next.map_or(ends, |n: i64| n.min(ends)));
                continue;
            }
            if self
                .inner
                .store
                .wrap_up_done(&agent, info.at_ms, now)
                .await?
            {
                self.kick();
                self.record_wrap_up(&info, now).await;
                self.log_state(&agent, StateName::Ready, "", ms_to_time(now))
                    .await;
            }
        }
        // set, but the note in Redis outlived it: those operators end their wrap-up next
        if !owed.is_empty() && !self.clear_disposed(&owed).await.is_empty() {
            next = Some(now);
        }
        Ok(next)
    }

    /// The after-call work of the call the operator just finished lasted until `now`.
    pub(super) async fn record_wrap_up(&self, info: &crate::store::acd::AgentInfo, now: i64) {
        if info.state != StateName::WrapUp {
            return;
        }
        if let Some(u) = info
            .call
            .as_deref()
            .and_then(|c| uuid::Uuid::parse_str(c).ok())
        {
            let secs = (now - info.at_ms).max(0) as f64 / 1000.0;
            if let Err(e) = self.inner.records.wrap_up(u, secs).await {
                warn!(call = %u, "acd: cannot record after-call work: {e}");
            }
        }
    }

    /// Takes over callers nobody drives (their instance stopped or died) that are still on
    /// the switch.
    async fn adopt(&self) -> Result<(), AcdError> {
        for (call, meta) in self.inner.store.all_meta().await? {
            if self.inner.owned.lock().expect("owned").contains(&call) {
                continue;
            }
            let Ok(meta) = serde_json::from_str::<Meta>(&meta) else {
                warn!(%call, "acd: unreadable caller record dropped");
                self.inner.store.del_meta(&call).await?;
                continue;
            };
            if meta.kind == CallKind::CallbackDial {
                continue; // driven by its offer; a stale one is reset by the scanner
            }
            let age_ms = self.now_ms() - meta.entered_ms;
            if meta.kind == CallKind::Callback {
                // Driven by the instance that took the call until it ends; one left behind
                // by an instance that died in the middle of the offer is only cleared.
                if age_ms > 600_000 {
                    self.inner.store.del_meta(&call).await?;
                }
                continue;
            }
            let dead = match self.inner.store.owner(&call).await? {
                // a lease of ours with no task (one that ended without giving it back)
                Some(o) if o == self.inner.instance => o,
                Some(o) => {
                    if !self.gone(&o).await? {
                        continue;
                    }
                    o
                }
                None => {
                    // Nobody holds it: just admitted (its instance claims it in a moment),
                    // or its holder stopped and gave it back.
                    let by = meta.by.clone().unwrap_or_default();
                    if age_ms < ADOPT_AFTER_MS
                        && (by.is_empty() || by == self.inner.instance || !self.gone(&by).await?)
                    {
                        continue;
                    }
                    if meta.campaign.is_some() && !self.inner.link.bridged(&call).await {
                        // An operator-campaign call nobody holds is still waiting for its
                        // operator, in its own script (a wait, then the abandon message):
                        // its runner's recovery settles it (`service::opcamp::recover`),
                        // and music here would break that script. Only one an operator has
                        // taken (bridged, its follower lost) is followed here; one left
                        // over is dropped.
                        if age_ms > 600_000 {
                            self.inner.store.del_meta(&call).await?;
                        }
                        continue;
                    }
                    String::new()
                }
            };
            if !self
                .inner
                .store
                .claim_from(&call, &self.inner.instance, &dead, LEASE_MS)
                .await?
            {
                continue;
            }
            let exists = self.inner.link.exists(&call).await;
            match exists {
                Ok(true) => {
                    info!(%call, from = %dead, "acd: caller adopted");
                    self.mark_parked_unseen(&call).await;
                    self.spawn_caller(call, meta, caller::Start::Adopted);
                }
                Ok(false) => {
                    info!(%call, "acd: caller gone while nobody watched");
                    caller::gone_unseen(self, &call).await;
                }
                Err(e) => {
                    self.inner.store.release_claim(&call).await.or_log(
                        &call,
                        "release of the lease taken for adoption (expires by itself)",
                    );
                    return Err(AcdError::Switch(e.to_string()));
                }
            }
        }
        Ok(())
    }

    /// A caller whose instance died between its transfer to the park and taking it never
    /// had the park noted: an offer's bridge would wait for it in vain. It is in the park
    /// by now (adopted seconds after it entered), hearing the switch's fallback music.
    async fn mark_parked_unseen(&self, call: &str) {
        let store = &self.inner.store;
        if store.is_parked(call).await.unwrap_or(true) {
            return;
        }
        self.cancel_fallback_music(call).await;
        store
            .set_parked(call)
            .await
            .or_log(call, "the park noted for an adopted caller");
    }

    /// Callbacks are dialed when an operator of their queue is ready and nobody waits there.
    async fn dial_callbacks(&self) -> Result<(), AcdError> {
        let records = &self.inner.records;
        records
            .reset_stale_callbacks((self.cfg().ring_timeout_seconds + 120) as f64)
            .await?;
        let agents = self.inner.store.agents().await?;
        let skills = self.inner.store.skills().await?;
        for (name, q) in &self.cfg().queue {
            let ready = count_operators(&agents, &skills, need(q), |s| s == StateName::Ready);
            if ready == 0 || self.inner.store.queue_len(name).await? > 0 {
                continue;
            }
            let Some(cb) = records.take_callback(name).await? else {
                continue;
            };
            callback::start_callback(self.clone(), cb).await;
        }
        Ok(())
    }
}
