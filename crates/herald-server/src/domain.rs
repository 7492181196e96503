//! Validation rules of the contract that do not depend on the store: names, uids,
//! subscription filters, reserved headers.

/// `^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$`, at most 256 characters.
pub fn valid_event_type_name(name: &str) -> bool {
    name.len() <= 256
        && !name.is_empty()
        && name.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// `^[a-zA-Z0-9_.-]{1,64}$`
pub fn valid_uid(uid: &str) -> bool {
    (1..=64).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A filter entry: an event type name, or a prefix wildcard `order.*` (or `*`).
pub fn valid_filter(entry: &str) -> bool {
    if entry == "*" {
        return true;
    }
    match entry.strip_suffix(".*") {
        Some(prefix) => valid_event_type_name(prefix),
        None => valid_event_type_name(entry),
    }
}

/// Whether an endpoint subscribed with `filters` (None = every type) receives `event_type`.
pub fn filter_matches(filters: Option<&[String]>, event_type: &str) -> bool {
    let Some(filters) = filters else {
        return true;
    };
    filters.iter().any(|f| {
        if f == "*" {
            return true;
        }
        match f.strip_suffix(".*") {
            Some(prefix) => event_type
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => f == event_type,
        }
    })
}

/// Headers Herald sets itself (or that HTTP/1.1 framing owns): endpoints may not override them.
pub fn reserved_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("webhook-")
        || n.starts_with("herald-")
        || n.starts_with("ce-")
        || matches!(
            n.as_str(),
            "content-type"
                | "content-length"
                | "user-agent"
                | "host"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "upgrade"
                | "te"
                | "trailer"
                | "proxy-authorization"
                | "expect"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names() {
        for ok in ["order.paid", "a", "A_b-c.d9", &"x".repeat(256)] {
            assert!(valid_event_type_name(ok), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "trailing.",
            ".leading",
            "a..b",
            "é",
            &"x".repeat(257),
        ] {
            assert!(!valid_event_type_name(bad), "{bad}");
        }
    }

    #[test]
    fn uids() {
        assert!(valid_uid("acme-1.x_Y"));
        for bad in ["", "has space", "slash/no", &"x".repeat(65)] {
            assert!(!valid_uid(bad), "{bad}");
        }
    }

    #[test]
    fn filters() {
        let f = vec!["order.*".to_string(), "user.created".to_string()];
        assert!(filter_matches(Some(&f), "order.paid"));
        assert!(filter_matches(Some(&f), "order.paid.late"));
        assert!(!filter_matches(Some(&f), "order"));
        assert!(!filter_matches(Some(&f), "orders.paid"));
        assert!(filter_matches(Some(&f), "user.created"));
        assert!(!filter_matches(Some(&f), "user.deleted"));
        assert!(filter_matches(None, "anything"));
        assert!(!filter_matches(Some(&[]), "anything"));
        assert!(valid_filter("order.*") && valid_filter("*") && !valid_filter("order.*.x"));
    }

    #[test]
    fn reserved_headers() {
        assert!(reserved_header("Webhook-Signature"));
        assert!(reserved_header("content-type"));
        assert!(!reserved_header("X-Custom"));
    }
}
