//! One seat in the next ingest commit, for a batch of attempt outcomes.
//!
//! With one writer connection (SQLite), every outcome batch written on its own is a commit
//! of its own on that connection. Outcomes are not urgent (the attempt is over; only the
//! stored state lags), so a batch may first wait a moment for an ingest to carry it: it is
//! then written in that ingest's transaction, which costs the ingest a few rows more and
//! saves a commit. When no ingest comes, the batch is written on its own as before. Which
//! batches ride is the store's choice (`sqlite::RIDE_MIN_BATCH`: only big ones, from busy
//! times).
//!
//! The seat holds one batch: there is one recorder, and it waits for each batch's commit.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// A batch in the seat, and where to say that its transaction committed.
pub struct Ride<T, R> {
    pub load: T,
    reply: oneshot::Sender<R>,
}

impl<T, R> Ride<T, R> {
    /// The carrying transaction committed; `returned` is what the batch's statements returned.
    /// A ride dropped without this (the transaction failed) sends its batch back to be written
    /// on its own.
    pub fn arrived(self, returned: R) {
        let _ = self.reply.send(returned);
    }
}

pub struct Carpool<T, R> {
    seat: Mutex<Option<Ride<T, R>>>,
}

impl<T, R> Default for Carpool<T, R> {
    fn default() -> Self {
        Carpool {
            seat: Mutex::new(None),
        }
    }
}

impl<T, R> Carpool<T, R> {
    /// Takes the waiting batch, if any, into the caller's transaction (the writer held).
    pub fn take(&self) -> Option<Ride<T, R>> {
        self.seat.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// A batch waits in the seat.
    #[cfg(test)]
    pub fn waiting(&self) -> bool {
        self.seat.lock().unwrap().is_some()
    }

    /// Waits up to `patience` for a transaction to carry `load`: what its statements returned
    /// once that transaction committed, or `None` when nobody carried it (the seat was taken,
    /// nobody came in time, or the carrying transaction failed), to be written on its own.
    pub async fn ride(&self, load: T, patience: Duration) -> Option<R> {
        let (reply, arrival) = oneshot::channel();
        {
            let mut seat = self.seat.lock().unwrap_or_else(|p| p.into_inner());
            if seat.is_some() {
                return None;
            }
            *seat = Some(Ride { load, reply });
        }
        let mut arrival = arrival;
        match tokio::time::timeout(patience, &mut arrival).await {
            Ok(carried) => carried.ok(),
            Err(_) => {
                // Still in the seat: taken back. Gone: a transaction has it; wait for its end.
                if self.take().is_some() {
                    return None;
                }
                arrival.await.ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::task::JoinHandle;

    use super::*;

    const LONG: Duration = Duration::from_secs(5);

    type Pool = Arc<Carpool<u32, &'static str>>;

    /// A recorder's batch `load`, waiting in the seat of a fresh pool once this returns.
    async fn seated(load: u32, patience: Duration) -> (Pool, JoinHandle<Option<&'static str>>) {
        let pool = Pool::default();
        let rider = tokio::spawn({
            let pool = pool.clone();
            async move { pool.ride(load, patience).await }
        });
        while !pool.waiting() {
            tokio::task::yield_now().await;
        }
        (pool, rider)
    }

    #[tokio::test]
    async fn a_carried_batch_gets_what_its_transaction_returned() {
        let (pool, rider) = seated(7, LONG).await;
        let ride = pool.take().expect("the batch waits in the seat");
        assert_eq!(ride.load, 7);
        assert!(pool.take().is_none(), "one batch, taken once");
        ride.arrived("committed");
        assert_eq!(rider.await.unwrap(), Some("committed"));
    }

    #[tokio::test]
    async fn nobody_coming_sends_the_batch_back_and_empties_the_seat() {
        let pool = Carpool::<u32, &'static str>::default();
        assert_eq!(pool.ride(1, Duration::from_millis(5)).await, None);
        assert!(pool.take().is_none());
    }

    #[tokio::test]
    async fn a_failed_carrier_sends_the_batch_back() {
        let (pool, rider) = seated(2, LONG).await;
        drop(pool.take().unwrap());
        assert_eq!(rider.await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_batch_taken_as_patience_ends_waits_for_its_carrier() {
        let (pool, rider) = seated(3, Duration::from_millis(20)).await;
        let ride = pool.take().unwrap();
        // The carrier commits well after the rider's patience ran out.
        tokio::time::sleep(Duration::from_millis(60)).await;
        ride.arrived("late");
        assert_eq!(rider.await.unwrap(), Some("late"));
    }

    #[tokio::test]
    async fn a_taken_seat_turns_a_second_batch_away() {
        let (pool, first) = seated(1, LONG).await;
        assert_eq!(pool.ride(2, LONG).await, None);
        let ride = pool.take().unwrap();
        assert_eq!(ride.load, 1);
        ride.arrived("ok");
        assert_eq!(first.await.unwrap(), Some("ok"));
    }
}
