//! Prefixed, creation-sortable object ids (`app_01J…`): a ULID after the type prefix.
//! One monotonic generator per process so that ids minted in the same millisecond still
//! sort in minting order.

use std::sync::Mutex;

static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

/// The object kinds and their prefixes (`http-api.md`, Conventions).
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    App,
    Endpoint,
    Event,
    Delivery,
    Attempt,
    Key,
    EventType,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::App => "app_",
            Kind::Endpoint => "ep_",
            Kind::Event => "evt_",
            Kind::Delivery => "del_",
            Kind::Attempt => "att_",
            Kind::Key => "key_",
            Kind::EventType => "et_",
        }
    }
}

/// A new id of `kind`.
pub fn new_id(kind: Kind) -> String {
    let mut guard = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random ULID anyway.
    let u = generator.generate().unwrap_or_else(|_| ulid::Ulid::new());
    format!("{}{}", kind.prefix(), u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_prefix_and_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(Kind::Delivery)).collect();
        assert!(ids.iter().all(|i| i.starts_with("del_") && i.len() == 30));
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
