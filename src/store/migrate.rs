//! Schema migrations: the ordered files of `sql/`, compiled in, applied once each.
//!
//! Each file runs in its own transaction under an advisory lock, so two contactd instances
//! starting together do not race, and `contactd migrate` twice is a no-op. An applied file
//! whose text changed is refused: the database would no longer match the repository.

use deadpool_postgres::Pool;

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
    {
        // Even CREATE TABLE IF NOT EXISTS races between two sessions: take the lock first.
        let tx = client.transaction().await?;
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
                    return Err(StoreError::Migration(format!(
                        "{} was applied with different text (checksum {have}); restore the file",
                        m.name
                    )));
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
