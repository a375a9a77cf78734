//! Schema migrations: the ordered files of `sql/`, compiled in, applied once each.
//!
//! Each file runs in its own transaction under an advisory lock, so two contactd instances
//! starting together do not race, and `contactd migrate` twice is a no-op. An applied file
//! whose text changed is refused: the database would no longer match the repository.
//!
//! The daemon's role may only read and write rows (`contactd setup-db`): an up-to-date schema
//! is therefore checked read-only first, and only missing files take the DDL path, which
//! needs the schema owner.

use deadpool_postgres::Pool;
use tokio_postgres::Client;

use super::postgres::StoreError;

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "001_calls.sql",
        sql: include_str!("../../sql/001_calls.sql"),
    },
    Migration {
        version: 2,
        name: "002_lists.sql",
        sql: include_str!("../../sql/002_lists.sql"),
    },
    Migration {
        version: 3,
        name: "003_campaigns.sql",
        sql: include_str!("../../sql/003_campaigns.sql"),
    },
    Migration {
        version: 4,
        name: "004_accounts.sql",
        sql: include_str!("../../sql/004_accounts.sql"),
    },
    Migration {
        version: 5,
        name: "005_operators.sql",
        sql: include_str!("../../sql/005_operators.sql"),
    },
    Migration {
        version: 6,
        name: "006_acd.sql",
        sql: include_str!("../../sql/006_acd.sql"),
    },
    Migration {
        version: 7,
        name: "007_operator_side.sql",
        sql: include_str!("../../sql/007_operator_side.sql"),
    },
    Migration {
        version: 8,
        name: "008_campaign_notify.sql",
        sql: include_str!("../../sql/008_campaign_notify.sql"),
    },
    Migration {
        version: 9,
        name: "009_kpi.sql",
        sql: include_str!("../../sql/009_kpi.sql"),
    },
    Migration {
        version: 10,
        name: "010_qa.sql",
        sql: include_str!("../../sql/010_qa.sql"),
    },
    Migration {
        version: 11,
        name: "011_digest.sql",
        sql: include_str!("../../sql/011_digest.sql"),
    },
    Migration {
        version: 12,
        name: "012_amd.sql",
        sql: include_str!("../../sql/012_amd.sql"),
    },
    Migration {
        version: 13,
        name: "013_messages.sql",
        sql: include_str!("../../sql/013_messages.sql"),
    },
    Migration {
        version: 14,
        name: "014_operator_campaigns.sql",
        sql: include_str!("../../sql/014_operator_campaigns.sql"),
    },
    Migration {
        version: 15,
        name: "015_opcamp_durable.sql",
        sql: include_str!("../../sql/015_opcamp_durable.sql"),
    },
    Migration {
        version: 16,
        name: "016_outbound_supervision.sql",
        sql: include_str!("../../sql/016_outbound_supervision.sql"),
    },
    Migration {
        version: 17,
        name: "017_contacts_bulk_load.sql",
        sql: include_str!("../../sql/017_contacts_bulk_load.sql"),
    },
    Migration {
        version: 18,
        name: "018_campaign_fences.sql",
        sql: include_str!("../../sql/018_campaign_fences.sql"),
    },
    Migration {
        version: 19,
        name: "019_operator_state_fn.sql",
        sql: include_str!("../../sql/019_operator_state_fn.sql"),
    },
    Migration {
        version: 20,
        name: "020_campaign_targets_due_order.sql",
        sql: include_str!("../../sql/020_campaign_targets_due_order.sql"),
    },
];

/// Arbitrary constant naming contactd's migration lock.
const LOCK_KEY: i64 = 0x636f_6e74_6163_7464;

fn checksum(sql: &str) -> String {
    // FNV-1a: enough to notice an edited file, no extra dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Applies what is missing; returns the names applied now.
pub async fn run(pool: &Pool) -> Result<Vec<&'static str>, StoreError> {
    let mut client = pool.get().await?;
    run_on(&mut client).await
}

/// [`run`] on one connection: `contactd setup-db` runs it after `SET ROLE` to the owner.
pub async fn run_on(client: &mut Client) -> Result<Vec<&'static str>, StoreError> {
    if up_to_date(client).await? {
        return Ok(Vec::new());
    }
    match apply_missing(client).await {
        Err(e) if denied(&e) => {
            let role: String = match client.query_one("SELECT current_user::text", &[]).await {
                Ok(r) => r.get(0),
                Err(_) => "this role".into(),
            };
            Err(StoreError::Migration(format!(
                "the schema needs migrations and role {role} may not change it ({e}): apply \
                 them as the schema owner: `contactd setup-db` run as the PostgreSQL superuser \
                 (README, \"Running it for real\")"
            )))
        }
        done => done,
    }
}

/// Read-only: every file applied with its text unchanged. An edited file is an error here
/// already, so a role without DDL rights still gets the right message.
async fn up_to_date(client: &Client) -> Result<bool, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(false);
    }
    let applied: std::collections::HashMap<i32, String> = client
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut complete = true;
    for m in MIGRATIONS {
        match applied.get(&m.version) {
            Some(have) if *have != checksum(m.sql) => return Err(edited(m, have)),
            Some(_) => {}
            None => complete = false,
        }
    }
    Ok(complete)
}

fn edited(m: &Migration, have: &str) -> StoreError {
    StoreError::Migration(format!(
        "{} was applied with different text (checksum {have}); restore the file",
        m.name
    ))
}

/// The server refused DDL for lack of rights (SQLSTATE 42501).
fn denied(e: &StoreError) -> bool {
    match e {
        StoreError::Postgres(pg) => {
            pg.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
        }
        StoreError::Migration(m) => m.contains("(42501)"),
        _ => false,
    }
}

async fn apply_missing(client: &mut Client) -> Result<Vec<&'static str>, StoreError> {
    {
        // Even CREATE TABLE IF NOT EXISTS races between two sessions: take the lock first.
        let tx = client.transaction().await?;
        quiet(&tx).await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
        tx.commit().await?;
    }
    let mut applied_now = Vec::new();
    let mut ordered: Vec<&Migration> = MIGRATIONS.iter().collect();
    ordered.sort_by_key(|m| m.version);
    for m in ordered {
        let tx = client.transaction().await?;
        quiet(&tx).await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        let row = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&m.version],
            )
            .await?;
        match row {
            Some(r) => {
                let have: String = r.get(0);
                if have != checksum(m.sql) {
                    return Err(edited(m, &have));
                }
            }
            None => {
                tx.batch_execute(m.sql).await.map_err(|e| {
                    StoreError::Migration(format!("{}: {}", m.name, super::postgres::pg_detail(&e)))
                })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&m.version, &m.name, &checksum(m.sql)],
                )
                .await?;
                applied_now.push(m.name);
            }
        }
        tx.commit().await?;
    }
    Ok(applied_now)
}

/// The server's NOTICEs ("relation ... already exists, skipping") would reach the log as
/// INFO lines through tokio-postgres; warnings and errors still come through.
async fn quiet(tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    Ok(())
}
