//! `acd:dispo_due`, hash operator → campaign call: an operator who talked with a person of
//! an operator campaign owes that call's disposition; until it is set they stay in after-call
//! work (neither their own "ready" nor the end of the wrap-up time makes them ready).

use super::{AcdStore, StoreError};

const HASH: &str = "dispo_due";

impl AcdStore {
    /// `agent` owes the disposition of `call` (set when the campaign call is bridged).
    pub async fn set_disposition_due(&self, agent: &str, call: &str) -> Result<(), StoreError> {
        self.hset(HASH, agent, call).await
    }

    /// The campaign call whose disposition `agent` still owes, if any.
    pub async fn disposition_due(&self, agent: &str) -> Result<Option<String>, StoreError> {
        self.hget(HASH, agent).await
    }

    /// The disposition of `call` was set: `agent` owes nothing more (unless a later call).
    pub async fn clear_disposition_due(&self, agent: &str, call: &str) -> Result<(), StoreError> {
        if self.hget(HASH, agent).await?.as_deref() == Some(call) {
            self.hdel(HASH, agent).await?;
        }
        Ok(())
    }
}
