//! Places one outbound call safely: line lease first (atomic, Redis), call row second
//! (PostgreSQL, keyed by the `origination_uuid`), `bgapi originate` last. A crash between
//! any two steps leaves something a restart can reconcile, never a call nobody knows about.

use std::time::Duration;

use tracing::{info, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::TrunkConfig;
use crate::core::call::CallState;
use crate::core::values::{ChannelUuid, InvalidValue, PhoneNumber};
use crate::esl::commands::{AfterAnswer, Originate};
use crate::esl::control::{LinkError, SwitchLink};
use crate::service::notice_call::END_REALM;
use crate::store::postgres::{CallEnd, Calls, NewCall};
use crate::store::redis::{LineRefused, LiveState};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("no free line: {0:?}")]
    NoLine(LineRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The originate was sent but its result was lost with the connection (or never came):
    /// the channel may exist. Never a failure to retry: look it up once the link is back.
    #[error("originate {uuid} not confirmed: {reason}")]
    Unconfirmed { uuid: Uuid, reason: LinkError },
}

impl DialError {
    /// Nothing reached the switch: the subscriber was not called.
    pub fn not_sent(&self) -> bool {
        match self {
            DialError::NoLine(_) | DialError::Store(_) => true,
            DialError::Link(LinkError::NotConnected(_)) => true,
            DialError::Invalid(_) | DialError::Link(_) | DialError::Unconfirmed { .. } => false,
        }
    }
}

/// What the switch said about the originate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialResult {
    /// Answered; the channel lives on and will be recorded by its events.
    Answered(Uuid),
    /// Not answered: the raw FreeSWITCH cause (`USER_BUSY`, `NO_ANSWER`...).
    Failed { uuid: Uuid, cause: String },
}

pub struct CallRequest<'a> {
    /// The `origination_uuid`: chosen by the caller so it can watch the call and write its
    /// own rows under this key before the originate.
    pub uuid: ChannelUuid,
    /// Caller ID presented to the subscriber.
    pub caller_id: Option<&'a str>,
    pub trunk_name: &'a str,
    pub trunk: &'a TrunkConfig,
    pub number: &'a str,
    pub then: AfterAnswer,
    pub purpose: &'a str,
    /// Line budget (a campaign id) the call counts against, with its size.
    pub budget: &'a str,
    pub budget_lines: u32,
    pub ring_secs: u32,
}

pub async fn place_call(
    link: &SwitchLink,
    clock: &Clock,
    calls: &Calls,
    live: &LiveState,
    req: CallRequest<'_>,
) -> Result<DialResult, DialError> {
    let (orig, number) = originate_of(&req)?;
    let uuid = req.uuid.clone();
    live.acquire_line(
        req.trunk_name,
        req.trunk.channels,
        req.budget,
        req.budget_lines,
        uuid.as_str(),
    )
    .await?
    .map_err(DialError::NoLine)?;
    let id = Uuid::parse_str(uuid.as_str()).expect("validated uuid");
    let row = NewCall {
        uuid: id,
        node: link.name(),
        direction: "outbound",
        purpose: req.purpose,
        trunk: Some(req.trunk_name),
        number: Some(number.as_str()),
        entry: None,
        state: CallState::Dialing.as_str(),
    };
    if let Err(e) = calls.insert(&row).await {
        live.release_line(req.trunk_name, req.budget, uuid.as_str(), Duration::ZERO)
            .await?;
        return Err(e.into());
    }
    send(link, clock, calls, live, &req, &orig, &number).await
}

/// [`place_call`] for a call whose line lease is held and whose call row is committed
/// already (`service::dial_batch` does both for a whole batch): the originate alone. An
/// invalid number fails here before anything is sent, its lease released. The switch notes
/// the call's end itself (`Originate::note_end`): the campaign's recovery reads it for a
/// call that ended while nobody followed it.
pub async fn place_prepared_call(
    link: &SwitchLink,
    clock: &Clock,
    calls: &Calls,
    live: &LiveState,
    req: CallRequest<'_>,
) -> Result<DialResult, DialError> {
    let noted = originate_of(&req).and_then(|(o, n)| Ok((o.note_end(END_REALM)?, n)));
    let (orig, number) = match noted {
        Ok(o) => o,
        Err(e) => {
            release(live, &req).await;
            return Err(e);
        }
    };
    send(link, clock, calls, live, &req, &orig, &number).await
}

