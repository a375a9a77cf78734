//! Throw-away databases, key prefixes and ports for tests and the demo, so runs never
//! collide and leave nothing behind.

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

/// A TCP port on 127.0.0.1 free now (bound, then released), for a server that a test or
/// the demo starts in another process. Taken below the kernel's ephemeral range
/// (`ip_local_port_range`): a port of that range can be handed, between its release and the
/// server's bind, to an outgoing connection of anything on the machine, which may hold it
/// for the whole run (a chaos scenario's contactd once retried its HTTP port for 30 s).
pub fn free_port() -> u16 {
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let mut rng = rand::rng();
    if ephemeral_from > 11_000 {
        for _ in 0..200 {
            let port = rng.random_range(10_000..ephemeral_from);
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    // an unusual range (or everything below it taken): any port the kernel gives
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
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
