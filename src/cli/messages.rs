//! `contactd messages ls --call UUID | --campaign ID`: the e-mail and SMS sent during calls,
//! each with its state and every send attempt (when, by which instance, what the provider
//! said).

use deadpool_postgres::Pool;
use uuid::Uuid;

use super::exit::Exit;
use crate::core::lists::printable;
use crate::store::messages::{self as store, MessageRow, Of};
use crate::store::StoreError;

#[derive(Debug, clap::Subcommand)]
pub enum MessagesCommand {
    /// The messages of one call or one campaign, oldest first, with their attempts.
    Ls {
        /// A call's uuid.
        #[arg(
            long,
            conflicts_with = "campaign",
            required_unless_present = "campaign"
        )]
        call: Option<String>,
        /// A campaign's id.
        #[arg(long)]
        campaign: Option<i64>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MessagesCliError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MessagesCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            MessagesCliError::Invalid(_) => Exit::DataErr,
            MessagesCliError::Store(e) if e.is_retryable() => Exit::Unavailable,
            MessagesCliError::Store(_) => Exit::Software,
        }
    }
}

pub async fn run_messages(cmd: MessagesCommand, pool: &Pool) -> Result<String, MessagesCliError> {
    match cmd {
        MessagesCommand::Ls { call, campaign } => {
            let of = match (call, campaign) {
                (Some(c), _) => Of::Call(Uuid::parse_str(&c).map_err(|_| {
                    MessagesCliError::Invalid(format!("--call {:?}: not a uuid", printable(&c)))
                })?),
                (None, Some(id)) => Of::Campaign(id),
                (None, None) => {
                    return Err(MessagesCliError::Invalid(
                        "give --call UUID or --campaign ID".into(),
                    ))
                }
            };
            Ok(render(&store::list(pool, of).await?))
        }
    }
}

/// One block per message: a line for it, one per attempt.
pub fn render(rows: &[MessageRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no messages\n");
    }
    for m in rows {
        out.push_str(&format!(
            "{:>6}  {:<7} {:<5} {:<24} {:<14} {}  call {}  tries {}{}\n",
            m.id,
            m.state,
            m.channel,
            printable(&m.recipient),
            printable(&m.template),
            printable(&m.trigger),
            m.call_uuid,
            m.tries,
            m.sent_at
                .map(|t| format!("  sent {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default(),
        ));
        if let Some(e) = &m.last_error {
            out.push_str(&format!("        last error: {}\n", printable(e)));
        }
        for a in &m.attempts {
            out.push_str(&format!(
                "        #{} {} {} {}{}\n",
                a.attempt_no,
                a.started_at.format("%Y-%m-%d %H:%M:%S"),
                printable(&a.instance),
                a.result,
                a.error
                    .as_deref()
                    .or(a.provider_id.as_deref())
                    .map(|s| format!(": {}", printable(s)))
                    .unwrap_or_default()
            ));
        }
    }
    out
}
