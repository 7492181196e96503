//! The retry schedule: what happens to a delivery after an attempt.

use std::time::Duration;

use rand::Rng;

use crate::store::NextStep;

/// Longest `Retry-After` honoured (delivery.md: capped at 1 h).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// Decides the next step after attempt number `attempt` (1-based) ended.
///
/// `schedule[i]` is the delay after attempt `i + 1` fails; its length + 1 is the number of
/// attempts. `retry_after` (from a 429/503) is a floor on the delay.
pub fn next_step(
    attempt: i64,
    succeeded: bool,
    status: Option<u16>,
    schedule: &[Duration],
    jitter: f64,
    retry_after: Option<Duration>,
    now_ms: i64,
) -> NextStep {
    if succeeded {
        return NextStep::Succeeded;
    }
    if status == Some(410) {
        return NextStep::Gone;
    }
    let Some(base) = usize::try_from(attempt - 1)
        .ok()
        .and_then(|i| schedule.get(i))
    else {
        return NextStep::Failed;
    };
    let factor = if jitter > 0.0 {
        1.0 + rand::thread_rng().gen_range(-jitter..=jitter)
    } else {
        1.0
    };
    let mut delay = base.mul_f64(factor);
    if let Some(floor) = retry_after {
        delay = delay.max(floor.min(RETRY_AFTER_CAP));
    }
    NextStep::RetryAt(now_ms + delay.as_millis() as i64)
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn schedule_then_exhaustion() {
        let sch = [s(1), s(2), s(3)];
        assert_eq!(
            next_step(1, false, Some(500), &sch, 0.0, None, 0),
            NextStep::RetryAt(1000)
        );
        assert_eq!(
            next_step(3, false, None, &sch, 0.0, None, 0),
            NextStep::RetryAt(3000)
        );
        assert_eq!(
            next_step(4, false, Some(500), &sch, 0.0, None, 0),
            NextStep::Failed
        );
        assert_eq!(
            next_step(9, false, Some(500), &sch, 0.0, None, 0),
            NextStep::Failed
        );
        assert_eq!(
            next_step(2, true, Some(200), &sch, 0.0, None, 0),
            NextStep::Succeeded
        );
        assert_eq!(
            next_step(1, false, Some(410), &sch, 0.0, None, 0),
            NextStep::Gone
        );
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let sch = [s(100)];
        for _ in 0..1000 {
            let NextStep::RetryAt(t) = next_step(1, false, None, &sch, 0.2, None, 0) else {
                panic!()
            };
            assert!((80_000..=120_000).contains(&t), "{t}");
        }
    }

    #[test]
    fn retry_after_is_a_capped_floor() {
        let sch = [s(1)];
        assert_eq!(
            next_step(1, false, Some(429), &sch, 0.0, Some(s(3)), 0),
            NextStep::RetryAt(3000)
        );
        assert_eq!(
            next_step(1, false, Some(429), &sch, 0.0, Some(s(0)), 0),
            NextStep::RetryAt(1000)
        );
        assert_eq!(
            next_step(1, false, Some(503), &sch, 0.0, Some(s(99_999)), 0),
            NextStep::RetryAt(3_600_000)
        );
        let now = std::time::SystemTime::UNIX_EPOCH + s(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(s(7)));
        let date = httpdate::fmt_http_date(now + s(30));
        assert_eq!(parse_retry_after(&date, now), Some(s(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
