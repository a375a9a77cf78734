//! The names operators and their groups are given, and the phones they answer on: one check
//! for the CLI, the HTTP API and the ACD (again right before it rings a phone). Pure.

/// A login, group or other operator-side name: 1 to 64 of `a-z 0-9 _ . -` (the schema's own
/// CHECK).
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{what} {s:?}: use 1 to 64 of a-z 0-9 _ . -"))
    }
}

/// A new operator's login, full name (already trimmed: non-empty, printable, at most 200
/// characters) and endpoint.
pub fn check_new_operator(login: &str, name: &str, endpoint: &str) -> Result<(), String> {
    check_name("login", login)?;
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err("name: must be 1 to 200 printable characters".into());
    }
    check_endpoint(endpoint).map_err(|e| format!("endpoint {endpoint:?}: {e}"))
}

/// A FreeSWITCH dial string an operator answers on, used verbatim in `originate`: any
/// endpoint a trunk's dial template may give (`user/`, `sofia/`, `freetdm/`, `loopback/`),
/// checked by the same grammar ([`crate::core::dialstring`]), so nothing can add a leg, a
/// variable or an argument.
pub fn check_endpoint(s: &str) -> Result<(), String> {
    crate::core::dialstring::check_endpoint(s)
}

/// A break's reason as the API and the phone give it: 1 to 32 letters, digits, `_` or `-`
/// (it is logged and reported per reason).
pub fn check_break_reason(r: &str) -> Result<(), String> {
    let ok = !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "break reason {r:?}: 1-32 letters, digits, '_' or '-'"
        ))
    }
}

/// A group name is what queues name in `[acd.queue.NAME] group` and Redis keys skills by,
/// so it follows the queue-name rule of the config.
pub fn check_group(name: &str) -> Result<(), String> {
    if is_queue_name(name) {
        Ok(())
    } else {
        Err(format!("group {name:?}: 1-32 of a-z, 0-9, '_'"))
    }
}

/// A queue's name: what `[acd.queue.<name>]`, an operator's group and a transfer's target
/// use (lowercase letters, digits, `_`; it is also part of a dialplan extension).
pub fn is_queue_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for ok in [
            "user/1001",
            "user/alice.smith",
            "user/1001@pbx.local",
            "sofia/gateway/gw/84951234567",
            "sofia/gateway/my-gw_2/+74951234567",
            "freetdm/1/a/1234",
            "freetdm/1/A/1234",
            "freetdm/span_2/r/1234",
            "freetdm/1/7/+74951234567",
            // what a trunk may dial, an operator's phone may be
            "user/Alice",
            "loopback/1001",
            "loopback/op201/test_operators",
            "sofia/internal/1001@10.0.0.1",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "user/10 01",
            "user/1001\n",
            "user/1001\t",
            "user/",
            "user/1/2",
            "user/1001@",
            "user/1001@pbx_local",
            "sip/1001",
            "loopback/op201/test_operators/inline",
            "sofia/gateway/gw",
            "sofia/gateway/gw/12a",
            "sofia/gateway/gw/+",
            "sofia/gateway//123",
            "sofia/internal/1001@10.0.0.1:5060",
            "sofia/gw:_:user/1001",
            "freetdm/1/x/123",
            "freetdm/1/h/123",
            "freetdm/1/a/",
            "{origination_caller_id_number=1}user/1001",
            "[leg_timeout=1]user/1001",
            "<var=1>user/1001",
            "user/1001,user/1002",
            "user/1001|user/1002",
            "user/1001:_:user/1002",
            "user/1001'",
            "user/1001\"",
            "sofia/gateway/gw/123456789012345678901",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?}");
        }
        assert!(check_endpoint(&format!("user/{}", "a".repeat(65))).is_err());
        assert!(check_endpoint(&format!("user/{}", "a".repeat(64))).is_ok());
        // The error names what is wrong (the CLI and the API prefix the escaped value).
        let e = check_new_operator("carol", "Carol", "user/1001\napi hupall").unwrap_err();
        assert!(
            e.starts_with("endpoint \"user/1001\\napi hupall\": "),
            "{e}"
        );
        assert!(e.contains("control character"), "{e}");
    }

    #[test]
    fn names_and_new_operators() {
        for ok in ["alice", "a", "op_1.x-y", &"a".repeat(64)] {
            assert_eq!(check_name("login", ok), Ok(()), "{ok}");
        }
        for bad in ["", "Alice", "al ice", "al/ice", "алиса", &"a".repeat(65)] {
            let e = check_name("login", bad).unwrap_err();
            assert!(e.starts_with("login "), "{e}");
        }
        assert_eq!(
            check_new_operator("alice", "Alice Smith", "user/1001"),
            Ok(())
        );
        assert!(check_new_operator("alice", "", "user/1001")
            .unwrap_err()
            .starts_with("name"));
        assert!(check_new_operator("alice", "A\u{7}", "user/1001")
            .unwrap_err()
            .starts_with("name"));
        assert!(check_new_operator("alice", "Alice", "user/1 001")
            .unwrap_err()
            .starts_with("endpoint"));
        assert!(check_new_operator("Alice", "Alice", "user/1001")
            .unwrap_err()
            .starts_with("login"));
    }

    #[test]
    fn groups_are_named_like_queues() {
        assert_eq!(check_group("billing_2"), Ok(()));
        for bad in ["", "Bill", "bill-ing", &"a".repeat(33)] {
            assert!(check_group(bad).unwrap_err().starts_with("group "), "{bad}");
        }
    }
}
