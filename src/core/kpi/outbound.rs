//! Operator campaigns' outbound figures per interval, shown apart from the queues' (whose
//! service level, ASA and abandons are about callers waiting, inbound only). A call counts
//! in the interval a person **answered** it:
//!
//! - **answered** = answered by a person (machines, announcements, fax, silence never reach
//!   an operator and are not counted here);
//! - **connected** = bridged to an operator; **abandoned** = the legal definition: no
//!   operator within `[campaigns.operator] connect_within` of the answer (the abandon
//!   message played); a person who hung up before either is neither;
//! - **abandon rate** = abandoned ÷ answered; **AHT** = mean talk + after-call work (until
//!   the disposition) of connected calls whose talk has ended.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ratio;

/// One campaign's counts in one interval, as the SQL returns them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignCounts {
    pub answered: u64,
    pub connected: u64,
    pub abandoned: u64,
    pub talk_s: f64,
    pub wrap_up_s: f64,
    /// Connected calls whose talk has ended.
    pub handled: u64,
}

/// One operator campaign's outbound KPIs in one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignKpi {
    pub start: DateTime<Utc>,
    pub campaign_id: i64,
    pub campaign: String,
    pub answered: u64,
    pub connected: u64,
    pub abandoned: u64,
    /// 0..=1 of the answered.
    pub abandon_rate: Option<f64>,
    pub talk_s: f64,
    pub wrap_up_s: f64,
    /// Talk + after-call work.
    pub aht_s: Option<f64>,
}

impl CampaignKpi {
    pub fn new(
        start: DateTime<Utc>,
        campaign_id: i64,
        campaign: String,
        c: &CampaignCounts,
    ) -> Self {
        Self {
            start,
            campaign_id,
            campaign,
            answered: c.answered,
            connected: c.connected,
            abandoned: c.abandoned,
            abandon_rate: ratio(c.abandoned as f64, c.answered as f64),
            talk_s: c.talk_s,
            wrap_up_s: c.wrap_up_s,
            aht_s: ratio(c.talk_s + c.wrap_up_s, c.handled as f64),
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}", v * 100.0))
}

/// The campaigns' table of `contactd kpi` (empty when there were no campaign calls).
pub fn render_campaigns_text<Tz: chrono::TimeZone>(r: &[CampaignKpi], zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = String::new();
    if r.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:<20} {:>8} {:>9} {:>9} {:>7} {:>9} {:>7}",
        "interval",
        "outbound campaign",
        "answered",
        "connected",
        "abandoned",
        "ab. %",
        "talk",
        "AHT s"
    );
    for c in r {
        let _ = writeln!(
            out,
            "{:<16} {:<20} {:>8} {:>9} {:>9} {:>7} {:>9} {:>7}",
            c.start.with_timezone(zone).format("%Y-%m-%d %H:%M"),
            c.campaign,
            c.answered,
            c.connected,
            c.abandoned,
            pct(c.abandon_rate),
            super::hms(c.talk_s),
            c.aht_s.map_or("-".into(), |v| format!("{v:.1}")),
        );
    }
    out
}

/// The campaigns as CSV.
pub fn render_campaigns_csv<Tz: chrono::TimeZone>(r: &[CampaignKpi], zone: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = String::from(
        "start,campaign_id,campaign,answered,connected,abandoned,abandon_rate_pct,talk_s,wrap_up_s,aht_s\n",
    );
    for c in r {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.1},{:.1},{}",
            c.start.with_timezone(zone).format("%Y-%m-%d %H:%M"),
            c.campaign_id,
            super::render::csv_field(&c.campaign),
            c.answered,
            c.connected,
            c.abandoned,
            c.abandon_rate
                .map_or(String::new(), |v| format!("{:.1}", v * 100.0)),
            c.talk_s,
            c.wrap_up_s,
            c.aht_s.map_or(String::new(), |v| format!("{v:.1}")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandon_rate_is_over_answered_persons_and_aht_over_handled_calls() {
        let c = CampaignCounts {
            answered: 40,
            connected: 38,
            abandoned: 1,
            talk_s: 3000.0,
            wrap_up_s: 600.0,
            handled: 36,
        };
        let k = CampaignKpi::new(Utc::now(), 7, "renewals".into(), &c);
        assert_eq!(k.abandon_rate, Some(1.0 / 40.0));
        assert_eq!(k.aht_s, Some(100.0));
        let none = CampaignKpi::new(k.start, 7, "x".into(), &CampaignCounts::default());
        assert_eq!((none.abandon_rate, none.aht_s), (None, None));
        let text = render_campaigns_text(std::slice::from_ref(&k), &Utc);
        assert!(text.contains("renewals") && text.contains("2.5"), "{text}");
        let csv = render_campaigns_csv(&[k], &Utc);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .contains(",7,renewals,40,38,1,2.5,3000.0,600.0,100.0"),
            "{csv}"
        );
    }
}
