//! `[campaigns]` (defaults of campaigns started by phone), `[managers.NAME]` (who may start
//! them) and `[mail]` (where their reports are sent).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// Caller ID (office extension or number) the manager calls from.
    pub phone: String,
    /// Keyed after the short code; digits only.
    pub pin: Secret,
    /// Gets the campaign report too.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on localhost).
    #[default]
    None,
    /// STARTTLS upgrade, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    /// Empty: no authentication.
    pub username: String,
    pub password: Secret,
    pub from: String,
    /// Receive every campaign report.
    pub auditors: Vec<String>,
    /// Receive the alerts about the lines themselves (a FreeTDM span in alarm).
    pub sysadmins: Vec<String>,
    /// First retry delay after a failed send; doubles up to an hour. Reports are never dropped.
    pub retry_seconds: u64,
    /// Language of the campaign report (subject, text, HTML, CSV and .xlsx): `ru` or `en`.
    pub report_language: String,
    /// IANA zone the report's times are shown in (e.g. `Europe/Moscow`), named beside each.
    pub report_time_zone: String,
    /// Field separator of the report's CSV: `;`, `,` or a tab. Unset: `;` for `ru` (what
    /// Excel in a Russian locale splits on), `,` for `en`.
    pub csv_separator: Option<String>,
    /// The auditors' digest: the local time (`HH:MM` in `report_time_zone`) the day
    /// before's digest is mailed to `auditors`. Unset: no digest.
    pub digest_at: Option<String>,
    /// Also a weekly digest on Mondays, covering the seven days before.
    pub digest_weekly: bool,
    /// Days of staffing forecast the digest carries, from the day after the period.
    pub digest_forecast_days: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            tls: SmtpTls::None,
            username: String::new(),
            password: Secret::default(),
            from: "contactd <contactd@localhost>".into(),
            auditors: Vec::new(),
            sysadmins: Vec::new(),
            retry_seconds: 60,
            report_language: "en".into(),
            report_time_zone: "UTC".into(),
            csv_separator: None,
            digest_at: None,
            digest_weekly: true,
            digest_forecast_days: 7,
        }
    }
}

/// Most lines one campaign may hold: the schema's limit (`sql/003_campaigns.sql`,
/// `CHECK (lines BETWEEN 1 AND 240)`).
pub const MAX_CAMPAIGN_LINES: u32 = 240;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignDefaults {
    /// Trunk that campaigns started by phone dial on.
    pub trunk: String,
    /// Lines a campaign started by phone may hold at once.
    pub lines: u32,
    pub max_attempts: u32,
    pub retry_busy_seconds: u32,
    pub retry_no_answer_seconds: u32,
    pub ring_seconds: u32,
    /// e.g. `mon-sat`, `mon-fri`, `mon,wed,fri`.
    pub window_days: String,
    /// `HH:MM` in the subscriber's time zone.
    pub window_start: String,
    pub window_end: String,
    /// The key a subscriber presses to confirm.
    pub confirm_key: String,
    /// Where recorded messages are stored (must be readable by FreeSWITCH).
    pub audio_dir: PathBuf,
    /// Longest message a manager may record.
    pub max_message_seconds: u32,
    /// Silence that ends a recording.
    pub silence_seconds: u32,
    /// `[campaigns.operator]`: operator campaigns (preview, progressive, predictive).
    pub operator: super::dialer::OperatorCampaignConfig,
}

impl Default for CampaignDefaults {
    fn default() -> Self {
        Self {
            trunk: "e1".into(),
            lines: 5,
            max_attempts: 3,
            retry_busy_seconds: 600,
            retry_no_answer_seconds: 1800,
            ring_seconds: 30,
            window_days: "mon-sat".into(),
            window_start: "09:00".into(),
            window_end: "20:00".into(),
            confirm_key: "1".into(),
            audio_dir: PathBuf::from("/var/lib/contactd/recordings/campaigns"),
            max_message_seconds: 120,
            silence_seconds: 5,
            operator: Default::default(),
        }
    }
}
