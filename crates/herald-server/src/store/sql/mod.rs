//! The SQL both backends share, written once and generic over the [`Backend`] contract
//! (`backend.rs`), and the one `Store` implementation over it (`store.rs`). Only the queue's
//! claiming and leases, and how a transaction's statements are sent, differ: those are each
//! backend's own (`store/sqlite`, `store/postgres`).

mod apps;
mod backend;
mod deliveries;
pub(crate) mod due_hints;
mod endpoints;
mod event_types;
mod events;
pub(crate) mod ingest;
pub(crate) mod keys;
pub(crate) mod outcomes;
pub(crate) mod query;
mod requests;
pub(crate) mod rows;
pub(crate) mod script;
pub(crate) mod secrets;
pub(crate) mod store;

pub(crate) use backend::Backend;
pub use store::SqlStore;

use query::Sql;

use crate::store::{Page, PageReq, StoreError};

/// Maps a unique-constraint violation to a 409, leaving other errors alone.
fn conflict_on_unique(e: sqlx::Error, message: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                code: "duplicate",
                message: message.to_string(),
            };
        }
    }
    StoreError::from(e)
}

/// Appends the cursor condition, order and limit (one extra row, to learn whether another
/// page exists) to a query whose WHERE clause is already open.
fn push_page<D: Backend>(qb: &mut Sql<'_, D>, page: &PageReq) {
    if let Some(before) = page.before {
        qb.push(if page.ascending {
            " AND seq > "
        } else {
            " AND seq < "
        });
        qb.push_bind(before);
    }
    qb.push(if page.ascending {
        " ORDER BY seq ASC LIMIT "
    } else {
        " ORDER BY seq DESC LIMIT "
    });
    qb.push_bind(page.limit + 1);
}

/// Trims the extra row fetched by [`push_page`].
fn finish_page<T>(mut items: Vec<(i64, T)>, limit: i64) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(|(s, _)| *s)
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, t)| t).collect(),
        next,
    }
}
