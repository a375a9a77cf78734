//! What a message's template is filled from: the call's contact and account, read for one
//! call (`call_context`) or one contact (`contact_context`).

use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::core::messages::{money, Fields, EXTRA};
use crate::store::StoreError;

/// What a template can be filled from: the call's contact (a campaign's subscriber: the
/// list row with its own columns, and the account card of its account), the caller's
/// account card (an operator's call), the operator, or the call record alone.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The number of the other party, E.164 when known.
    pub phone: Option<String>,
    /// The contact's e-mail (a list column `email`, `e-mail` or `mail`).
    pub email: Option<String>,
    pub campaign_id: Option<i64>,
    /// Every placeholder this call has a value for (`core::messages::PLACEHOLDERS` and
    /// `extra.COLUMN`); the service adds `date`.
    pub fields: Fields,
}

/// The list row's e-mail column, under any of the usual headers.
fn email_of(extra: &serde_json::Value) -> Option<String> {
    ["email", "e-mail", "Email", "E-mail", "EMAIL", "mail"]
        .iter()
        .find_map(|k| extra.get(*k).and_then(|v| v.as_str()))
        .map(str::to_string)
}

/// The parts a context is made of, as the queries read them.
#[derive(Default)]
struct Parts {
    phone: Option<String>,
    name: Option<String>,
    account: Option<String>,
    campaign: Option<String>,
    campaign_id: Option<i64>,
    extra: Option<serde_json::Value>,
    balance_minor: Option<i64>,
    operator: Option<String>,
}

impl Parts {
    fn context(self) -> CallContext {
        let extra = self.extra.unwrap_or_default();
        let email = email_of(&extra);
        let mut f = Fields::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                f.insert(k.to_string(), v);
            }
        };
        put("phone", self.phone.clone());
        put("name", self.name);
        put("account", self.account);
        put("campaign", self.campaign);
        put("email", email.clone());
        put("operator", self.operator);
        put("balance", self.balance_minor.map(money));
        // what is owed: a negative balance; none owed is 0.00, not a missing field
        put(
            "debt",
            self.balance_minor.map(|b| money(b.min(0).saturating_neg())),
        );
        if let Some(cols) = extra.as_object() {
            for (k, v) in cols {
                let v = match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
                put(&format!("{EXTRA}{k}"), v);
            }
        }
        CallContext {
            phone: self.phone,
            email,
            campaign_id: self.campaign_id,
            fields: f,
        }
    }
}

/// A campaign's subscriber: the list row, its campaign and its account card. `$1`/`$2` are
/// the campaign and the contact, or (with `ATTEMPT`/`OPERATOR_CALL`) the call.
const CONTACT: &str =
    "SELECT ct.phone, ct.name, ct.account, c.name, c.id, ct.extra, acc.balance_minor";
const CONTACT_JOINS: &str = "JOIN contacts ct ON ct.id = x.contact_id
     JOIN campaigns c ON c.id = x.campaign_id
     LEFT JOIN accounts acc ON acc.number = ct.account";

fn contact_parts(r: &tokio_postgres::Row) -> Parts {
    Parts {
        phone: r.get(0),
        name: r.get(1),
        account: r.get(2),
        campaign: r.get(3),
        campaign_id: r.get(4),
        extra: r.get(5),
        balance_minor: r.get(6),
        operator: None,
    }
}

/// Subscriber `contact` of campaign `campaign` as a template sees them (a notice campaign's
/// rules are filled from this when the call is placed, while PostgreSQL is reachable).
pub async fn contact_context(
    pool: &Pool,
    campaign: i64,
    contact: i64,
) -> Result<Option<CallContext>, StoreError> {
    let db = pool.get().await?;
    let sql = format!(
        "{CONTACT} FROM (SELECT $1::bigint AS campaign_id, $2::bigint AS contact_id) x {CONTACT_JOINS}"
    );
    let r = db.query_opt(&sql, &[&campaign, &contact]).await?;
    Ok(r.map(|r| contact_parts(&r).context()))
}

/// The call `uuid` as a message template sees it; None if contactd has no record of it.
pub async fn call_context(pool: &Pool, uuid: Uuid) -> Result<Option<CallContext>, StoreError> {
    let db = pool.get().await?;
    // a notice campaign's call
    let sql = format!("{CONTACT} FROM attempts x {CONTACT_JOINS} WHERE x.uuid = $1");
    if let Some(r) = db.query_opt(&sql, &[&uuid]).await? {
        return Ok(Some(contact_parts(&r).context()));
    }
    // an operator campaign's call: its subscriber and the operator who took it
    let sql = format!(
        "{CONTACT}, o.name FROM operator_calls x {CONTACT_JOINS}
         LEFT JOIN operators o ON o.login = x.operator WHERE x.uuid = $1"
    );
    if let Some(r) = db.query_opt(&sql, &[&uuid]).await? {
        let mut p = contact_parts(&r);
        p.operator = r.get(7);
        return Ok(Some(p.context()));
    }
    // an operator's inbound call: the caller, the account offered on the screen pop, and
    // the operator who answered
    if let Some(r) = db
        .query_opt(
            "SELECT q.caller, a.holder, q.account, a.balance_minor, o.name FROM acd_calls q
             LEFT JOIN accounts a ON a.number = q.account
             LEFT JOIN operators o ON o.id = q.operator
             WHERE q.call_uuid = $1",
            &[&uuid],
        )
        .await?
    {
        return Ok(Some(
            Parts {
                phone: r.get(0),
                name: r.get(1),
                account: r.get(2),
                balance_minor: r.get(3),
                operator: r.get(4),
                ..Default::default()
            }
            .context(),
        ));
    }
    let r = db
        .query_opt("SELECT number FROM calls WHERE uuid = $1", &[&uuid])
        .await?;
    Ok(r.map(|r| {
        Parts {
            phone: r.get(0),
            ..Default::default()
        }
        .context()
    }))
}
