//! WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the commit
//! that crosses the threshold, which made about one commit in a hundred wait for a checkpoint
//! and its fsync (the accept p99). The writer's automatic checkpoint is off; this task copies
//! the WAL back into the database every half second on a connection of its own, in PASSIVE
//! mode, which never blocks the writer or the readers.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqlitePool};

const EVERY: Duration = Duration::from_millis(500);

pub fn start(opts: SqliteConnectOptions, writer: SqlitePool) {
    tokio::spawn(async move {
        let mut conn = match opts.connect().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the checkpoint connection; the WAL will grow");
                return;
            }
        };
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Ends with the store (its writer pool closed) or the runtime.
        while !writer.is_closed() {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    });
}
