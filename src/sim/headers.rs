//! The FreeSWITCH header blocks built from a channel's state: the Channel-* block, the
//! Caller-* and Other-Leg-* profiles, `variable_*`, the CDR timing variables added at
//! hangup, and the hangup causes' Q.850 codes.

use super::channel::ChanState;
use super::event::Event;

impl ChanState {
    /// Append the Channel-* block, the caller profile and (optionally) variables.
    pub fn add_headers(&self, ev: &mut Event, with_vars: bool) {
        self.add_headers_other(ev, with_vars, None)
    }

    /// Like `add_headers`, with the bridged partner's `Other-Leg-*` block.
    pub fn add_headers_other(&self, ev: &mut Event, with_vars: bool, other: Option<&ChanState>) {
        ev.add("Channel-State", self.running.name());
        ev.add("Channel-Call-State", self.callstate);
        ev.add("Channel-State-Number", (self.state as i32).to_string());
        ev.add("Channel-Name", &self.name);
        ev.add("Unique-ID", &self.uuid);
        ev.add("Call-Direction", self.direction);
        ev.add("Presence-Call-Direction", self.direction);
        ev.add(
            "Channel-HIT-Dialplan",
            if self.hit_dialplan { "true" } else { "false" },
        );
        if let Some(p) = self.var("presence_id") {
            ev.add("Channel-Presence-ID", p);
        }
        ev.add("Channel-Call-UUID", &self.uuid);
        ev.add("Answer-State", self.answer_state);
        if let Some(c) = &self.hangup_cause {
            ev.add("Hangup-Cause", c);
        }
        if self.codec.0 {
            ev.add("Channel-Read-Codec-Name", &self.codec_name);
            ev.add("Channel-Read-Codec-Rate", "8000");
            ev.add("Channel-Read-Codec-Bit-Rate", "128000");
        }
        if self.codec.1 {
            ev.add("Channel-Write-Codec-Name", &self.codec_name);
            ev.add("Channel-Write-Codec-Rate", "8000");
            ev.add("Channel-Write-Codec-Bit-Rate", "128000");
        }
        if self.has_profile {
            self.add_caller(ev, "Caller-");
        }
        if let Some(o) = other {
            ev.add("Other-Type", self.other_type);
            o.add_caller(ev, "Other-Leg-");
        }
        if with_vars {
            for (k, v) in &self.vars {
                ev.add(&format!("variable_{k}"), v);
            }
        }
    }

