//! Property tests of the dial-string grammar (`core::dialstring`) that guards `originate` for
//! operators' phones and trunks' dial templates: nothing panics; whatever is accepted holds
//! only the safe alphabet, is one known endpoint and no longer than the limit; a hostile
//! character put anywhere in a good dial string is refused, naming that character.

use contactd::core::dialstring::{check_endpoint, check_template, MAX_LEN};
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        max_shrink_iters: 500,
        ..ProptestConfig::default()
    }
}

fn safe(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_.-+@".contains(c))
}

fn known(s: &str) -> bool {
    ["user/", "sofia/", "freetdm/", "loopback/"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Good dial strings of every kind.
fn good() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.+-]{1,20}".prop_map(|e| format!("user/{e}")),
        ("[a-z0-9]{1,20}", "[a-z0-9]{1,10}\\.[a-z]{2,5}")
            .prop_map(|(e, h)| format!("user/{e}@{h}")),
        ("[a-z_]{1,10}", "\\+?[0-9]{1,20}").prop_map(|(g, n)| format!("sofia/gateway/{g}/{n}")),
        ("[a-z]{1,10}", "[0-9]{1,10}", "[0-9]{1,3}(\\.[0-9]{1,3}){3}")
            .prop_map(|(p, u, h)| format!("sofia/{p}/{u}@{h}")),
        ("[a-z0-9_]{1,8}", "([0-9]{1,4}|[aArR])", "\\+?[0-9]{1,20}")
            .prop_map(|(s, c, n)| format!("freetdm/{s}/{c}/{n}")),
        ("[a-z0-9+]{1,20}", "[a-z_-]{1,20}").prop_map(|(e, c)| format!("loopback/{e}/{c}")),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn whatever_is_accepted_is_one_safe_endpoint(s in "\\PC{0,80}|[a-z/@._{}:,|' &^+0-9-]{0,60}") {
        if check_endpoint(&s).is_ok() {
            prop_assert!(safe(&s) && known(&s) && s.len() <= MAX_LEN, "{s:?}");
        }
        if check_template(&s).is_ok() {
            prop_assert_eq!(s.matches("{number}").count(), 1);
            prop_assert!(safe(&s.replace("{number}", "")) && known(&s), "{s:?}");
        }
    }

    #[test]
    fn good_endpoints_pass_and_a_hostile_character_anywhere_is_refused(
        s in good(),
        at in any::<prop::sample::Index>(),
        c in prop::sample::select(vec![
            '\n', '\r', '\0', '\t', ' ', '{', '}', '[', ']', '<', '>', ',', '|', ':', '\'',
            '"', '&', '^', '$', '\\', '`', '\u{a0}', 'я',
        ]),
    ) {
        prop_assert_eq!(check_endpoint(&s), Ok(()), "{:?}", s);
        let i = at.index(s.len() + 1);
        let mut bad = s.clone();
        bad.insert(i, c);
        let e = check_endpoint(&bad).expect_err(&bad);
        prop_assert!(e.contains(&format!("{c:?}")), "{:?}: {}", bad, e);
        // the same string as a trunk template, with the number put where it was
        let t = format!("{s}{{number}}");
        if check_template(&t).is_ok() {
            let mut bad_t = t.clone();
            bad_t.insert(i, c);
            prop_assert!(check_template(&bad_t).is_err(), "{:?}", bad_t);
        }
    }
}
