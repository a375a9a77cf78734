//! The outbox: a report written once per campaign (`UNIQUE (kind, campaign_id)`), then
//! delivered by [`run_outbox`], each row claimed for the length of its SMTP conversation,
//! retried with backoff, marked `sent_at` once the server took it.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;

use super::{MailError, Mailer};
use crate::core::report::{CampaignReport, ReportLocale};

/// The outbox `kind` of a campaign report.
pub const KIND_CAMPAIGN_REPORT: &str = "campaign_report";

/// Retries never wait longer than this, whatever the number of failures.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// How long a send in flight may finish after shutdown was asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Writes the campaign's report to the outbox. Returns false when it was already there:
/// `UNIQUE (kind, campaign_id)` makes a second enqueue (a restart, a second instance) a no-op.
pub async fn enqueue_report(
    pool: &Pool,
    campaign_id: i64,
    recipients: &[String],
    report: &CampaignReport,
) -> Result<bool, MailError> {
    let to = super::recipients(recipients)?;
    let db = pool.get().await?;
    let n = db
        .execute(
            "INSERT INTO outbox (kind, campaign_id, recipients, subject, body,
                                 attachment_name, attachment)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (kind, campaign_id) DO NOTHING",
            &[
                &KIND_CAMPAIGN_REPORT,
                &campaign_id,
                &to,
                // the subject as the log and a reader of the table see it; the message is
                // rendered in the configured language when it is sent
                &report.subject(&ReportLocale::default()),
                &report.to_outbox_body(),
                &report.csv_name(),
                &report.render_csv(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// An outbox row as sent.
pub(super) struct OutboxMessage {
    pub(super) id: i64,
    pub(super) created_unix: i64,
    pub(super) recipients: Vec<String>,
    pub(super) subject: String,
    pub(super) body: String,
    pub(super) attachment_name: Option<String>,
    pub(super) attachment: Option<String>,
}

/// Delay before the next try after `tries` failures (1-based): `base * 2^(tries-1)`, at
/// most [`MAX_RETRY`].
pub fn backoff(base: Duration, tries: u32) -> Duration {
    let factor = 2u32.saturating_pow(tries.saturating_sub(1));
    base.checked_mul(factor).unwrap_or(MAX_RETRY).min(MAX_RETRY)
}

/// Sends every row due now, one at a time, each claimed with `FOR UPDATE SKIP LOCKED` for
/// the length of its SMTP conversation, so two instances never send the same row. Returns
/// how many were sent. A failed send is recorded on its row, not returned as an error;
/// errors are the database's.
pub async fn send_due_once(
    pool: &Pool,
    mailer: &Mailer,
    retry_base: Duration,
) -> Result<usize, MailError> {
    send_due(pool, mailer, retry_base, None).await
}

/// [`send_due_once`] that stops between two messages once `stop` turns true.
async fn send_due(
    pool: &Pool,
    mailer: &Mailer,
    retry_base: Duration,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, MailError> {
    let mut sent = 0;
    // Walking by id makes one pass finite even when a failed row is due again at once
    // (retry_base of zero).
    let mut after_id: i64 = 0;
    loop {
        if stop.is_some_and(|s| *s.borrow()) {
            return Ok(sent);
        }
        let mut db = pool.get().await?;
        let tx = db.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, extract(epoch FROM created_at)::bigint, recipients, subject, body,
                        attachment_name, attachment, tries
                 FROM outbox
                 WHERE sent_at IS NULL AND next_try_at <= now() AND id > $1
                 ORDER BY id LIMIT 1
                 FOR UPDATE SKIP LOCKED",
                &[&after_id],
            )
            .await?
        else {
            return Ok(sent);
        };
        let m = OutboxMessage {
            id: row.get(0),
            created_unix: row.get(1),
            recipients: row.get(2),
            subject: row.get(3),
            body: row.get(4),
            attachment_name: row.get(5),
            attachment: row.get(6),
        };
        after_id = m.id;
        let tries = u32::try_from(row.get::<_, i32>(7)).unwrap_or(0) + 1;
        let (id, subject) = (m.id, m.subject.clone());
        match mailer.send(m).await {
            Ok(()) => {
                tx.execute(
                    "UPDATE outbox SET sent_at = now(), tries = tries + 1 WHERE id = $1",
                    &[&id],
                )
                .await?;
                tx.commit().await?;
                tracing::info!(outbox = id, subject = ?subject, "mail sent");
                sent += 1;
            }
            Err(e) => {
                // Permanent rejections wait the longest; see MailError::is_retryable.
                let delay = if e.is_retryable() {
                    backoff(retry_base, tries)
                } else {
                    MAX_RETRY
                };
                tx.execute(
                    "UPDATE outbox SET tries = tries + 1, last_error = $2,
                            next_try_at = now() + make_interval(secs => $3)
                     WHERE id = $1",
                    &[&id, &e.to_string(), &delay.as_secs_f64()],
                )
                .await?;
                tx.commit().await?;
                if e.is_retryable() {
                    tracing::warn!(outbox = id, server = %mailer.server, tries, retry_in_s = delay.as_secs(), error = %e, "mail not sent, will retry");
                } else {
                    tracing::error!(outbox = id, server = %mailer.server, tries, retry_in_s = delay.as_secs(), error = %e, "mail rejected, kept in the outbox");
                }
            }
        }
    }
}

/// Delivers the outbox until `shutdown` turns true (or its sender is gone). Wakes every
/// second; a database error is logged and the next tick tries again. On shutdown the message
/// in flight gets [`SHUTDOWN_GRACE`] to finish and be marked sent, so a report the server
/// already took is not sent again after restart; past the grace it is abandoned unsent (the
/// row stays due) rather than hold up the daemon's exit.
pub async fn run_outbox(
    pool: Pool,
    mailer: Mailer,
    retry_base: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = tick.tick() => {}
            r = shutdown.changed() => if r.is_err() { return } else { continue },
        }
        let stop = shutdown.clone();
        let work = send_due(&pool, &mailer, retry_base, Some(&stop));
        tokio::pin!(work);
        let result = tokio::select! {
            r = &mut work => r,
            r = shutdown.changed() => {
                if r.is_ok() && !*shutdown.borrow() {
                    // changed back to false: not a shutdown, let the pass finish
                    work.await
                } else {
                    // the pass sees `stop` and ends after the message in flight
                    match tokio::time::timeout(SHUTDOWN_GRACE, work).await {
                        Ok(r) => r,
                        Err(_) => {
                            tracing::warn!("outbox: shutdown interrupted a send; it stays queued");
                            return;
                        }
                    }
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "outbox: cannot read the outbox");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let b = Duration::from_secs(60);
        assert_eq!(backoff(b, 1), Duration::from_secs(60));
        assert_eq!(backoff(b, 2), Duration::from_secs(120));
        assert_eq!(backoff(b, 3), Duration::from_secs(240));
        assert_eq!(backoff(b, 7), MAX_RETRY);
        assert_eq!(backoff(b, 40), MAX_RETRY);
        assert_eq!(backoff(b, u32::MAX), MAX_RETRY);
    }
}