    fn add_caller(&self, ev: &mut Event, p: &str) {
        let c = &self.caller;
        let other = p != "Caller-";
        let opt = |ev: &mut Event, k: &str, v: &str| {
            if !v.is_empty() {
                ev.add(&format!("{p}{k}"), v);
            }
        };
        ev.add(&format!("{p}Direction"), self.direction);
        ev.add(&format!("{p}Logical-Direction"), self.direction);
        opt(ev, "Dialplan", &c.dialplan);
        opt(ev, "Caller-ID-Name", &c.cid_name);
        opt(ev, "Caller-ID-Number", &c.cid_num);
        opt(ev, "Orig-Caller-ID-Name", &c.orig_cid_name);
        opt(ev, "Orig-Caller-ID-Number", &c.orig_cid_num);
        opt(ev, "Callee-ID-Name", &c.callee_name);
        opt(ev, "Callee-ID-Number", &c.callee_num);
        opt(ev, "ANI", &c.ani);
        opt(ev, "Destination-Number", &c.dest);
        ev.add(&format!("{p}Unique-ID"), &self.uuid);
        opt(ev, "Source", &c.source);
        if !other {
            opt(ev, "Transfer-Source", &c.transfer_source);
        }
        opt(ev, "Context", &c.context);
        opt(ev, "RDNIS", &c.rdnis);
        ev.add(&format!("{p}Channel-Name"), &self.name);
        if !other {
            ev.add("Caller-Profile-Index", c.profile_index.max(1).to_string());
        }
        ev.add(
            &format!("{p}Profile-Created-Time"),
            c.created_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Created-Time"),
            c.created_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Answered-Time"),
            c.answered_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Progress-Time"),
            c.progress_us.to_string(),
        );
        ev.add(
            &format!("{p}Channel-Progress-Media-Time"),
            c.progress_media_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Hangup-Time"), c.hangup_us.to_string());
        ev.add(
            &format!("{p}Channel-Transfer-Time"),
            c.transfer_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Resurrect-Time"), "0");
        ev.add(
            &format!("{p}Channel-Bridged-Time"),
            c.bridged_us.to_string(),
        );
        ev.add(&format!("{p}Channel-Last-Hold"), "0");
        ev.add(&format!("{p}Channel-Hold-Accum"), "0");
        ev.add(&format!("{p}Screen-Bit"), "true");
        ev.add(&format!("{p}Privacy-Hide-Name"), "false");
        ev.add(&format!("{p}Privacy-Hide-Number"), "false");
    }

    /// Add the CDR variables FreeSWITCH sets when a channel reaches CS_REPORTING.
    pub fn add_cdr_vars(&mut self, q850: u32, now_us: i64) {
        let cause = self.hangup_cause.clone().unwrap_or_default();
        self.set_var("hangup_cause", &cause);
        self.set_var("hangup_cause_q850", &q850.to_string());
        if self.var("digits_dialed").is_none() {
            self.set_var("digits_dialed", "none");
        }
        let c = self.caller.clone();
        let stamp = |us: i64| -> String {
            if us == 0 {
                return String::new();
            }
            chrono::DateTime::from_timestamp_micros(us)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default()
        };
        let end = if c.hangup_us > 0 { c.hangup_us } else { now_us };
        self.set_var("start_stamp", &stamp(c.created_us));
        self.set_var("profile_start_stamp", &stamp(c.created_us));
        if c.answered_us > 0 {
            self.set_var("answer_stamp", &stamp(c.answered_us));
        }
        if c.progress_us > 0 {
            self.set_var("progress_stamp", &stamp(c.progress_us));
        }
        self.set_var("end_stamp", &stamp(end));
        let pair = |s: &mut Self, n: &str, us: i64| {
            s.set_var(&format!("{n}_epoch"), &(us / 1_000_000).to_string());
            s.set_var(&format!("{n}_uepoch"), &us.to_string());
        };
        pair(self, "start", c.created_us);
        pair(self, "profile_start", c.created_us);
        pair(self, "answer", c.answered_us);
        pair(self, "bridge", c.bridged_us);
        pair(self, "last_hold", 0);
        self.set_var("hold_accum_seconds", "0");
        self.set_var("hold_accum_usec", "0");
        self.set_var("hold_accum_ms", "0");
        pair(self, "resurrect", 0);
        pair(self, "progress", c.progress_us);
        pair(self, "progress_media", c.progress_media_us);
        pair(self, "end", end);
        if let Some(a) = self.var("current_application").map(str::to_string) {
            self.set_var("last_app", &a);
            let d = self
                .var("current_application_data")
                .unwrap_or("")
                .to_string();
            self.set_var("last_arg", &d);
        }
        let cid = format!("\"{}\" <{}>", c.cid_name, c.cid_num);
        self.set_var("caller_id", &cid);
        let dur = end - c.created_us;
        let bill = if c.answered_us > 0 {
            end - c.answered_us
        } else {
            0
        };
        let since = |t: i64| if t > 0 { t - c.created_us } else { 0 };
        let prog = since(c.progress_us);
        let ans = since(c.answered_us);
        let wait = ans;
        let pm = since(c.progress_media_us);
        let sets = [
            ("duration", "mduration", "uduration", dur),
            ("billsec", "billmsec", "billusec", bill),
            ("progresssec", "progressmsec", "progressusec", prog),
            ("answersec", "answermsec", "answerusec", ans),
            ("waitsec", "waitmsec", "waitusec", wait),
            (
                "progress_mediasec",
                "progress_mediamsec",
                "progress_mediausec",
                pm,
            ),
            ("flow_billsec", "flow_billmsec", "flow_billusec", bill),
        ];
        for (s, _, _, v) in sets {
            self.set_var(s, &(v / 1_000_000).to_string());
        }
        for (_, m, _, v) in sets {
            self.set_var(m, &(v / 1000).to_string());
        }
        for (_, _, u, v) in sets {
            self.set_var(u, &v.to_string());
        }
    }
}

/// Q.850 code of a hangup cause name (16 for FreeSWITCH's own causes).
pub fn q850(cause: &str) -> u32 {
    match cause {
        "UNALLOCATED_NUMBER" => 1,
        "NO_ROUTE_TRANSIT_NET" => 2,
        "NO_ROUTE_DESTINATION" => 3,
        "NORMAL_CLEARING" => 16,
        "USER_BUSY" => 17,
        "NO_USER_RESPONSE" => 18,
        "NO_ANSWER" => 19,
        "SUBSCRIBER_ABSENT" => 20,
        "CALL_REJECTED" => 21,
        "NUMBER_CHANGED" => 22,
        "DESTINATION_OUT_OF_ORDER" => 27,
        "INVALID_NUMBER_FORMAT" => 28,
        "FACILITY_REJECTED" => 29,
        "NORMAL_UNSPECIFIED" => 31,
        "NORMAL_CIRCUIT_CONGESTION" => 34,
        "NETWORK_OUT_OF_ORDER" => 38,
        "NORMAL_TEMPORARY_FAILURE" => 41,
        "SWITCH_CONGESTION" => 42,
        "REQUESTED_CHAN_UNAVAIL" => 44,
        "BEARERCAPABILITY_NOTAVAIL" => 58,
        "CHAN_NOT_IMPLEMENTED" => 66,
        "INCOMPATIBLE_DESTINATION" => 88,
        "RECOVERY_ON_TIMER_EXPIRE" => 102,
        "ORIGINATOR_CANCEL" => 487,
        _ => 16,
    }
}

/// Is this a known cause name? (hupall / hangup-cause parsing)
pub fn known_cause(cause: &str) -> bool {
    q850(cause) != 16
        || matches!(
            cause,
            "NORMAL_CLEARING"
                | "MANAGER_REQUEST"
                | "SYSTEM_SHUTDOWN"
                | "PROGRESS_TIMEOUT"
                | "ALLOTTED_TIMEOUT"
                | "LOSE_RACE"
                | "BLIND_TRANSFER"
                | "ATTENDED_TRANSFER"
                | "PICKED_OFF"
                | "USER_NOT_REGISTERED"
                | "GATEWAY_DOWN"
                | "MEDIA_TIMEOUT"
                | "CRASH"
        )
}
