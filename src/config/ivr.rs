//! `[ivr]` (the meter-reading menu of the trunk numbers) and `[service_codes]` (the managers'
//! short codes); checked in `validate.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::flows::service::ServiceAction;

/// What a key of the trunk menu does.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IvrMenuAction {
    Readings,
    Balance,
    Operator,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IvrConfig {
    /// Key → action of the main menu.
    pub menu: BTreeMap<String, IvrMenuAction>,
    /// Where the IVR hands callers over: `queue:<name>` (the ACD), or a `user/`, `sofia/`
    /// endpoint bridged directly (no queue, no records).
    pub operator: String,
    pub account_min_length: u8,
    pub account_max_length: u8,
    /// The last digit of an account number is a Luhn check digit.
    pub account_check_digit: bool,
    /// Highest plausible consumption per zone per day since the last reading (kWh).
    pub max_daily_kwh: i64,
    /// Currency the balance is said in: `RUB` (rubles and kopecks), `UAH`, `AZN`.
    pub currency: String,
    /// Operators' hours per weekday (`mon` … `sun` → `HH:MM-HH:MM`, local time of
    /// `dialing.default_time_zone`); a missing day is closed. Readings are taken around the clock.
    pub hours: BTreeMap<String, String>,
    /// `YYYY-MM-DD` days the operators do not work.
    pub holidays: Vec<String>,
}

impl Default for IvrConfig {
    fn default() -> Self {
        let menu = [
            ("1", IvrMenuAction::Readings),
            ("2", IvrMenuAction::Balance),
            ("0", IvrMenuAction::Operator),
        ];
        let days = ["mon", "tue", "wed", "thu", "fri", "sat"];
        Self {
            menu: menu.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            operator: "queue:general".into(),
            account_min_length: 6,
            account_max_length: 12,
            account_check_digit: false,
            max_daily_kwh: 100,
            currency: "RUB".into(),
            hours: days
                .into_iter()
                .map(|d| (d.to_string(), "08:00-20:00".to_string()))
                .collect(),
            holidays: Vec::new(),
        }
    }
}

impl IvrConfig {
    /// The office hours as the pure core wants them (validated at load).
    pub fn office_hours(&self) -> crate::core::meter::OfficeHours {
        let mut h = crate::core::meter::OfficeHours::default();
        for (day, span) in &self.hours {
            let _ = h.set_day(day, span);
        }
        h.holidays = self
            .holidays
            .iter()
            .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .collect();
        h
    }
}

/// Currencies the IVR can say a balance in (each has `currency_<code>_major/minor` prompts).
pub const CURRENCIES: [&str; 3] = ["RUB", "UAH", "AZN"];

pub(super) fn default_service_codes() -> BTreeMap<String, ServiceAction> {
    [
        ("300", ServiceAction::PauseResume),
        ("301", ServiceAction::Notice),
        ("302", ServiceAction::NoticeConfirm),
        ("309", ServiceAction::Progress),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
