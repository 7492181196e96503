//! An in-memory copy of the rows every API request reads: its API key, its application and
//! its event type (also when there is none: most event types are never registered).
//!
//! Each read of the database is a round trip to a connection's thread, and on an idle server
//! each round trip wakes a sleeping thread (~0.1–0.2 ms here); an event's accept paid three
//! of them before its commit. A SQLite store has exactly one process (the lock file), and
//! every write to these tables goes through this store, so the copy is exact: a write
//! forgets everything, and a read that raced with a write is not kept (the generation).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{ApiKey, App, EventType};

/// Entries per table, at most; past it the table's copy starts over (a server with this
/// many apps still reads each app once per request burst, never more than it did before).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct Lookups {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by every write to one of the tables.
    generation: u64,
    keys: HashMap<String, ApiKey>,
    apps: HashMap<String, App>,
    /// `None`: no such event type.
    event_types: HashMap<String, Option<EventType>>,
}

impl Lookups {
    /// The generation to hand back to the `remember_*` call after a database read.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Forgets every copy; called after each write to one of the tables (and before it, so
    /// that no read can copy a row while the write is on its way).
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.keys.clear();
        inner.apps.clear();
        inner.event_types.clear();
    }

    pub fn key(&self, hash: &str) -> Option<ApiKey> {
        self.lock().keys.get(hash).cloned()
    }
    pub fn app(&self, id_or_uid: &str) -> Option<App> {
        self.lock().apps.get(id_or_uid).cloned()
    }
    /// `Some(None)`: known not to exist.
    pub fn event_type(&self, name: &str) -> Option<Option<EventType>> {
        self.lock().event_types.get(name).cloned()
    }

    pub fn remember_key(&self, generation: u64, hash: &str, key: &ApiKey) {
        self.remember(generation, |i| bounded_insert(&mut i.keys, hash, key));
    }
    pub fn remember_app(&self, generation: u64, id_or_uid: &str, app: &App) {
        self.remember(generation, |i| bounded_insert(&mut i.apps, id_or_uid, app));
    }
    pub fn remember_event_type(&self, generation: u64, name: &str, et: Option<&EventType>) {
        let et = et.cloned();
        self.remember(generation, |i| {
            bounded_insert(&mut i.event_types, name, &et)
        });
    }

    fn remember(&self, generation: u64, put: impl FnOnce(&mut Inner)) {
        let mut inner = self.lock();
        // A write happened since the read: the row read may be stale.
        if inner.generation == generation {
            put(&mut inner);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps hold plain copies: a panic elsewhere cannot leave them half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn bounded_insert<V: Clone>(map: &mut HashMap<String, V>, id: &str, value: &V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(id.to_string(), value.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Scope;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            name: "k".into(),
            scope: Scope::Admin,
            app_id: None,
            key_hash: "h".into(),
            read_only: false,
            expires_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_write_forgets_and_refuses_reads_from_before_it() {
        let l = Lookups::default();
        let g = l.generation();
        l.remember_key(g, "h1", &key("key_1"));
        assert_eq!(l.key("h1").map(|k| k.id), Some("key_1".to_string()));
        // A read that started before a write must not be kept after it.
        let before = l.generation();
        l.forget();
        assert!(l.key("h1").is_none());
        l.remember_key(before, "h1", &key("key_1"));
        assert!(l.key("h1").is_none());
        l.remember_key(l.generation(), "h1", &key("key_2"));
        assert_eq!(l.key("h1").map(|k| k.id), Some("key_2".to_string()));
    }

    #[test]
    fn a_missing_event_type_is_remembered_until_a_write() {
        let l = Lookups::default();
        assert!(l.event_type("order.paid").is_none());
        l.remember_event_type(l.generation(), "order.paid", None);
        assert_eq!(l.event_type("order.paid").map(|e| e.is_none()), Some(true));
        // Registering it is a write: the absence is forgotten.
        l.forget();
        assert!(l.event_type("order.paid").is_none());
    }

    #[test]
    fn copies_stay_bounded() {
        let l = Lookups::default();
        for n in 0..MAX_ENTRIES + 5 {
            l.remember_key(l.generation(), &format!("h{n}"), &key("k"));
        }
        assert!(l.lock().keys.len() <= MAX_ENTRIES);
        assert!(l.key(&format!("h{}", MAX_ENTRIES + 4)).is_some());
    }
}
