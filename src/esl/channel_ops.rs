//! Channel commands over the control link, typed: the uuid is checked, the command is built
//! by the ESL crate's builders (`UuidKill`, `UuidBridge`, `UuidSetVar`, `UuidTransfer`)
//! where it has one, and a hangup cause is a `HangupCause`, never free text. Services call
//! these instead of formatting `uuid_*` strings.

use freeswitch_esl_tokio::{HangupCause, UuidBridge, UuidKill, UuidSetVar};

use super::control::{LinkError, SwitchLink};
use crate::core::values::{ChannelUuid, InvalidValue, MediaFile};

impl SwitchLink {
    pub(super) fn checked(&self, uuid: &str) -> Result<ChannelUuid, LinkError> {
        ChannelUuid::parse(uuid).map_err(|e: InvalidValue| self.refused(e.to_string()))
    }

    pub(super) fn refused(&self, why: String) -> LinkError {
        LinkError::Invalid {
            node: self.name().to_string(),
            what: why,
        }
    }

    /// `uuid_exists`: is the channel still on the switch?
    pub async fn exists(&self, uuid: &str) -> Result<bool, LinkError> {
        let uuid = self.checked(uuid)?;
        Ok(self.api(&format!("uuid_exists {uuid}")).await?.trim() == "true")
    }

    /// `uuid_kill <uuid> <cause>`; the switch's reply (`+OK`, or `-ERR No such channel!`).
    pub async fn kill(&self, uuid: &str, cause: HangupCause) -> Result<String, LinkError> {
        let uuid = self.checked(uuid)?;
        self.api(&UuidKill::with_cause(uuid.as_str(), cause).to_string())
            .await
    }

    /// `uuid_bridge <a> <b>`; the switch's reply (`+OK <b>` or `-ERR …`).
    pub async fn bridge(&self, a: &str, b: &str) -> Result<String, LinkError> {
        let (a, b) = (self.checked(a)?, self.checked(b)?);
        self.api(&UuidBridge::new(a.as_str(), b.as_str()).to_string())
            .await
    }

    /// [`Self::bridge`] that outlasts a dropped link: a bridge lost on the way (the link
    /// down, or dropping as it was sent) is sent again once the link is back, up to 3 times
    /// within a minute each. uuid_bridge of two legs already bridged together does no harm.
    pub async fn bridge_once_linked(&self, a: &str, b: &str) -> Result<String, LinkError> {
        let mut tries = 0;
        loop {
            match self.bridge(a, b).await {
                Err(e) if e.is_retryable() && tries < 3 => {
                    tries += 1;
                    // the link may not have noticed its loss yet (it would still say
                    // connected): a moment for it to, then until it is back
                    let mut status = self.watch_status();
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        status.wait_for(|s| *s != super::control::LinkStatus::Connected),
                    )
                    .await;
                    if !self
                        .wait_connected(std::time::Duration::from_secs(60))
                        .await
                    {
                        return Err(e);
                    }
                }
                r => return r,
            }
        }
    }

    /// `uuid_record <uuid> start <path>`: the api form of `record_session` (one
    /// switch_ivr_record_session_event: the directory is made, the file opened and a media
    /// bug added before the reply), so the reply says whether the recording runs: `+OK
    /// Success` or `-ERR Cannot record session!`. The bug stays through bridges until
    /// hangup. The path is one plain file path (the api splits on spaces).
    pub async fn record_start(&self, uuid: &str, path: &str) -> Result<String, LinkError> {
        let uuid = self.checked(uuid)?;
        let file = MediaFile::parse_path(path).map_err(|e| self.refused(e.to_string()))?;
        self.api(&format!("uuid_record {uuid} start {}", file.as_str()))
            .await
    }

    /// `uuid_break <uuid> all`: stops what the channel is playing, queued prompts included.
    pub async fn break_all(&self, uuid: &str) -> Result<String, LinkError> {
        let uuid = self.checked(uuid)?;
        self.api(&format!("uuid_break {uuid} all")).await
    }

    /// Whether the switch says `uuid` is bridged now (`bridge_uuid` set); false when it
    /// cannot say (no such channel, link down).
    pub async fn bridged(&self, uuid: &str) -> bool {
        matches!(self.getvar(uuid, "bridge_uuid").await, Ok(Some(v)) if !v.is_empty())
    }

    /// `sched_del <uuid>`: cancels the tasks the switch's scheduler holds for the channel
    /// (`sched_broadcast` makes the channel's uuid their group).
    pub async fn sched_del(&self, uuid: &str) -> Result<String, LinkError> {
        let uuid = self.checked(uuid)?;
        self.api(&format!("sched_del {uuid}")).await
    }

    /// `uuid_setvar <uuid> <name> <value>`: the name is a plain variable name and the value
    /// one line (the switch takes the rest of the line as the value, spaces included), so
    /// nothing can be appended to the command.
    pub async fn setvar(&self, uuid: &str, name: &str, value: &str) -> Result<String, LinkError> {
        let uuid = self.checked(uuid)?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(self.refused(format!("bad variable name {name:?}")));
        }
        if value.trim().is_empty() || value.bytes().any(|b| b.is_ascii_control()) {
            return Err(self.refused(format!("bad value for {name}: {value:?}")));
        }
        self.api(&UuidSetVar::new(uuid.as_str(), name, value).to_string())
            .await
    }
}
