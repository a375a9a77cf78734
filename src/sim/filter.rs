//! mod_event_socket's `filter` rules, as the switch applies them to each event it would
//! send a listener.

use super::event::Event;

/// mod_event_socket's `filter` check (event_handler): with any filter set an event goes
/// out only if a positive filter matches it and no negative one does. A value prefixed
/// `-` is negative (`+` or nothing: positive); one starting with `/` is a regular
/// expression (`/re/flags`, `i` for caseless), else it is compared ignoring case. A filter
/// whose header the event lacks does not count. Once a positive matched, later positives
/// are skipped, negatives are still checked.
pub(super) fn passes_filters(filters: &[(String, String)], ev: &Event) -> bool {
    let mut send = false;
    for (name, raw) in filters {
        let mut pos = true;
        let mut want = raw.as_str();
        while let Some(c) = want.chars().next() {
            match c {
                '+' => pos = true,
                '-' => pos = false,
                ' ' => {}
                _ => break,
            }
            want = &want[1..];
        }
        // the switch looks the header up first; skipping first decides the same
        if send && pos {
            continue;
        }
        let Some(have) = ev
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
        else {
            continue;
        };
        // as the switch does, the expression form is read off the value as given: a
        // negative filter is never an expression
        let hit = if raw.starts_with('/') {
            filter_regex(want).is_some_and(|re| re.is_match(have))
        } else {
            have.eq_ignore_ascii_case(want)
        };
        if hit {
            if !pos {
                return false;
            }
            send = true;
        }
    }
    send
}

/// `/re/flags` as switch_regex_perform reads it; None when the closing `/` is missing or
/// the expression does not compile (the switch logs it and the filter never matches).
fn filter_regex(expr: &str) -> Option<regex::Regex> {
    let body = expr.strip_prefix('/')?;
    let (re, flags) = body.rsplit_once('/')?;
    regex::RegexBuilder::new(re)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(headers: &[(&str, &str)]) -> Event {
        Event {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// mod_event_socket's rules: positives admit (any one), negatives veto (any one,
    /// wherever they stand), a missing header does not count, values ignore case, `/re/`
    /// is an expression only for a positive.
    #[test]
    fn filters_as_the_switch_applies_them() {
        let play = ev(&[
            ("Event-Name", "PLAYBACK_START"),
            ("Unique-ID", "u1"),
            ("contactd_link", "socket"),
        ]);
        let hangup = ev(&[("Event-Name", "CHANNEL_HANGUP"), ("Unique-ID", "u1")]);
        let names = f(&[
            ("Event-Name", "PLAYBACK_START"),
            ("Event-Name", "CHANNEL_HANGUP"),
        ]);
        assert!(passes_filters(&names, &play) && passes_filters(&names, &hangup));
        // only a negative: nothing passes
        let neg = f(&[("contactd_link", "-socket")]);
        assert!(!passes_filters(&neg, &play) && !passes_filters(&neg, &hangup));
        // negative after or before the positives: vetoes the marked event only
        for order in [[0, 1, 2], [2, 0, 1]] {
            let all = [names[0].clone(), names[1].clone(), neg[0].clone()];
            let fs: Vec<_> = order.iter().map(|i| all[*i].clone()).collect();
            assert!(!passes_filters(&fs, &play), "{fs:?}");
            assert!(passes_filters(&fs, &hangup), "{fs:?}");
        }
        // header names and values ignore case; `+` is a positive
        assert!(passes_filters(
            &f(&[("event-name", "+playback_start")]),
            &play
        ));
        // expressions
        assert!(passes_filters(&f(&[("Unique-ID", "/^u[0-9]$/")]), &play));
        assert!(passes_filters(&f(&[("Event-Name", "/^playback/i")]), &play));
        assert!(!passes_filters(&f(&[("Event-Name", "/^playback/")]), &play));
        assert!(!passes_filters(&f(&[("Event-Name", "/^PLAYBACK")]), &play));
        // `-/re/` is compared as text, as the switch does
        let text = f(&[("Event-Name", "/./"), ("Unique-ID", "-/u1/")]);
        assert!(passes_filters(&text, &play));
    }
}
