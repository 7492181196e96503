//! One endpoint's slot: its in-memory queue, its in-flight count (`max_in_flight`, split
//! between the live processes) and its token bucket (`rate_limit`). A full slot makes the
//! dispatcher skip its endpoint when claiming and when taking hand-overs, so a slow or
//! failing endpoint holds only its own room.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::store::Job;

/// Jobs an endpoint may hold in memory, in multiples of its `max_in_flight`: deep while it
/// answers quickly (fan-out bursts are then handed over instead of going through the
/// store), shallow once an attempt was slow (queued jobs would wait, and their leases lapse).
pub(super) const DEPTH_FAST: usize = 8;
pub(super) const DEPTH_SLOW: usize = 2;
/// An attempt slower than this makes its endpoint's queue shallow until a fast one.
pub(super) const SLOW_ATTEMPT: Duration = Duration::from_millis(500);

/// A job in memory, and when its lease ends.
/// A job, its lease's end, and its transformation when started ahead (queued jobs only).
pub(super) type Held = (Job, i64, Option<super::super::request::Ahead>);

pub(super) struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(super) fn new(rate: f64) -> Self {
        TokenBucket {
            rate,
            tokens: 1.0,
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is available.
    pub(super) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        // Burst of at most one second's worth.
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

pub(super) struct Slot {
    /// Due jobs, in the order they go.
    pub(super) queue: VecDeque<Held>,
    /// Jobs claimed ahead of their due time, earliest first.
    pub(super) later: VecDeque<Held>,
    pub(super) in_flight: usize,
    pub(super) max_in_flight: usize,
    pub(super) bucket: Option<TokenBucket>,
    /// The last attempt took longer than `SLOW_ATTEMPT`.
    pub(super) slow: bool,
}

impl Slot {
    pub(super) fn new() -> Self {
        Slot {
            queue: VecDeque::new(),
            later: VecDeque::new(),
            in_flight: 0,
            max_in_flight: 16,
            bucket: None,
            slow: false,
        }
    }

    /// Follows the endpoint's current settings (from the latest claimed job). With several
    /// processes on one store, each takes its share of the endpoint's limits.
    pub(super) fn configure(&mut self, job: &Job, nodes: i64) {
        let nodes = nodes.max(1);
        self.max_in_flight =
            (job.endpoint.max_in_flight.max(1) + nodes - 1) as usize / nodes as usize;
        let rate = job.endpoint.rate_limit.map(|r| r as f64 / nodes as f64);
        match (rate, &mut self.bucket) {
            (None, b) => *b = None,
            (Some(r), Some(b)) if (b.rate - r).abs() < f64::EPSILON => {}
            (Some(r), b) => *b = Some(TokenBucket::new(r)),
        }
    }

    /// Jobs held in memory before the endpoint is skipped when claiming.
    pub(super) fn capacity(&self) -> usize {
        let depth = if self.slow { DEPTH_SLOW } else { DEPTH_FAST };
        let by_flight = self.max_in_flight * depth;
        match &self.bucket {
            Some(b) => by_flight.min((b.rate * 2.0).ceil() as usize).max(1),
            None => by_flight,
        }
    }

    pub(super) fn full(&self) -> bool {
        self.queue.len() + self.later.len() + self.in_flight >= self.capacity()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.in_flight == 0 && self.queue.is_empty() && self.later.is_empty()
    }

    /// Queues a due job, starting its transformation (if any) so that it runs while the
    /// job waits.
    pub(super) fn enqueue(&mut self, mut held: Held) {
        if held.2.is_none() {
            held.2 = super::super::request::start_ahead(&held.0);
        }
        self.queue.push_back(held);
    }

    /// Queues a job, or holds it until its due time.
    pub(super) fn push(&mut self, held: Held, now: i64) {
        if held.0.due_at <= now {
            self.enqueue(held);
        } else {
            let at = self
                .later
                .partition_point(|(j, _, _)| j.due_at <= held.0.due_at);
            self.later.insert(at, held);
        }
    }

    /// Moves the held jobs that are due by `now` to the queue; returns when the next one
    /// left is due.
    pub(super) fn release_due(&mut self, now: i64) -> Option<i64> {
        while let Some((job, _, _)) = self.later.front() {
            if job.due_at > now {
                return Some(job.due_at);
            }
            if let Some(held) = self.later.pop_front() {
                self.enqueue(held);
            }
        }
        None
    }

    /// Every job in memory (queued or held), taken out.
    pub(super) fn drain(&mut self) -> Vec<Job> {
        self.queue
            .drain(..)
            .chain(self.later.drain(..))
            .map(|(j, _, _)| j)
            .collect()
    }
}
