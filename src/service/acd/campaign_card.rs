//! What the operator's screen pop shows of an operator-campaign call: the campaign, the
//! contact's row as imported (name, account, the extra columns) and the call script's URL.

use serde::{Deserialize, Serialize};

use crate::store::op_campaigns::ContactRow;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CampaignCard {
    pub campaign: i64,
    pub name: String,
    pub mode: String,
    pub script_url: Option<String>,
    pub contact: ContactCard,
    /// The dispositions the operator chooses from after the call.
    pub dispositions: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ContactCard {
    pub id: i64,
    pub phone: String,
    pub name: String,
    pub account: String,
    /// The list's extra columns.
    pub extra: serde_json::Value,
}

impl From<ContactRow> for ContactCard {
    fn from(r: ContactRow) -> Self {
        Self {
            id: r.id,
            phone: r.phone,
            name: r.name,
            account: r.account,
            extra: r.extra,
        }
    }
}
