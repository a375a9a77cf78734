//! Each trunk's service state in Redis, written by the trunk-health service of every
//! instance and read by `contactd trunks` and `/metrics`: so the CLI (another process)
//! sees what the daemon sees, with the time it was last said.
//!
//! Keys: `trunks:state` (hash trunk → `state|since_unix|alarms|updated_unix`),
//! `trunks:alarms` (hash trunk → alarms raised so far), `trunks:alerted:<switch>:<span>`
//! (the alarm episode whose e-mail is queued: one e-mail per episode across instances).

use std::collections::HashMap;

use redis::AsyncCommands;

use crate::core::trunks::TrunkState;
use crate::store::redis::LiveState;
use crate::store::StoreError;

/// One trunk's state as last published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    pub state: TrunkState,
    /// When it entered this state (unix seconds).
    pub since_unix: i64,
    /// The span's alarm names (`red`, `ais`...) while in alarm; may be empty (a resync).
    pub alarms: String,
    /// When an instance last wrote it.
    pub updated_unix: i64,
}

impl TrunkStatus {
    fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.state.label(),
            self.since_unix,
            self.alarms.replace('|', ","),
            self.updated_unix
        )
    }

    fn decode(s: &str) -> Option<Self> {
        let mut p = s.split('|');
        Some(Self {
            state: TrunkState::parse(p.next()?)?,
            since_unix: p.next()?.parse().ok()?,
            alarms: p.next()?.to_string(),
            updated_unix: p.next()?.parse().ok()?,
        })
    }
}

pub async fn publish(live: &LiveState, trunk: &str, st: &TrunkStatus) -> Result<(), StoreError> {
    let mut c = live.conn();
    let _: () = c
        .hset(live.key(&["trunks", "state"]), trunk, st.encode())
        .await?;
    Ok(())
}

pub async fn read_all(live: &LiveState) -> Result<HashMap<String, TrunkStatus>, StoreError> {
    let mut c = live.conn();
    let raw: HashMap<String, String> = c.hgetall(live.key(&["trunks", "state"])).await?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| Some((k, TrunkStatus::decode(&v)?)))
        .collect())
}

/// Counts one more alarm on `trunk` (for `/metrics`).
pub async fn count_alarm(live: &LiveState, trunk: &str) -> Result<(), StoreError> {
    let mut c = live.conn();
    let _: i64 = c.hincr(live.key(&["trunks", "alarms"]), trunk, 1).await?;
    Ok(())
}

pub async fn alarm_counts(live: &LiveState) -> Result<HashMap<String, u64>, StoreError> {
    let mut c = live.conn();
    Ok(c.hgetall(live.key(&["trunks", "alarms"])).await?)
}

/// Claims the e-mail of a span's alarm episode: true for the first instance to ask, false
/// while the episode lasts (another instance, or this one again after a resync).
pub async fn claim_alert(live: &LiveState, switch: &str, span: &str) -> Result<bool, StoreError> {
    let mut c = live.conn();
    let set: bool = redis::cmd("SET")
        .arg(live.key(&["trunks", "alerted", switch, span]))
        .arg(1)
        .arg("NX")
        .query_async::<Option<String>>(&mut c)
        .await?
        .is_some();
    Ok(set)
}

/// How long a cleared episode's mark outlives the clear. Every instance reads the same
/// switch's events, some later than others: a slow instance's alarm event of an episode a
/// faster one has already seen cleared must still find the mark, or the sysadmins get the
/// episode twice. A span flapping within this time is one episode too.
pub const ALERT_QUIET_MS: u64 = 60_000;

/// The episode is over (the span cleared): an alarm after [`ALERT_QUIET_MS`] is mailed again.
pub async fn end_alert(live: &LiveState, switch: &str, span: &str) -> Result<(), StoreError> {
    let mut c = live.conn();
    let _: i64 = c
        .pexpire(
            live.key(&["trunks", "alerted", switch, span]),
            ALERT_QUIET_MS as i64,
        )
        .await?;
    Ok(())
}

/// Gives the episode's mail back (it could not be queued): the next event or resync tries.
pub async fn unclaim_alert(live: &LiveState, switch: &str, span: &str) -> Result<(), StoreError> {
    let mut c = live.conn();
    let _: i64 = c
        .del(live.key(&["trunks", "alerted", switch, span]))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_survives_its_encoding() {
        let s = TrunkStatus {
            state: TrunkState::Alarm,
            since_unix: 1_764_676_800,
            alarms: "red|ais".into(),
            updated_unix: 1_764_676_801,
        };
        let back = TrunkStatus::decode(&s.encode()).unwrap();
        assert_eq!(back.alarms, "red,ais");
        assert_eq!(back.state, TrunkState::Alarm);
        assert_eq!(TrunkStatus::decode("nonsense"), None);
    }
}
