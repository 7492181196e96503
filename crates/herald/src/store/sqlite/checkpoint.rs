//! WAL checkpoints off the commit path.
//!
//! SQLite's automatic checkpoint runs inside whichever commit makes the WAL cross its limit,
//! so one request in every ~50 waited for ~1,000 pages to be copied and two fsyncs (the
//! p99 of the latency benchmark). Here a connection of its own copies the WAL into the
//! database in the background with PASSIVE checkpoints, which never block the writer or the
//! readers. The writer keeps a (higher) automatic checkpoint of its own: it finds the WAL
//! already copied, so it is cheap, and it is what lets the WAL start over under sustained
//! writes (SQLite restarts the WAL only when a writer begins while every frame is copied).

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio_util::sync::CancellationToken;

/// Frames the background checkpointer aims to find in the WAL each time (~1 MiB). Each
/// time it copies the whole WAL, the writer's next commit starts the WAL over, and that
/// commit syncs the new WAL header (one fsync, ~0.3 ms here): so not too often, since at a
/// few hundred events per second that would be one commit in fifty. Not too rarely either,
/// or the writer's own checkpoint (below) finds frames to copy.
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

/// Opens the checkpointer's connection and runs it until `stop` is cancelled.
pub async fn start(
    opts: &SqliteConnectOptions,
    stop: CancellationToken,
) -> sqlx::Result<tokio::task::JoinHandle<()>> {
    // Its own page cache is never used for reads worth keeping.
    let mut conn = opts.clone().pragma("cache_size", "-64").connect().await?;
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
    use super::*;

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
