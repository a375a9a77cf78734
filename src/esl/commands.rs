//! Validated values and the exact ESL command text built from them.
//!
//! Owns the only path by which user-controlled data (phone numbers, file paths, variables,
//! digits) becomes part of an `originate`, `uuid_*` or `sendmsg` command. Every value is
//! checked against a strict alphabet first: a space or line break in a number would add an
//! argument or a header to the command (the classic `originate` injection).

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
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
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

impl MediaFile {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok_path = s.starts_with('/')
            && !s.contains("..")
            && (s.ends_with(".wav") || s.ends_with(".mp3"))
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
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

/// One `{name=value}` channel variable of an originate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelVar {
    name: String,
    value: String,
}

impl ChannelVar {
    pub fn new(name: &str, value: &str) -> Result<Self, InvalidValue> {
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let value_ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:/@+=-".contains(&b));
        if name_ok && value_ok {
            Ok(Self {
                name: name.into(),
                value: value.into(),
            })
        } else {
            Err(InvalidValue::Variable {
                name: name.into(),
                value: value.into(),
            })
        }
    }
}

/// What the A-leg runs once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAnswer {
    /// `&park()`: contactd drives the call afterwards with `sendmsg`/`uuid_*`.
    Park,
    /// `&playback(file)`.
    Playback(MediaFile),
    /// `'app:data,app:data' inline`: the switch runs the whole script from the answer on,
    /// whether contactd is there or not.
    Inline(InlineScript),
}

/// Applications for the inline dialplan. Each argument is checked so it cannot leave its
/// place: no `,` (next application), no `'` (the quoted originate argument), no control
/// characters; application names are plain words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InlineScript(Vec<(String, String)>);

impl InlineScript {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn then(mut self, app: &str, arg: &str) -> Result<Self, InvalidValue> {
        if app.is_empty() || !app.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(InvalidValue::Argument(app.to_string()));
        }
        if arg.contains([',', '\'']) || arg.chars().any(char::is_control) {
            return Err(InvalidValue::Argument(arg.to_string()));
        }
        self.0.push((app.to_string(), arg.to_string()));
        Ok(self)
    }

    fn render(&self) -> String {
        let apps: Vec<String> = self
            .0
            .iter()
            .map(|(a, d)| {
                if d.is_empty() {
                    a.clone()
                } else {
                    format!("{a}:{d}")
                }
            })
            .collect();
        format!("'{}' inline", apps.join(","))
    }
}

/// `originate {vars}<endpoint> &app()` for one validated number on one trunk.
#[derive(Debug, Clone)]
pub struct Originate {
    pub uuid: ChannelUuid,
    /// Rendered from the trunk's dial template; the number inside is validated.
    pub endpoint: String,
    pub vars: Vec<ChannelVar>,
    pub then: AfterAnswer,
    /// Seconds to ring before NO_ANSWER.
    pub timeout_secs: u32,
}

impl Originate {
    /// `dial` is a template checked at config load (`freetdm/1/a/{number}`).
    pub fn new(dial: &str, number: &PhoneNumber, uuid: ChannelUuid, then: AfterAnswer) -> Self {
        Self {
            endpoint: dial.replace("{number}", number.as_str()),
            uuid,
            vars: Vec::new(),
            then,
            timeout_secs: 30,
        }
    }

    pub fn var(mut self, name: &str, value: &str) -> Result<Self, InvalidValue> {
        self.vars.push(ChannelVar::new(name, value)?);
        Ok(self)
    }

    /// The text after `bgapi `.
    pub fn command(&self) -> String {
        let mut vars = format!(
            "origination_uuid={},originate_timeout={}",
            self.uuid, self.timeout_secs
        );
        for v in &self.vars {
            vars.push(',');
            vars.push_str(&v.name);
            vars.push('=');
            vars.push_str(&v.value);
        }
        let app = match &self.then {
            AfterAnswer::Park => "&park()".to_string(),
            AfterAnswer::Playback(f) => format!("&playback({})", f.as_str()),
            AfterAnswer::Inline(script) => script.render(),
        };
        format!("originate {{{vars}}}{} {app}", self.endpoint)
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
    fn variables_and_files_reject_injection() {
        assert!(ChannelVar::new("contactd_campaign", "42").is_ok());
        assert!(ChannelVar::new("x", "a,b").is_err());
        assert!(ChannelVar::new("x", "a b").is_err());
        assert!(ChannelVar::new("X", "a").is_err());
        assert!(ChannelVar::new("x", "a}evil").is_err());
        assert!(MediaFile::parse("/var/lib/contactd/rec/1.wav").is_ok());
        assert!(MediaFile::parse("/a/../etc/passwd.wav").is_err());
        assert!(MediaFile::parse("/a b.wav").is_err());
        assert!(MediaFile::parse("/a.wav)&hangup(").is_err());
        assert!(MediaFile::parse("tone_stream://%(200,0,800)").is_ok());
        assert!(check_dtmf("12#").is_ok());
        assert!(check_dtmf("1\n2").is_err());
        assert!(check_app_arg("1 6 3 5000 #").is_ok());
        assert!(check_app_arg("x\nevent-lock: true").is_err());
        assert!(ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11").is_ok());
        assert!(ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11 x").is_err());
    }

    #[test]
    fn inline_scripts_keep_each_argument_in_its_place() {
        let s = InlineScript::new()
            .then("playback", "/p/m.wav")
            .unwrap()
            .then("hash", "insert/r/k/${current_application_response}")
            .unwrap()
            .then("hangup", "NORMAL_CLEARING")
            .unwrap();
        let uuid = ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11").unwrap();
        let n = PhoneNumber::parse("5551001").unwrap();
        let o = Originate::new("freetdm/1/a/{number}", &n, uuid, AfterAnswer::Inline(s));
        assert!(o.command().ends_with(
            "freetdm/1/a/5551001 'playback:/p/m.wav,hash:insert/r/k/${current_application_response},hangup:NORMAL_CLEARING' inline"
        ));
        for bad in ["a,hangup", "x' &park()", "a\nb"] {
            assert!(
                InlineScript::new().then("playback", bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(InlineScript::new().then("play back", "x").is_err());
    }

    #[test]
    fn originate_text_is_exact() {
        let uuid = ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11").unwrap();
        let n = PhoneNumber::parse("5551001").unwrap();
        let o = Originate::new(
            "freetdm/1/a/{number}",
            &n,
            uuid,
            AfterAnswer::Playback(MediaFile::parse("/p/hello.wav").unwrap()),
        )
        .var("contactd_trunk", "e1")
        .unwrap();
        assert_eq!(
            o.command(),
            "originate {origination_uuid=0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11,originate_timeout=30,contactd_trunk=e1}freetdm/1/a/5551001 &playback(/p/hello.wav)"
        );
    }
}
