//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside whichever commit makes the WAL cross its limit,
//! so one request in every ~50 waited for ~1,000 pages to be copied and two fsyncs (the
//! p99 of the latency benchmark). Here a connection of its own copies the WAL into the
//! database in the background with PASSIVE checkpoints, which never block the writer or the
//! readers. The writer keeps a (higher) automatic checkpoint of its own: it finds the WAL
//! already copied, so it is cheap, and it is what lets the WAL start over under sustained
//! writes (SQLite restarts the WAL only when a writer begins while every frame is copied).
//!
//! That restart syncs the new WAL header: one fsync (0.2–0.9 ms here) inside whichever
//! commit came first after a full checkpoint, often an ingest's, and at a few hundred events
//! per second most of the latency p99's slowest events were waiting on it. So right after
//! a checkpoint that copied everything, the checkpointer makes a one-page write of its own
//! on the writer (rewriting `user_version` with its value): the restart and its fsync
//! happen there, and a request only waits for it if it comes in during those few tenths of
//! a millisecond.

use std::time::Duration;

use std::sync::Arc;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio_util::sync::CancellationToken;

use super::writer::Writer;

/// Frames the background checkpointer aims to find in the WAL each time (~1 MiB). Each
/// time it copies the whole WAL, the WAL starts over with one fsync of its header (made by
/// [`restart_wal`], under the writer): so not too often. Not too rarely either, or the
/// writer's own checkpoint (below) finds frames to copy, and one big checkpoint's fsync
/// made the next WAL header sync wait up to 65 ms (at 4,096 frames).
const TARGET_FRAMES: i64 = 256;
/// The writer's own automatic checkpoint, in frames (~16 MiB): a safety net well above the
/// target.
pub const WRITER_AUTOCHECKPOINT: i64 = 16 * TARGET_FRAMES;
/// Bounds of the pause between two background checkpoints.
const MIN_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// What one `PRAGMA wal_checkpoint` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Another checkpoint held the lock (nothing was done).
    pub busy: bool,
    /// Frames in the WAL.
    pub log: i64,
    /// Frames of it now copied into the database.
    pub copied: i64,
}

/// The pause before the next background checkpoint: the time the WAL took to grow by about
/// [`TARGET_FRAMES`] at the rate seen since the previous one.
fn next_pause(pause: Duration, before: Option<Checkpoint>, now: Checkpoint) -> Duration {
    if now.busy {
        return MIN_PAUSE;
    }
    let grown = match before {
        // Same WAL as before (it only grows until it starts over).
        Some(b) if !b.busy && now.log >= b.log => now.log - b.log,
        _ => now.log,
    };
    let scaled = pause.mul_f64(TARGET_FRAMES as f64 / grown.max(1) as f64);
    // Grow gently (an idle spell says little about the next burst), shrink at once.
    scaled.min(pause * 2).clamp(MIN_PAUSE, MAX_PAUSE)
}

/// Runs one PASSIVE checkpoint on `conn`.
pub async fn passive(conn: &mut SqliteConnection) -> sqlx::Result<Checkpoint> {
    let (busy, log, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    Ok(Checkpoint {
        busy: busy != 0,
        log,
        copied,
    })
}

impl Checkpoint {
    /// Every frame is in the database, so the next write starts the WAL over. A WAL of one
    /// frame is the restart's own write (see [`restart_wal`]): doing it again would be a
    /// write every pause of an idle server.
    fn leaves_wal_to_restart(&self) -> bool {
        !self.busy && self.log > 1 && self.copied == self.log
    }
}

/// Starts the WAL over now, on the writer, by rewriting `user_version` (page 1) with the
/// value it has: no row changes. Nothing else in Herald sets `user_version`.
async fn restart_wal(writer: &Writer, user_version: i64) -> crate::store::Result<()> {
    let mut conn = writer.lock().await?;
    sqlx::query(&format!("PRAGMA user_version = {user_version}"))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Opens the checkpointer's connection and runs it until `stop` is cancelled.
pub async fn start(
    opts: &SqliteConnectOptions,
    writer: Arc<Writer>,
    stop: CancellationToken,
) -> sqlx::Result<tokio::task::JoinHandle<()>> {
    // Its own page cache is never used for reads worth keeping.
    let mut conn = opts.clone().pragma("cache_size", "-64").connect().await?;
    let user_version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut conn)
        .await?;
    Ok(tokio::spawn(async move {
        let mut pause = MIN_PAUSE;
        let mut last = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
            match passive(&mut conn).await {
                Ok(c) => {
                    if c.leaves_wal_to_restart() {
                        if let Err(e) = restart_wal(&writer, user_version).await {
                            tracing::warn!(error = %e, "starting the WAL over failed");
                        }
                    }
                    pause = next_pause(pause, last, c);
                    last = Some(c);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                    pause = MAX_PAUSE;
                }
            }
        }
        let _ = conn.close().await;
    }))
}

