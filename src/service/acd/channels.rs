//! The switch's channel list as the ACD reads it: what an offer resumed after a fault and
//! a rebuild of the live state both look at. Kept apart from both so neither needs the
//! other.

use super::{Acd, AcdError};

/// One row of `show channels as json`, the columns the ACD looks at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chan {
    pub uuid: String,
    pub direction: String,
    pub application: String,
    pub context: String,
    pub answered: bool,
    pub created_epoch: i64,
    pub cid_num: String,
}

/// The switch's live channels now.
pub(crate) async fn switch_channels(acd: &Acd) -> Result<Vec<Chan>, AcdError> {
    let body = acd
        .inner
        .link
        .api("show channels as json")
        .await
        .map_err(|e| AcdError::Switch(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(body.trim())
        .map_err(|e| AcdError::Switch(format!("show channels as json: {e}")))?;
    let rows = v
        .get("rows")
        .and_then(|r| r.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(rows
        .iter()
        .filter_map(|r| {
            let s = |k: &str| {
                r.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let uuid = s("uuid");
            (!uuid.is_empty()).then(|| Chan {
                uuid,
                direction: s("direction"),
                application: s("application"),
                context: s("context"),
                answered: matches!(s("callstate").as_str(), "ACTIVE" | "HELD"),
                created_epoch: s("created_epoch").parse().unwrap_or(0),
                cid_num: s("cid_num"),
            })
        })
        .collect())
}

/// Whose operator leg channel `uuid` is, as its offer's originate named it: the operator and
/// the call it was rung for (None: not an operator's leg).
pub(crate) async fn operator_leg(
    acd: &Acd,
    uuid: &str,
) -> Result<Option<(String, Option<String>)>, AcdError> {
    let link = &acd.inner.link;
    let var = |name: &'static str| async move {
        link.getvar(uuid, name)
            .await
            .map_err(|e| AcdError::Switch(e.to_string()))
    };
    let Some(op) = var("contactd_operator").await? else {
        return Ok(None);
    };
    Ok(Some((op, var("contactd_acd_call").await?)))
}
