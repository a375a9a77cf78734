//! `contactd setup-db`: the PostgreSQL roles and database the example config assumes, with
//! least privilege, then the migrations applied as the owner. Run as the PostgreSQL
//! superuser (`runuser -u postgres -- contactd setup-db`); run again after an upgrade that
//! brings migrations: every step is idempotent.
//!
//! - the owner role (`contactd_owner`, NOLOGIN unless given a password) owns the database,
//!   the schema's tables and sequences, and is the only one that runs DDL;
//! - the daemon's role (`contactd`) may connect, make temporary tables (list imports stage
//!   rows in them) and read and write rows: default privileges give it the same on every
//!   table a later migration creates; it cannot create, alter or drop anything, nor write
//!   `schema_migrations`.
//!
//! Names are checked here and quoted by the server (`format('%I')`); values go as
//! parameters. A password is read from a file and sent only as a SCRAM verifier computed
//! here, so the clear text reaches neither the server's statement log nor ours.

use std::path::{Path, PathBuf};

use tokio_postgres::{Client, NoTls};

use super::exit::Exit;

/// Debian's local socket, peer authentication: the PostgreSQL superuser is the OS user
/// `postgres`.
const DEFAULT_ADMIN_URL: &str = "host=/var/run/postgresql user=postgres dbname=postgres";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Superuser connection (URL or key=value). Default: the local socket as `postgres`.
    #[arg(long, env = "CONTACTD_SETUP_ADMIN_URL", default_value = DEFAULT_ADMIN_URL)]
    admin_url: String,
    /// Database to create (the dbname of postgres.url).
    #[arg(long, default_value = "contactd")]
    database: String,
    /// Role that owns the schema and runs the migrations.
    #[arg(long, default_value = "contactd_owner")]
    owner: String,
    /// Role the daemon logs in as (the user of postgres.url): rows only.
    #[arg(long, default_value = "contactd")]
    app_role: String,
    /// File whose first line is the daemon role's password (for TCP logins; without it the
    /// role has no password and logs in by peer authentication on the local socket).
    #[arg(long)]
    app_password_file: Option<PathBuf>,
    /// File whose first line is the owner's password; gives the owner LOGIN, so that
    /// `contactd migrate` can run connected as it.
    #[arg(long)]
    owner_password_file: Option<PathBuf>,
    /// Roles, database and grants only; the migrations are left to `contactd migrate`.
    #[arg(long)]
    no_migrate: bool,
}

#[derive(Debug)]
pub struct Failed {
    pub message: String,
    pub code: Exit,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn fail(code: Exit, message: impl Into<String>) -> Failed {
    Failed {
        message: message.into(),
        code,
    }
}

fn pg(what: &str) -> impl FnOnce(tokio_postgres::Error) -> Failed + '_ {
    move |e| {
        let code = if e.as_db_error().is_some() {
            Exit::DataErr
        } else {
            Exit::Unavailable
        };
        fail(
            code,
            format!("{what}: {}", crate::store::postgres::pg_detail(&e)),
        )
    }
}

/// A PostgreSQL identifier contactd will create: lower case, so it needs no quoting in the
/// config's URL or in psql, and never one of the server's own (`pg_*`).
fn check_name(what: &str, name: &str) -> Result<(), Failed> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(fail(
            Exit::Usage,
            format!(
                "--{what} {name:?}: use 1-63 lower-case letters, digits and '_', not starting \
                 with a digit or pg_"
            ),
        ))
    }
}

/// The first line of a password file; the text never appears in a message.
fn read_password(what: &str, path: &Path) -> Result<String, Failed> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(Exit::NoInput, format!("--{what} {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.chars().count() < 12 {
        return Err(fail(
            Exit::DataErr,
            format!(
                "--{what} {}: the first line must be a password of at least 12 characters",
                path.display()
            ),
        ));
    }
    Ok(line)
}

/// Runs `template` (with `%I` for names and `%L` for literals) after the server has
/// quoted `args` into it.
async fn ddl(client: &Client, template: &str, args: &[&str]) -> Result<(), Failed> {
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
        .iter()
        .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let mut select = format!("SELECT format('{}'", template.replace('\'', "''"));
    for i in 1..=args.len() {
        select.push_str(&format!(", ${i}::text"));
    }
    select.push(')');
    // The verb names the step in an error without echoing values (a password verifier).
    let verb: String = template
        .split_whitespace()
        .take_while(|w| !w.starts_with('%'))
        .collect::<Vec<_>>()
        .join(" ");
    let sql: String = client
        .query_one(select.as_str(), &params)
        .await
        .map_err(pg(&verb))?
        .get(0);
    client.batch_execute(&sql).await.map_err(pg(&verb))
}

