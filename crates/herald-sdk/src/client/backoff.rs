//! Retry delays: full-jitter capped exponential backoff, with `Retry-After` as a floor.

use std::time::Duration;

use rand::Rng;

/// How the client retries.
///
/// ```
/// use std::time::Duration;
/// let p = herald_sdk::client::RetryPolicy::default();
/// assert!(p.delay(1, None) <= Duration::from_millis(500));
/// assert!(p.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The cap of the first delay; doubles each retry.
    pub base: Duration,
    /// The largest delay.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based): uniformly random in
    /// `0..=min(cap, base × 2^(retry-1))`, and never less than `retry_after`.
    ///
    /// ```
    /// let p = herald_sdk::client::RetryPolicy::default();
    /// assert!(p.delay(20, None) <= p.cap);
    /// ```
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        let jittered =
            Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..=ceiling.as_secs_f64()));
        match retry_after {
            Some(floor) => jittered.max(floor),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_within_the_capped_exponential() {
        let p = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for retry in 1..8u32 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << (retry - 1))).min(Duration::from_secs(1));
            for _ in 0..200 {
                assert!(p.delay(retry, None) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| p.delay(3, None).as_micros()).collect();
        assert!(spread.len() > 10, "delays must be random");
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }
}
