//! The checks of the operators' routing (`[acd]`) and the IVR (`[ivr]`): each problem named
//! by its key path.

use super::is_queue_name;
use crate::config::{Config, CURRENCIES};
use crate::core::values::MediaFile;

impl Config {
    pub(super) fn validate_acd(&self, bad: &mut impl FnMut(String, &str)) {
        let a = &self.acd;
        if a.ring_timeout_seconds == 0 || a.ring_timeout_seconds > 120 {
            bad("acd.ring_timeout_seconds".into(), "must be 1-120");
        }
        if a.wrap_up_seconds > 3600 {
            bad("acd.wrap_up_seconds".into(), "must be 0-3600");
        }
        if MediaFile::parse(&a.music_on_hold).is_err() {
            bad(
                "acd.music_on_hold".into(),
                "must be a file path or local_stream://NAME without blanks",
            );
        }
        if !a.webhook_url.is_empty()
            && (!a.webhook_url.starts_with("http://")
                || a.webhook_url.contains(char::is_whitespace))
        {
            bad(
                "acd.webhook_url".into(),
                "must be empty or an http:// URL (put a TLS proxy in front for https)",
            );
        }
        if a.queue.is_empty() {
            bad(
                "acd.queue".into(),
                "at least one [acd.queue.NAME] is required",
            );
        }
        for (name, q) in &a.queue {
            let key = |k: &str| format!("acd.queue.{name}.{k}");
            if !is_queue_name(name) {
                bad(
                    format!("acd.queue.{name}"),
                    "name must be 1-32 of a-z, 0-9, '_'",
                );
            }
            if !is_queue_name(&q.group) {
                bad(key("group"), "must be 1-32 of a-z, 0-9, '_'");
            }
            if !(1..=10).contains(&q.min_level) {
                bad(key("min_level"), "must be 1-10");
            }
            if q.max_waiting == 0 || q.max_waiting > 10_000 {
                bad(key("max_waiting"), "must be 1-10000");
            }
            if q.priority > 200 {
                bad(key("priority"), "must be 0-200");
            }
            if q.service_level_seconds > 3_600 {
                bad(key("service_level_seconds"), "must be 0-3600");
            }
            if !(q.service_level_goal > 0.0 && q.service_level_goal < 100.0) {
                bad(
                    key("service_level_goal"),
                    "a percentage above 0 and below 100",
                );
            }
            match q.overflow.strip_prefix("queue:") {
                Some(to) if to == name => bad(key("overflow"), "cannot overflow to itself"),
                Some(to) if !a.queue.contains_key(to) => {
                    bad(key("overflow"), "names a queue that is not configured")
                }
                Some(_) => {}
                None if q.overflow == "callback" => {}
                None => bad(key("overflow"), "must be `callback` or `queue:NAME`"),
            }
        }
        if let Some(q) = self.ivr.operator.strip_prefix("queue:") {
            if !a.queue.contains_key(q) {
                bad(
                    "ivr.operator".into(),
                    "names an [acd.queue.NAME] that is not configured",
                );
            }
        }
    }

    pub(super) fn validate_ivr(&self, bad: &mut impl FnMut(String, &str)) {
        let v = &self.ivr;
        for key in v.menu.keys() {
            if key.len() != 1 || !key.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!("ivr.menu.{key}"), "menu keys are one digit 0-9");
            }
        }
        // The bridge target reaches `sendmsg`: the same strict alphabet as a dial template.
        let queue = v.operator.strip_prefix("queue:");
        let op_ok = queue.is_some_and(is_queue_name)
            || (["user/", "sofia/", "freetdm/", "loopback/"]
                .iter()
                .any(|p| v.operator.starts_with(p))
                && v.operator
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_.@+-".contains(&b)));
        if !op_ok {
            bad(
                "ivr.operator".into(),
                "must be queue:NAME or an endpoint like user/1000 (letters, digits, / _ . @ + -)",
            );
        }
        if v.account_min_length == 0 || v.account_min_length > v.account_max_length {
            bad(
                "ivr.account_min_length".into(),
                "must be at least 1 and not above account_max_length",
            );
        }
        if v.account_max_length > 20 {
            bad("ivr.account_max_length".into(), "must be at most 20");
        }
        if v.max_daily_kwh <= 0 {
            bad("ivr.max_daily_kwh".into(), "must be above 0");
        }
        if !CURRENCIES.contains(&self.ivr.currency.as_str()) {
            bad("ivr.currency".into(), "must be RUB, UAH or AZN");
        }
        for (day, span) in &v.hours {
            let mut h = crate::core::meter::OfficeHours::default();
            if let Err(e) = h.set_day(day, span) {
                bad(format!("ivr.hours.{day}"), &e);
            }
        }
        for (i, d) in v.holidays.iter().enumerate() {
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                bad(format!("ivr.holidays[{i}]"), "must be a date YYYY-MM-DD");
            }
        }
    }
}