/// The originate `req` asks for, with its number checked.
fn originate_of(req: &CallRequest<'_>) -> Result<(Originate, PhoneNumber), DialError> {
    let number = PhoneNumber::parse(req.number)?;
    let mut orig = Originate::new(&req.trunk.dial, &number, req.uuid.clone(), req.then.clone())
        .var("contactd_trunk", req.trunk_name)?
        .var("contactd_budget", req.budget)?;
    if let Some(cid) = req.caller_id {
        orig = orig.var(
            "origination_caller_id_number",
            PhoneNumber::parse(cid)?.as_str(),
        )?;
    }
    orig.timeout_secs = req.ring_secs;
    Ok((orig, number))
}

/// Gives back `req`'s line lease (a failed release is redone by the lease rebuild).
pub async fn release(live: &LiveState, req: &CallRequest<'_>) {
    let uuid = req.uuid.as_str();
    live.forget_held(uuid);
    if let Err(e) = live
        .release_line(req.trunk_name, req.budget, uuid, Duration::ZERO)
        .await
    {
        warn!(%uuid, trunk = req.trunk_name, "line not released now: {e}");
    }
}

/// Sends the originate (lease held, call row written) and reads the switch's answer.
async fn send(
    link: &SwitchLink,
    clock: &Clock,
    calls: &Calls,
    live: &LiveState,
    req: &CallRequest<'_>,
    orig: &Originate,
    number: &PhoneNumber,
) -> Result<DialResult, DialError> {
    let uuid = req.uuid.clone();
    let id = Uuid::parse_str(uuid.as_str()).expect("validated uuid");
    info!(%uuid, number = %number, trunk = req.trunk_name, "originate");
    let deadline = Duration::from_secs(u64::from(req.ring_secs) + 30);
    let body = match link.bgapi(&orig.command(), deadline).await {
        Ok(body) => body,
        Err(e @ LinkError::NotConnected(_)) => {
            // Never written to the switch.
            release(live, req).await;
            return Err(e.into());
        }
        Err(e) => {
            // The originate may or may not have reached the switch: the lease and the row
            // stay until the channel is looked up.
            warn!(%uuid, "originate not confirmed: {e}");
            return Err(DialError::Unconfirmed {
                uuid: id,
                reason: e,
            });
        }
    };
    let body = body.trim();
    if body.starts_with("+OK") {
        return Ok(DialResult::Answered(id));
    }
    let cause = body
        .strip_prefix("-ERR ")
        .unwrap_or(body)
        .trim()
        .to_string();
    // No channel may ever have existed (CHAN_NOT_IMPLEMENTED, congestion): end it here;
    // if one did, its HANGUP_COMPLETE carries the same cause and changes nothing.
    // A release that fails is redone by the lease rebuild; the attempt's result stands.
    // A channel that was seized (busy, no answer) is still clearing on the trunk.
    let guard = if crate::core::campaign::outcome::no_line(&cause) {
        Duration::ZERO
    } else {
        req.trunk.release_guard()
    };
    if let Err(e) = live
        .release_line(req.trunk_name, req.budget, uuid.as_str(), guard)
        .await
    {
        warn!(%uuid, "line lease not released: {e}");
    }
    if let Err(e) = calls
        .record_end(&CallEnd {
            uuid: id,
            cause: &cause,
            // the channel's own code wins if its HANGUP_COMPLETE came first (COALESCE)
            q850: crate::core::campaign::outcome::q850_of(&cause),
            billsec: None,
            answered_at: None,
            ended_at: clock.now(),
            hungup_by: "unknown",
            state: CallState::Failed.as_str(),
        })
        .await
    {
        warn!(%uuid, "failed call's end not recorded: {e}");
    }
    Ok(DialResult::Failed { uuid: id, cause })
}
