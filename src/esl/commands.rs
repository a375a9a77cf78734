//! The exact ESL command text built from checked values ([`crate::core::values`]).
//!
//! Owns the only path by which user-controlled data (phone numbers, file paths, variables,
//! digits) becomes part of an `originate`, `uuid_*` or `sendmsg` command. Channel variables
//! and inline-dialplan arguments are checked here, against the same strict alphabets.

use crate::core::values::{ChannelUuid, InvalidValue, MediaFile, PhoneNumber};

/// Channel UUIDs are minted here, where the originate that carries them is built: the core
/// holds no source of randomness.
impl ChannelUuid {
    pub fn new_random() -> Self {
        Self::parse(&uuid::Uuid::new_v4().to_string()).expect("a v4 uuid is a channel uuid")
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

impl ChannelVar {
    /// `api_hangup_hook` inserting the call's end into the switch's database (mod_db) under
    /// `realm`/`uuid` as `cause/q850/answer_epoch`, the `${…}` expanded by the switch as the
    /// channel hangs up. `realm` is checked as a plain value; the rest is fixed text.
    fn end_note(realm: &str, uuid: &ChannelUuid) -> Result<Self, InvalidValue> {
        let head = Self::new("api_hangup_hook", &format!("db::insert/{realm}/{uuid}"))?;
        Ok(Self {
            value: format!(
                "{}/${{hangup_cause}}/${{hangup_cause_q850}}/${{answer_epoch}}",
                head.value
            ),
            ..head
        })
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

    /// The applications of `other` after these (each was checked when added).
    pub fn and(mut self, other: &InlineScript) -> Self {
        self.0.extend(other.0.iter().cloned());
        self
    }

    /// `'app:data,…' inline`: the dialplan arguments of `originate` or `uuid_transfer`.
    pub fn dialplan(&self) -> String {
        self.render()
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

    /// Has the switch itself note the call's end in its database (`db select/<realm>/<uuid>`
    /// reads `cause/q850/answer_epoch`), written as the channel hangs up whether or not anyone
    /// follows its events then, and kept after the channel is gone. Originate refuses a
    /// `{…}` value holding `${…}` unless `origination_nested_vars=true`; every other value
    /// of an `Originate` is checked plain text, so that lets only the hook's through.
    pub fn note_end(self, realm: &str) -> Result<Self, InvalidValue> {
        let hook = ChannelVar::end_note(realm, &self.uuid)?;
        let mut o = self.var("origination_nested_vars", "true")?;
        o.vars.push(hook);
        Ok(o)
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
    fn variables_reject_injection() {
        assert!(ChannelVar::new("contactd_campaign", "42").is_ok());
        assert!(ChannelVar::new("x", "a,b").is_err());
        assert!(ChannelVar::new("x", "a b").is_err());
        assert!(ChannelVar::new("X", "a").is_err());
        assert!(ChannelVar::new("x", "a}evil").is_err());
        assert!(ChannelUuid::new_random().as_str().len() == 36);
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
    fn the_end_note_is_the_only_value_with_a_variable() {
        let uuid = ChannelUuid::parse("0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11").unwrap();
        let n = PhoneNumber::parse("5551001").unwrap();
        let o = Originate::new("freetdm/1/a/{number}", &n, uuid, AfterAnswer::Park)
            .note_end("contactd_end")
            .unwrap();
        assert_eq!(
            o.command(),
            "originate {origination_uuid=0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11,originate_timeout=30,\
             origination_nested_vars=true,api_hangup_hook=db::insert/contactd_end/\
             0b8b6a4e-5f7e-4bd9-9d5e-6b9d3c0e2a11/${hangup_cause}/${hangup_cause_q850}/\
             ${answer_epoch}}freetdm/1/a/5551001 &park()"
        );
        let o = Originate::new(
            "freetdm/1/a/{number}",
            &n,
            ChannelUuid::new_random(),
            AfterAnswer::Park,
        );
        assert!(o.note_end("a,b").is_err());
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
