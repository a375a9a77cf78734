//! Limits of a campaign as typed by someone: its name and its line count, checked wherever
//! a campaign is created (the CLI's notice and operator campaigns).

/// Most lines one campaign may hold: the schema's own limit (`sql/003_campaigns.sql`,
/// `CHECK (lines BETWEEN 1 AND 240)`, eight E1 spans).
pub const MAX_LINES: u32 = crate::config::MAX_CAMPAIGN_LINES;
/// Most attempts per subscriber `--max-attempts` takes.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest campaign name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A campaign name: 1 to 200 characters, no control characters. The name goes into the
/// report's e-mail subject, `campaigns ls` and logs, where a line break would start a
/// header or a line of its own. Checked wherever a campaign is created from a name
/// someone typed.
pub fn check_campaign_name(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > MAX_NAME_CHARS {
        return Err(format!(
            "a campaign name is 1 to {MAX_NAME_CHARS} characters (this one has {n})"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(format!(
            "control character {c:?} not allowed in a campaign name (one line of text)"
        ));
    }
    Ok(())
}

/// `lines` for one campaign: 1 to [`MAX_LINES`].
pub fn check_lines(lines: u32) -> Result<(), String> {
    if (1..=MAX_LINES).contains(&lines) {
        Ok(())
    } else {
        Err(format!("lines must be 1–{MAX_LINES}"))
    }
}
