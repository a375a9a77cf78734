//! The process's exit codes, from sysexits.h: systemd (`RestartPreventExitStatus=78`) and
//! scripts tell a config typo from an unreachable database by them.

/// Why contactd (or one of its subcommands) exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    /// EX_USAGE: wrong arguments.
    Usage = 64,
    /// EX_DATAERR: the input (a CSV, a number) is wrong.
    DataErr = 65,
    /// EX_NOINPUT: a named file or list does not exist.
    NoInput = 66,
    /// EX_UNAVAILABLE: PostgreSQL, Redis or a switch cannot be reached (try again later).
    Unavailable = 69,
    /// EX_SOFTWARE: a bug or an unexpected answer.
    Software = 70,
    /// EX_OSERR: the operating system refused (a runtime, a signal handler).
    OsErr = 71,
    /// EX_CANTCREAT: what was to be created already exists.
    CantCreat = 73,
    /// EX_IOERR: reading or writing a file failed.
    IoErr = 74,
    /// EX_NOPERM: not allowed (e.g. setup-db not run as the PostgreSQL superuser).
    NoPerm = 77,
    /// EX_CONFIG: the configuration is wrong; restarting will not help.
    Config = 78,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

impl From<&crate::core::lists::ListError> for Exit {
    fn from(e: &crate::core::lists::ListError) -> Self {
        use crate::core::lists::ListError as E;
        match e {
            E::Usage(_) => Exit::Usage,
            E::BadFile { .. } | E::NoRows { .. } | E::BadNumber { .. } => Exit::DataErr,
            E::NoInput { .. } | E::NoSuchList(_) => Exit::NoInput,
            E::Unavailable(_) => Exit::Unavailable,
            E::Db(_) => Exit::Software,
            E::ListExists(_) => Exit::CantCreat,
            E::Io { .. } => Exit::IoErr,
        }
    }
}

impl From<&crate::store::accounts::AccountsError> for Exit {
    fn from(e: &crate::store::accounts::AccountsError) -> Self {
        use crate::store::accounts::AccountsError as E;
        use std::io::ErrorKind::NotFound;
        match e {
            E::Pool(_) => Exit::Unavailable,
            E::Postgres(e) if e.is_closed() || e.as_db_error().is_none() => Exit::Unavailable,
            E::Io(e) if e.kind() == NotFound => Exit::NoInput,
            E::Io(_) => Exit::IoErr,
            E::Open { source, .. } if source.kind() == NotFound => Exit::NoInput,
            E::Open { .. } => Exit::IoErr,
            E::Usage(_) => Exit::Usage,
            _ => Exit::DataErr,
        }
    }
}

/// What a `campaigns` command can fail with, and the exit code each gives.
#[derive(Debug, thiserror::Error)]
pub enum CampaignCliError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Report(String),
}

impl CampaignCliError {
    pub fn exit_code(&self) -> Exit {
        match self {
            CampaignCliError::Invalid(_) => Exit::DataErr,
            CampaignCliError::Store(crate::store::StoreError::NotFound(_)) => Exit::DataErr,
            CampaignCliError::Store(e) if e.is_retryable() => Exit::Unavailable,
            _ => Exit::Software,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_sysexits() {
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::Unavailable.code(), 69);
        assert_eq!(Exit::Config.code(), 78);
    }
}
