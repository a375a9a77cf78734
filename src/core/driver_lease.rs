//! When an instance may drive a campaign under its Redis lease: pure timing, no I/O.
//!
//! A lease is granted (or renewed) for `lease_ms` from the moment the request *left* this
//! process, not from the moment the reply came back: a slow reply must never make the lease
//! look longer here than it is in Redis. The holder stops dialing `margin_ms` before that
//! (clock drift between hosts, a claim already on its way), so by the time another instance
//! can take the lease over, the old holder has stopped claiming subscribers.

/// The lease's timing, the same on every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// How long a grant lasts in Redis (`SET NX PX`).
    pub lease_ms: u64,
    /// How often the holder renews it: well under `lease_ms`, so one lost renewal does not
    /// lose the lease.
    pub renew_ms: u64,
    /// The holder stops dialing this long before its grant lapses.
    pub margin_ms: u64,
}

/// Takeover within 10 s of a crash: at most `lease_ms` for the grant to lapse, plus one
/// `renew_ms` until another instance asks again, plus its recovery (a channel list).
pub const DEFAULT_TIMING: LeaseTiming = LeaseTiming {
    lease_ms: 6_000,
    renew_ms: 1_500,
    margin_ms: 1_500,
};

impl LeaseTiming {
    /// Until when (ms, the caller's monotonic scale) the holder may dial, for a grant or
    /// renewal whose request was sent at `sent_ms`.
    pub fn dial_until(&self, sent_ms: u64) -> u64 {
        sent_ms + self.lease_ms.saturating_sub(self.margin_ms)
    }

    /// Whether a holder whose last grant was requested at `sent_ms` may still dial at `now_ms`.
    pub fn may_dial(&self, sent_ms: u64, now_ms: u64) -> bool {
        now_ms < self.dial_until(sent_ms)
    }

    /// The longest a dead holder can keep a campaign undriven: its grant lapses, then the
    /// others ask at their next renewal round.
    pub fn worst_takeover_ms(&self) -> u64 {
        self.lease_ms + self.renew_ms
    }
}

/// What the lease value in Redis says: `instance|token`.
pub fn lease_value(instance: &str, token: u64) -> String {
    format!("{instance}|{token}")
}

/// The holder and fencing token of a lease value; `None` for a value not written by
/// [`lease_value`].
pub fn parse_lease_value(v: &str) -> Option<(&str, u64)> {
    let (who, token) = v.rsplit_once('|')?;
    Some((who, token.parse().ok()?))
}

/// Whether lease `holder` (`instance@host:pid`) is an earlier process of this very instance
/// (`me`, same form) on this host that is gone (`alive(pid)` false): a restart takes its
/// campaigns over at once instead of waiting for the lease to lapse. A holder on another
/// host, or still running, is never taken from.
pub fn earlier_process(me: &str, holder: &str, alive: impl Fn(u32) -> bool) -> bool {
    let split = |s: &str| -> Option<(String, u32)> {
        let (who, pid) = s.rsplit_once(':')?;
        Some((who.to_string(), pid.parse().ok()?))
    };
    match (split(me), split(holder)) {
        (Some((a, my_pid)), Some((b, pid))) => a == b && pid != my_pid && !alive(pid),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dead_earlier_process_of_this_instance_on_this_host_is_taken_from() {
        let me = "alpha@h1:200";
        assert!(earlier_process(me, "alpha@h1:100", |_| false));
        assert!(
            !earlier_process(me, "alpha@h1:100", |_| true),
            "still running"
        );
        assert!(
            !earlier_process(me, "alpha@h2:100", |_| false),
            "another host"
        );
        assert!(
            !earlier_process(me, "beta@h1:100", |_| false),
            "another instance"
        );
        assert!(!earlier_process(me, "alpha@h1:200", |_| false), "itself");
        assert!(!earlier_process(me, "junk", |_| false));
    }

    #[test]
    fn the_holder_stops_dialing_before_another_instance_can_take_over() {
        let t = DEFAULT_TIMING;
        let sent = 10_000;
        assert!(t.may_dial(sent, sent));
        assert!(t.may_dial(sent, sent + 4_499));
        assert!(!t.may_dial(sent, sent + 4_500));
        // the grant itself lapses in Redis later than the holder stops
        assert!(t.dial_until(sent) < sent + t.lease_ms);
    }

    #[test]
    fn a_renewal_round_never_lets_the_lease_lapse_while_the_holder_lives() {
        let t = DEFAULT_TIMING;
        // two renewals may be lost in a row without the holder stopping to dial
        assert!(3 * t.renew_ms <= t.lease_ms - t.margin_ms);
        assert!(
            t.worst_takeover_ms() < 10_000,
            "issue 15: takeover within 10 s"
        );
    }

    #[test]
    fn lease_values_round_trip_and_junk_is_refused() {
        assert_eq!(
            parse_lease_value(&lease_value("host-a.12", 42)),
            Some(("host-a.12", 42))
        );
        assert_eq!(parse_lease_value("a|b|7"), Some(("a|b", 7)));
        assert_eq!(parse_lease_value("nobody"), None);
        assert_eq!(parse_lease_value("x|"), None);
    }
}
