//! `POST /api/v1/readings`: meter readings from the web form or a messenger bot, checked by
//! the same pure function as the IVR (`core::meter::check_submission`, run inside the
//! storing transaction) and stored the same way. Errors name the field and the rule:
//! 422 `{"error", "field", "rule"}`, 404 for an unknown account; the token is checked by
//! the API's middleware (401).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::HttpState;
use crate::store::accounts::{self as store, Provenance, StoreReadingsError};

pub fn routes() -> Router<Arc<HttpState>> {
    Router::new().route("/api/v1/readings", post(submit))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Submission {
    account: String,
    #[serde(default)]
    meter: Option<String>,
    zones: Vec<ZoneValue>,
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneValue {
    zone: u8,
    /// A string of digits (`"04512"`) or a non-negative integer.
    value: Value,
}

fn refuse(code: StatusCode, field: &str, rule: &str, error: impl std::fmt::Display) -> Response {
    (
        code,
        Json(json!({"error": error.to_string(), "field": field, "rule": rule})),
    )
        .into_response()
}

fn unprocessable(field: &str, rule: &str, error: impl std::fmt::Display) -> Response {
    refuse(StatusCode::UNPROCESSABLE_ENTITY, field, rule, error)
}

/// The value as the caller would key it; anything but digits is left for the check to refuse.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Longest meter serial a body may name (as `accounts import` accepts them).
pub const MAX_METER_CHARS: usize = 40;

/// A body as far as it can be checked without the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSubmission {
    /// Digits, within the configured length (and check digit).
    pub account: String,
    pub meter: Option<String>,
    /// `(zone, value as keyed)` in body order; checked against the meter when stored.
    pub entries: Vec<(u8, String)>,
    /// `web` or `messenger`.
    pub source: &'static str,
}

/// A refused body: the 422 answer `{"error", "field", "rule"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `body` for JSON that does not fit (the error then starts with the path that did not,
    /// e.g. `zones[0].zone: invalid type…`), else the field refused.
    pub field: String,
    pub rule: &'static str,
    pub error: String,
}

impl Refusal {
    fn new(field: &str, rule: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            field: field.to_string(),
            rule,
            error: error.to_string(),
        }
    }
}

/// Parses and checks a `POST /api/v1/readings` body: JSON shape, source, account number,
/// meter serial. Never panics, whatever the bytes.
pub fn parse_submission(
    body: &[u8],
    rules: crate::core::meter::AccountRules,
) -> Result<ParsedSubmission, Refusal> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let sub: Submission = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            Refusal::new("body", "json", inner)
        } else {
            Refusal::new("body", "json", format!("{path}: {inner}"))
        }
    })?;
    de.end().map_err(|e| Refusal::new("body", "json", e))?;
    let source: &'static str = match sub.source.as_str() {
        "web" => "web",
        "messenger" => "messenger",
        _ => {
            return Err(Refusal::new(
                "source",
                "one_of",
                "source must be \"web\" or \"messenger\"",
            ))
        }
    };
    if let Err(e) = crate::core::meter::check_account_number(&sub.account, rules) {
        let rule = match e {
            crate::core::meter::AccountNumberError::NotDigits => "digits_only",
            crate::core::meter::AccountNumberError::Length { .. } => "length",
            crate::core::meter::AccountNumberError::CheckDigit => "check_digit",
        };
        return Err(Refusal::new("account", rule, e));
    }
    if let Some(m) = &sub.meter {
        if m.is_empty() || m.chars().count() > MAX_METER_CHARS || m.contains(char::is_control) {
            return Err(Refusal::new(
                "meter",
                "serial",
                format!("meter: 1 to {MAX_METER_CHARS} printable characters"),
            ));
        }
    }
    Ok(ParsedSubmission {
        account: sub.account,
        meter: sub.meter,
        entries: sub
            .zones
            .iter()
            .map(|z| (z.zone, value_text(&z.value)))
            .collect(),
        source,
    })
}

async fn submit(State(shared): State<Arc<HttpState>>, body: Bytes) -> Response {
    let acc = &shared.config.ivr;
    let rules = crate::core::meter::AccountRules {
        min_len: acc.account_min_length,
        max_len: acc.account_max_length,
        check_digit: acc.account_check_digit,
    };
    let sub = match parse_submission(&body, rules) {
        Ok(s) => s,
        Err(r) => return unprocessable(&r.field, r.rule, r.error),
    };
    let source = sub.source;
    let info = match store::account(&shared.pool, &sub.account).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "account",
                "exists",
                "no such account",
            )
        }
        Err(e) => {
            tracing::warn!(error = ?e.to_string(), "readings API: database");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "",
                "",
                "database unavailable",
            );
        }
    };
    let meter = match (&sub.meter, info.meters.as_slice()) {
        (Some(serial), ms) => ms.iter().find(|m| &m.serial == serial),
        (None, [only]) => Some(only),
        (None, []) => None,
        (None, _) => {
            return unprocessable(
                "meter",
                "required",
                "the account has several meters: name one",
            )
        }
    };
    let Some(meter) = meter else {
        return refuse(
            StatusCode::NOT_FOUND,
            "meter",
            "exists",
            "no such meter on the account",
        );
    };
    let entries = sub.entries;
    let now = chrono::Utc::now();
    let who = Provenance {
        source,
        call_uuid: None,
        caller: None,
        at: now,
        today: crate::store::accounts::local_time(&shared.config, now).date(),
    };
    let rules = crate::store::accounts::reading_rules(&shared.config);
    match store::store_readings(&shared.pool, &info.number, meter.id, &entries, rules, &who).await {
        Ok(stored) => {
            let zones: Vec<Value> = stored
                .iter()
                .map(|r| json!({"zone": r.zone, "value": r.value, "consumption": r.consumption, "rolled_over": r.rolled_over}))
                .collect();
            (
                StatusCode::CREATED,
                Json(json!({"account": info.number, "meter": meter.serial, "reading_date": who.today.to_string(), "zones": zones})),
            )
                .into_response()
        }
        Err(StoreReadingsError::Invalid(i, e)) => {
            let field = match i {
                Some(i) => format!("zones[{i}].value"),
                None => "zones".into(),
            };
            let field = match (&e, i) {
                (crate::core::meter::ReadingError::NoSuchZone { .. }, Some(i))
                | (crate::core::meter::ReadingError::DuplicateZone(_), Some(i)) => {
                    format!("zones[{i}].zone")
                }
                _ => field,
            };
            unprocessable(&field, e.rule(), e)
        }
        Err(StoreReadingsError::UnknownMeter { .. }) => refuse(
            StatusCode::NOT_FOUND,
            "meter",
            "exists",
            "no such meter on the account",
        ),
        Err(StoreReadingsError::Db(e)) => {
            tracing::warn!(error = ?e.to_string(), "readings API: database");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "",
                "",
                "database unavailable",
            )
        }
    }
}
