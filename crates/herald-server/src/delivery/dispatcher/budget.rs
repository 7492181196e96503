//! The concurrency budget of one process: attempts in flight stay under `max_concurrency`,
//! and jobs in memory (queued, in flight, finished but not yet recorded) under twice that,
//! whatever the number of pending deliveries in the store.

/// Counts of the dispatcher's jobs by where they are.
pub(super) struct Budget {
    max_concurrency: usize,
    /// HTTP attempts in flight.
    pub(super) in_flight: usize,
    /// Jobs in the slots' queues (due or held for their due time).
    pub(super) queued: usize,
    /// Attempts finished but not yet recorded (they still hold memory and a lease).
    pub(super) recording: usize,
}

impl Budget {
    pub(super) fn new(max_concurrency: usize) -> Budget {
        Budget {
            max_concurrency,
            in_flight: 0,
            queued: 0,
            recording: 0,
        }
    }

    fn held(&self) -> usize {
        self.in_flight + self.queued + self.recording
    }

    /// How many more jobs may be taken into memory (claimed or handed over).
    pub(super) fn room(&self) -> usize {
        (self.max_concurrency * 2).saturating_sub(self.held())
    }

    /// No room is left: stored work waits until some is.
    pub(super) fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Whether one more attempt may start now.
    pub(super) fn may_start(&self) -> bool {
        self.in_flight < self.max_concurrency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_counts_every_job_in_memory_and_attempts_stay_under_the_limit() {
        let mut b = Budget::new(4);
        assert_eq!(b.room(), 8);
        b.queued = 3;
        b.in_flight = 3;
        assert!(b.may_start());
        b.in_flight = 4;
        assert!(!b.may_start());
        assert_eq!(b.room(), 1);
        b.recording = 1;
        assert!(b.is_full());
        b.recording = 5; // never negative
        assert_eq!(b.room(), 0);
    }
}
