//! What is kept about each call besides its place: meta, park flag, operator leg, pending
//! transfer, the operator it is offered to.

use crate::store::StoreError;

use super::{AcdStore, CallInfo};

impl AcdStore {
    /// What is known about a caller (JSON): number, account, IVR variables, entered at.
    pub async fn set_meta(&self, call: &str, json: &str) -> Result<(), StoreError> {
        self.hset("meta", call, json).await
    }

    pub async fn meta(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("meta", call).await
    }

    /// The caller sits in the ACD's park: commands to it (record, bridge) now take effect.
    pub async fn set_parked(&self, call: &str) -> Result<(), StoreError> {
        self.hset("parked", call, "1").await
    }

    pub async fn is_parked(&self, call: &str) -> Result<bool, StoreError> {
        Ok(self.hget("parked", call).await?.is_some())
    }

    /// Forgets the caller: its meta, park flag, operator leg, pending transfer and the
    /// instance of its offer, at once.
    pub async fn del_meta(&self, call: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for hash in ["parked", "meta", "legs", "transfers", "offer_by"] {
            pipe.cmd("HDEL").arg(self.key(hash)).arg(call).ignore();
        }
        pipe.query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Every caller contactd still holds, with its meta.
    pub async fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.hgetall("meta").await
    }

    /// The operator leg of the current offer (its origination uuid), set before the originate.
    pub async fn set_leg(&self, call: &str, leg: &str) -> Result<(), StoreError> {
        self.hset("legs", call, leg).await
    }

    pub async fn leg(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("legs", call).await
    }

    /// A transfer asked for by the API, done when the operator's leg has gone.
    pub async fn set_transfer(&self, call: &str, target: &str) -> Result<(), StoreError> {
        self.hset("transfers", call, target).await
    }

    pub async fn transfer_target(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("transfers", call).await
    }

    pub async fn del_transfer(&self, call: &str) -> Result<(), StoreError> {
        self.hdel("transfers", call).await
    }

    /// The operator this call is offered to or talking with.
    pub async fn offered_to(&self, call: &str) -> Result<Option<String>, StoreError> {
        self.hget("offers", call).await
    }

    /// `priority|seq|arrived_ms|queue` while the call is in the ACD.
    pub async fn call_info(&self, call: &str) -> Result<Option<CallInfo>, StoreError> {
        Ok(self
            .hget("calls", call)
            .await?
            .and_then(|s| CallInfo::parse(&s)))
    }
}
