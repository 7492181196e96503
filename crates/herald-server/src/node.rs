//! This process's identity among the processes that share a PostgreSQL store: kept in
//! `<data_dir>/node-id`, so that a restarted node knows which leases were its own and takes
//! them back at once instead of waiting for them to lapse (`security.md`'s issue, item 3).

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The node's id, and the lock that keeps a second process on the same data directory from
/// using it too.
pub struct NodeId {
    pub id: String,
    _lock: Option<File>,
}

impl NodeId {
    /// The id kept in `data_dir` (made on first start). A second process on the same data
    /// directory gets a fresh id of its own instead (and says so): two processes with one id
    /// would take each other's leases.
    pub fn stable(data_dir: &Path) -> NodeId {
        match Self::kept(data_dir) {
            Ok(Some(node)) => node,
            Ok(None) => {
                tracing::warn!(
                    dir = %data_dir.display(),
                    "another herald process uses this data directory's node id: this one takes a fresh id, and leases it leaves at a crash wait to lapse"
                );
                Self::fresh()
            }
            Err(e) => {
                tracing::warn!(error = %e, dir = %data_dir.display(), "cannot keep a node id in the data directory; using a fresh one");
                Self::fresh()
            }
        }
    }

    /// An id for this process only.
    pub fn fresh() -> NodeId {
        NodeId {
            id: new_id(),
            _lock: None,
        }
    }

    fn kept(data_dir: &Path) -> std::io::Result<Option<NodeId>> {
        std::fs::create_dir_all(data_dir)?;
        let lock = File::create(data_dir.join("node.lock"))?;
        if lock.try_lock().is_err() {
            return Ok(None);
        }
        let path = data_dir.join("node-id");
        let id = match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().starts_with("node_") => text.trim().to_string(),
            _ => {
                let id = new_id();
                let mut f = File::create(&path)?;
                f.write_all(id.as_bytes())?;
                f.sync_all()?;
                id
            }
        };
        Ok(Some(NodeId {
            id,
            _lock: Some(lock),
        }))
    }
}

fn new_id() -> String {
    crate::ids::new_id(crate::ids::Kind::Key).replacen("key_", "node_", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_survives_a_restart_and_is_not_shared() {
        let dir = tempfile::tempdir().unwrap();
        let first = NodeId::stable(dir.path()).id;
        assert!(first.starts_with("node_"));
        {
            let held = NodeId::stable(dir.path());
            assert_eq!(held.id, first, "the same directory, the same id");
            let beside = NodeId::stable(dir.path());
            assert_ne!(beside.id, first, "a second process beside it gets its own");
        }
        assert_eq!(NodeId::stable(dir.path()).id, first);
    }
}
