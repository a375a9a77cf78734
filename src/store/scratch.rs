//! Throw-away databases and key prefixes for tests and the demo, so runs never collide and
//! leave nothing behind.

use rand::Rng;
use tokio_postgres::NoTls;

use super::StoreError;

/// A database created for one run and dropped by [`ScratchDb::drop_now`].
pub struct ScratchDb {
    server_url: String,
    pub name: String,
    pub url: String,
}

/// A random lower-case suffix: database names and Redis prefixes of one run.
pub fn run_id() -> String {
    let mut rng = rand::rng();
    (0..10)
        .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
        .collect()
}

fn with_dbname(server_url: &str, db: &str) -> String {
    // Replace the path of postgres://user@host:port/dbname[?params]
    let (base, params) = match server_url.split_once('?') {
        Some((b, p)) => (b, Some(p)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{db}", &base[..path_start]);
    if let Some(p) = params {
        url.push('?');
        url.push_str(p);
    }
    url
}

impl ScratchDb {
    /// Creates `<prefix>_<random>` on the server `server_url` points at.
    pub async fn create(server_url: &str, prefix: &str) -> Result<Self, StoreError> {
        let name = format!("{prefix}_{}", run_id());
        let (client, conn) = tokio_postgres::connect(server_url, NoTls).await?;
        let conn = tokio::spawn(conn);
        // Identifiers cannot be bound as parameters; the name is ours: [a-z_] only.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = conn.await;
        Ok(Self {
            server_url: server_url.to_string(),
            url: with_dbname(server_url, &name),
            name,
        })
    }

    pub async fn drop_now(&self) -> Result<(), StoreError> {
        let (client, conn) = tokio_postgres::connect(&self.server_url, NoTls).await?;
        let conn = tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        drop(client);
        let _ = conn.await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_replaces_the_path() {
        assert_eq!(
            super::with_dbname("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_dbname("postgres://u@h/db?sslmode=disable", "y"),
            "postgres://u@h/y?sslmode=disable"
        );
        assert_eq!(
            super::with_dbname("postgres://u@h", "z"),
            "postgres://u@h/z"
        );
    }
}