async fn connect(url: &str, what: &str) -> Result<Client, Failed> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        let hint = if e.as_db_error().is_some() {
            " (on Debian run it as the PostgreSQL superuser: runuser -u postgres -- contactd setup-db)"
        } else {
            ""
        };
        fail(
            Exit::Unavailable,
            format!(
                "cannot connect to {what}: {}{hint}",
                crate::store::postgres::pg_detail(&e)
            ),
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!("setup-db connection: {e}");
        }
    });
    // Keep the output to what this command prints ("... already exists, skipping").
    client
        .batch_execute("SET client_min_messages = warning")
        .await
        .map_err(pg("session"))?;
    Ok(client)
}

struct Role {
    exists: bool,
    superuser: bool,
}

async fn role(client: &Client, name: &str) -> Result<Role, Failed> {
    let row = client
        .query_opt("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&name])
        .await
        .map_err(pg("roles"))?;
    Ok(Role {
        exists: row.is_some(),
        superuser: row.is_some_and(|r| r.get(0)),
    })
}

pub async fn run(args: Args) -> Result<(), Failed> {
    check_name("database", &args.database)?;
    check_name("owner", &args.owner)?;
    check_name("app-role", &args.app_role)?;
    if args.owner == args.app_role {
        return Err(fail(
            Exit::Usage,
            "--owner and --app-role must differ: the daemon's role must not own the schema",
        ));
    }
    let app_password = args
        .app_password_file
        .as_deref()
        .map(|p| read_password("app-password-file", p))
        .transpose()?;
    let owner_password = args
        .owner_password_file
        .as_deref()
        .map(|p| read_password("owner-password-file", p))
        .transpose()?;

    let admin_cfg: tokio_postgres::Config = args
        .admin_url
        .parse()
        .map_err(|e| fail(Exit::Usage, format!("--admin-url: {e}")))?;
    let admin = connect(&args.admin_url, "PostgreSQL as the superuser").await?;
    let me: String = admin
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(pg("current_user"))?
        .get(0);
    if !role(&admin, &me).await?.superuser {
        return Err(fail(
            Exit::NoPerm,
            format!(
                "connected as {me}, which is not a superuser; on Debian: runuser -u postgres -- \
                 contactd setup-db"
            ),
        ));
    }

    // Roles. Existing ones keep their password unless a file gives a new one.
    for (name, login, password, what) in [
        (
            &args.owner,
            owner_password.is_some(),
            &owner_password,
            "owner (schema, migrations)",
        ),
        (&args.app_role, true, &app_password, "daemon (rows only)"),
    ] {
        let r = role(&admin, name).await?;
        if r.superuser {
            return Err(fail(
                Exit::DataErr,
                format!("role {name} is a superuser; pick another name for the {what} role"),
            ));
        }
        if r.exists {
            println!("role {name}: exists ({what})");
            if login {
                ddl(&admin, "ALTER ROLE %I LOGIN", &[name]).await?;
            }
        } else {
            let attrs = if login { "LOGIN" } else { "NOLOGIN" };
            ddl(
                &admin,
                &format!(
                    "CREATE ROLE %I {attrs} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
                     NOBYPASSRLS"
                ),
                &[name],
            )
            .await?;
            println!("role {name}: created, {attrs} ({what})");
        }
        if let Some(p) = password {
            let verifier = postgres_protocol::password::scram_sha_256(p.as_bytes());
            ddl(&admin, "ALTER ROLE %I PASSWORD %L", &[name, &verifier]).await?;
            println!("role {name}: password set (SCRAM-SHA-256)");
        }
    }
    let app_in_owner: bool = admin
        .query_one(
            "SELECT pg_has_role($1, $2, 'MEMBER')",
            &[&args.app_role, &args.owner],
        )
        .await
        .map_err(pg("membership"))?
        .get(0);
    if app_in_owner {
        return Err(fail(
            Exit::DataErr,
            format!(
                "role {} is a member of {}: it would hold the owner's rights; REVOKE {} FROM {} \
                 first",
                args.app_role, args.owner, args.owner, args.app_role
            ),
        ));
    }

    // The database, owned by the owner role.
    let db_owner: Option<String> = admin
        .query_opt(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&args.database],
        )
        .await
        .map_err(pg("databases"))?
        .map(|r| r.get(0));
    match db_owner {
        None => {
            ddl(
                &admin,
                "CREATE DATABASE %I OWNER %I ENCODING 'UTF8' TEMPLATE template0",
                &[&args.database, &args.owner],
            )
            .await?;
            println!("database {}: created, owner {}", args.database, args.owner);
        }
        Some(o) if o == args.owner => {
            println!("database {}: exists, owner {o}", args.database)
        }
        Some(o) => {
            ddl(
                &admin,
                "ALTER DATABASE %I OWNER TO %I",
                &[&args.database, &args.owner],
            )
            .await?;
            println!(
                "database {}: owner changed from {o} to {}",
                args.database, args.owner
            );
        }
    }
    // Nobody else may connect; the daemon may, and may make temporary tables.
    ddl(
        &admin,
        "REVOKE ALL ON DATABASE %I FROM PUBLIC",
        &[&args.database],
    )
    .await?;
    ddl(
        &admin,
        "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I",
        &[&args.database, &args.app_role],
    )
    .await?;
    drop(admin);

    // Inside the database, still as the superuser.
    let mut db_cfg = admin_cfg.clone();
    db_cfg.dbname(&args.database);
    let (mut db, conn) = db_cfg
        .connect(NoTls)
        .await
        .map_err(pg("connect to the new database"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!("setup-db connection: {e}");
        }
    });
    db.batch_execute("SET client_min_messages = warning")
        .await
        .map_err(pg("session"))?;
    let o = args.owner.as_str();
    let a = args.app_role.as_str();
    // PostgreSQL before 15 let every role create objects in public.
    ddl(&db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC", &[]).await?;
    ddl(&db, "GRANT USAGE, CREATE ON SCHEMA public TO %I", &[o]).await?;
    ddl(&db, "GRANT USAGE ON SCHEMA public TO %I", &[a]).await?;
    // Tables and sequences the owner creates later (every migration) are the daemon's to use.
    ddl(
        &db,
        "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public \
         GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I",
        &[o, a],
    )
    .await?;
    ddl(
        &db,
        "ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public \
         GRANT USAGE, SELECT ON SEQUENCES TO %I",
        &[o, a],
    )
    .await?;
    println!("grants: {a} may connect, use temporary tables and read and write rows; {o} owns the schema");

    if args.no_migrate {
        println!("migrations: skipped (--no-migrate); run `contactd migrate` connected as {o}");
    } else {
        // As the owner, so every table and sequence is the owner's, not the superuser's.
        ddl(&db, "SET ROLE %I", &[o]).await?;
        let applied = crate::store::migrate::run_on(&mut db)
            .await
            .map_err(|e| fail(Exit::DataErr, format!("migration failed: {e}")))?;
        db.batch_execute("RESET ROLE")
            .await
            .map_err(pg("RESET ROLE"))?;
        if applied.is_empty() {
            println!("migrations: schema up to date");
        } else {
            println!("migrations: applied as {o}: {}", applied.join(", "));
        }
    }
    // Tables made before the default privileges (an older install) get the same rights.
    ddl(
        &db,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I",
        &[a],
    )
    .await?;
    ddl(
        &db,
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I",
        &[a],
    )
    .await?;
    // The daemon only checks which migrations are applied.
    let has_migrations: bool = db
        .query_one(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(pg("schema_migrations"))?
        .get(0);
    if has_migrations {
        ddl(
            &db,
            "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.schema_migrations FROM %I",
            &[a],
        )
        .await?;
    }
    let foreign: Vec<String> = db
        .query(
            "SELECT DISTINCT tableowner::text FROM pg_tables \
             WHERE schemaname = 'public' AND tableowner <> $1",
            &[&args.owner],
        )
        .await
        .map_err(pg("table owners"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !foreign.is_empty() {
        println!(
            "warning: tables in {} are owned by {} (an install from before setup-db?); as the \
             superuser: REASSIGN OWNED BY <role> TO {o} in that database",
            args.database,
            foreign.join(", ")
        );
    }
    println!(
        "done: the daemon connects as {a} to database {} (postgres.url)",
        args.database
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_are_plain_lower_case_identifiers() {
        for ok in ["contactd", "contactd_owner", "_x", "a1"] {
            assert!(check_name("owner", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Contactd",
            "1abc",
            "pg_owner",
            "a-b",
            "a\"; DROP DATABASE x; --",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(check_name("owner", bad).is_err(), "{bad:?}");
        }
    }
}
