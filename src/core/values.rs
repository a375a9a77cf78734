//! Checked values that may reach a switch command: phone numbers, channel UUIDs, media files,
//! DTMF digits and application arguments. Each is checked against a strict alphabet when it
//! is made, so a space or line break cannot add an argument or a header to the command built
//! from it (the classic `originate` injection). Pure: the ESL adapter renders commands from
//! these, the core decides with them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("phone number {0:?}: only digits with an optional leading +, 3 to 20 digits")]
    Number(String),
    #[error("channel uuid {0:?}: expected 8-4-4-4-12 hex digits")]
    Uuid(String),
    #[error("channel variable {name:?}={value:?}: name [a-z0-9_], value [A-Za-z0-9_.:/@+=-] only")]
    Variable { name: String, value: String },
    #[error("file path {0:?}: absolute path of [A-Za-z0-9_./-] ending in .wav/.mp3, or tone_stream:// / silence_stream://")]
    File(String),
    #[error("dtmf {0:?}: only 0-9, *, #, A-D")]
    Dtmf(String),
    #[error("application argument {0:?}: contains a line break or control character")]
    Argument(String),
}

/// A dialable number: `+` then digits, or digits. Normalisation by dialing rules happens
/// before this; this type only guarantees nothing else can ride along.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidValue::Number(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel UUID as FreeSWITCH prints it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelUuid(String);

impl ChannelUuid {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        uuid::Uuid::try_parse(s)
            .ok()
            .filter(|_| s.len() == 36)
            .map(|_| Self(s.to_ascii_lowercase()))
            .ok_or_else(|| InvalidValue::Uuid(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A media file the switch can play or record into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile(String);

/// A plain absolute path: letters, digits and `_ . / -` only, no `..`. Nothing in it can
/// split a switch command's argument or leave the directory it names.
pub fn is_plain_path(s: &str) -> bool {
    s.starts_with('/')
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
}

impl MediaFile {
    /// A sound file (see [`MediaFile::parse_path`]) or a stream the switch generates.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok_path = Self::parse_path(s).is_ok();
        let ok_stream = (s.starts_with("tone_stream://")
            || s.starts_with("silence_stream://")
            || s.starts_with("local_stream://"))
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./:;=%(),-".contains(&b));
        if ok_path || ok_stream {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidValue::File(s.to_string()))
        }
    }
    /// A file on disk only, no stream: a plain absolute path ending in `.wav` or `.mp3`.
    pub fn parse_path(s: &str) -> Result<Self, InvalidValue> {
        if is_plain_path(s) && (s.ends_with(".wav") || s.ends_with(".mp3")) {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidValue::File(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// DTMF digits as typed on a keypad.
pub fn check_dtmf(s: &str) -> Result<&str, InvalidValue> {
    if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b"0123456789*#ABCD".contains(&b)) {
        Ok(s)
    } else {
        Err(InvalidValue::Dtmf(s.to_string()))
    }
}

/// An argument for `sendmsg execute`: may contain spaces (they separate the app's own
/// arguments) but never a line break, which would start a new ESL header.
pub fn check_app_arg(s: &str) -> Result<&str, InvalidValue> {
    if s.chars().any(char::is_control) {
        Err(InvalidValue::Argument(s.to_string()))
    } else {
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reject_injection() {
        assert!(PhoneNumber::parse("+79161234567").is_ok());
        assert!(PhoneNumber::parse("5551001").is_ok());
        for bad in [
            "555 1001",
            "5551001\napi hupall",
            "5551001&park",
            "12",
            "",
            "+",
            "55510011234567890123456",
            "555-1001",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn files_digits_and_arguments_reject_injection() {
        assert!(MediaFile::parse("/var/lib/contactd/rec/1.wav").is_ok());
        assert!(MediaFile::parse("/a/../etc/passwd.wav").is_err());
        assert!(MediaFile::parse("/a b.wav").is_err());
        assert!(MediaFile::parse("/a.wav)&hangup(").is_err());
        assert!(MediaFile::parse("tone_stream://%(200,0,800)").is_ok());
        // a file to record into: a path only, never a stream or a path that splits
        assert!(MediaFile::parse_path("/var/lib/contactd/rec/2026-12-05-x.wav").is_ok());
        assert!(MediaFile::parse_path("tone_stream://%(200,0,800)").is_err());
        assert!(MediaFile::parse_path("/rec/a.wav start /etc/x.wav").is_err());
        assert!(MediaFile::parse_path("/rec/a.wav\nuuid_kill").is_err());
        assert!(is_plain_path("/var/lib/contactd/recordings"));
        assert!(!is_plain_path("/var/lib/my messages"));
        assert!(!is_plain_path("relative/dir"));
        assert!(check_dtmf("12#").is_ok());
        assert!(check_dtmf("1\n2").is_err());
        assert!(check_app_arg("1 6 3 5000 #").is_ok());
        assert!(check_app_arg("x\nevent-lock: true").is_err());
        assert!(ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11").is_ok());
        assert!(ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11 x").is_err());
    }
}