#[cfg(test)]
mod tests {
    use sqlx::Executor;

    use super::*;

    #[tokio::test]
    async fn after_a_full_checkpoint_the_restart_write_starts_the_wal_over() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::writer::wal_file(&dir);
        let writer = Writer::connect(&opts).await.unwrap();
        writer
            .lock()
            .await
            .unwrap()
            .execute("PRAGMA user_version = 7; CREATE TABLE t (b BLOB); INSERT INTO t SELECT randomblob(3000) FROM json_each('[1,2,3,4,5,6,7,8,9,10]')")
            .await
            .unwrap();
        let mut conn = opts.connect().await.unwrap();
        let full = passive(&mut conn).await.unwrap();
        assert!(full.log > 10, "{full:?}");
        assert!(full.leaves_wal_to_restart(), "{full:?}");

        restart_wal(&writer, 7).await.unwrap();
        // The WAL holds the one page the restart wrote, not the frames before it.
        let after = passive(&mut conn).await.unwrap();
        assert_eq!(after.log, 1, "{after:?}");
        assert!(
            !after.leaves_wal_to_restart(),
            "no second restart for its own page"
        );
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(version, 7);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(rows, 10);
    }

    #[test]
    fn only_a_fully_copied_wal_of_others_frames_is_restarted() {
        assert!(c(false, 300, 300).leaves_wal_to_restart());
        assert!(
            !c(false, 300, 299).leaves_wal_to_restart(),
            "frames left to copy"
        );
        assert!(
            !c(true, -1, -1).leaves_wal_to_restart(),
            "another checkpoint ran"
        );
        assert!(
            !c(false, 1, 1).leaves_wal_to_restart(),
            "the restart's own page"
        );
        assert!(!c(false, 0, 0).leaves_wal_to_restart(), "an empty WAL");
    }

    fn c(busy: bool, log: i64, copied: i64) -> Checkpoint {
        Checkpoint { busy, log, copied }
    }

    #[test]
    fn pause_follows_the_write_rate() {
        let ms = Duration::from_millis;
        let t = TARGET_FRAMES;
        // Twice the target in 100 ms: half the pause.
        assert_eq!(
            next_pause(
                ms(100),
                Some(c(false, 1000, 1000)),
                c(false, 1000 + 2 * t, 1000 + 2 * t)
            ),
            ms(50)
        );
        // A quiet WAL: the pause doubles, up to a second.
        assert_eq!(
            next_pause(ms(100), Some(c(false, 10, 10)), c(false, 10, 10)),
            ms(200)
        );
        assert_eq!(
            next_pause(ms(800), Some(c(false, 10, 10)), c(false, 12, 12)),
            MAX_PAUSE
        );
        // The WAL started over since: its frames are all new.
        assert_eq!(
            next_pause(
                ms(100),
                Some(c(false, 9 * t, 9 * t)),
                c(false, 2 * t, 2 * t)
            ),
            ms(50)
        );
        // Very fast writes, or another checkpoint holding the lock: the shortest pause.
        assert_eq!(
            next_pause(ms(10), Some(c(false, 0, 0)), c(false, 100 * t, 100 * t)),
            MIN_PAUSE
        );
        assert_eq!(next_pause(ms(500), None, c(true, -1, -1)), MIN_PAUSE);
    }
}
