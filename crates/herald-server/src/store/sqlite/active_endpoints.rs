//! Each application's active endpoints, kept in memory for ingest (SQLite only).
//!
//! Ingest reads the list inside its write transaction, so that a disable or a delete is
//! either wholly before or wholly after an event's fan-out. On SQLite that read is one more
//! round trip to the writer connection's thread per group. The copy here is exact because
//! SQLite has one writer connection, which ingest holds while it looks:
//! - every write that may change the list is bracketed: `writing` is raised before it and,
//!   after its commit, `version` moves (when the list may have changed) before `writing`
//!   drops back;
//! - ingest uses a copy only when no such write is under way and the copy carries the
//!   current version; otherwise it reads, and keeps what it read under the version it saw.
//!
//! A write cannot commit while ingest holds the connection, and a committed write keeps
//! `writing` raised until `version` has moved: no stale list is ever used.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use crate::store::Endpoint;

/// Applications kept, at most; past it the copy starts over.
const MAX_APPS: usize = 10_000;

/// One application's active endpoints, in fan-out order.
pub type ActiveList = Arc<Vec<Arc<Endpoint>>>;

#[derive(Default)]
pub struct ActiveEndpoints {
    /// Writes under way that may change a list.
    writing: AtomicU64,
    /// Moved by every committed write that may have changed a list.
    version: AtomicU64,
    lists: Mutex<HashMap<String, (u64, ActiveList)>>,
}

impl ActiveEndpoints {
    /// Call while holding the writer connection. `Ok` is the kept list; `Err` is the
    /// version to store a fresh read under (`None`: do not store it).
    pub fn get(&self, app_id: &str) -> Result<ActiveList, Option<u64>> {
        if self.writing.load(SeqCst) != 0 {
            return Err(None);
        }
        let version = self.version.load(SeqCst);
        match self.lock().get(app_id) {
            Some((v, list)) if *v == version => Ok(list.clone()),
            _ => Err(Some(version)),
        }
    }

    /// Keeps a list read at `version` (from [`get`](Self::get)).
    pub fn put(&self, app_id: &str, version: u64, list: ActiveList) {
        let mut lists = self.lock();
        if lists.len() >= MAX_APPS {
            lists.clear();
        }
        lists.insert(app_id.to_string(), (version, list));
    }

    /// Marks a write that may change a list as under way until the guard is dropped (after
    /// its commit, or its failure, or its cancellation), which moves the version.
    pub fn writing(&self) -> Writing<'_> {
        self.writing.fetch_add(1, SeqCst);
        Writing { cache: self }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, ActiveList)>> {
        // Plain copies: a panic elsewhere cannot leave the map half-written.
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A write under way (see [`ActiveEndpoints::writing`]).
pub struct Writing<'a> {
    cache: &'a ActiveEndpoints,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.cache.version.fetch_add(1, SeqCst);
        self.cache.writing.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> ActiveList {
        Arc::new(Vec::with_capacity(n))
    }

    #[test]
    fn a_list_is_used_only_at_its_version_and_never_during_a_write() {
        let c = ActiveEndpoints::default();
        let v = c.get("app_1").unwrap_err().expect("nothing under way");
        c.put("app_1", v, list(1));
        assert!(c.get("app_1").is_ok());

        let w = c.writing();
        assert_eq!(c.get("app_1").unwrap_err(), None, "a write is under way");
        drop(w);
        // The write committed: the list read before it is stale.
        let v2 = c.get("app_1").unwrap_err().expect("nothing under way");
        assert_ne!(v, v2);
    }

    #[test]
    fn a_list_read_before_a_write_is_never_used_after_it() {
        let c = ActiveEndpoints::default();
        let seen = c.get("app_1").unwrap_err().unwrap();
        drop(c.writing()); // commits between the read and the put
        c.put("app_1", seen, list(1));
        assert!(c.get("app_1").is_err());
    }

    #[test]
    fn the_copy_is_bounded() {
        let c = ActiveEndpoints::default();
        for i in 0..MAX_APPS + 1 {
            c.put(&format!("app_{i}"), 0, list(0));
        }
        assert!(c.lock().len() <= MAX_APPS);
    }
}
