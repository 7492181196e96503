//! One endpoint's failure streak across a batch of attempt outcomes (the auto-disable policy
//! of `delivery.md`), worked out in memory so that the store writes it in one or two
//! statements per endpoint instead of one per outcome.
//!
//! The streak starts at an endpoint's first failure after a success and ends at its next
//! success; an endpoint failing for longer than `auto_disable_after` is disabled, and one
//! that answered 410 is disabled at once.

use super::{NextStep, RecordedOutcome};

/// One endpoint's outcomes of a batch, in order, reduced to what the streak needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchStreak {
    /// Failures before the batch's first success, as (position in the batch, time): they
    /// continue the stored streak, or start one at the first of them.
    pub opening: Vec<(usize, i64)>,
    /// Runs of failures after a success: each starts at its own first failure.
    later: Vec<Vec<(usize, i64)>>,
    had_success: bool,
    /// The last success or failure (a 410 aside) was a success.
    ends_with_success: bool,
    /// Position of the first 410.
    gone_at: Option<usize>,
}

/// Why an endpoint is disabled, and at which outcome of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disable {
    pub at: usize,
    pub reason: String,
}

impl BatchStreak {
    /// `outcomes`: the batch's outcomes of one endpoint, with their positions, in order.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = (usize, &'a RecordedOutcome)>) -> Self {
        let mut s = BatchStreak::default();
        for (i, o) in outcomes {
            match o.next {
                NextStep::Succeeded => {
                    s.had_success = true;
                    s.ends_with_success = true;
                    s.later.push(Vec::new());
                }
                // Cancelled by a transformation: no attempt was made.
                NextStep::Cancelled => {}
                // A 410 disables the endpoint by itself; it does not count in the streak.
                NextStep::Gone => {
                    s.gone_at.get_or_insert(i);
                }
                NextStep::RetryAt(_) | NextStep::Failed => {
                    s.ends_with_success = false;
                    match s.later.last_mut() {
                        Some(run) => run.push((i, o.now)),
                        None => s.opening.push((i, o.now)),
                    }
                }
            }
        }
        s.later.retain(|run| !run.is_empty());
        s
    }

    /// The start to keep for the opening failures: the stored one when there is one (the
    /// store's `COALESCE(first_failure_at, …)`), else the first of them.
    pub fn opening_start(&self) -> Option<i64> {
        self.opening.first().map(|&(_, at)| at)
    }

    /// The first outcome that disables the endpoint, given the streak start the store holds
    /// after the opening failures (`None` when there were none).
    pub fn disable(&self, stored_start: Option<i64>, after_ms: i64) -> Option<Disable> {
        let failing = |at: usize| Disable {
            at,
            reason: format!(
                "failing: every attempt failed for over {} s",
                after_ms / 1000
            ),
        };
        let opening = stored_start.and_then(|start| {
            self.opening
                .iter()
                .find(|&&(_, now)| now - start > after_ms)
                .map(|&(i, _)| failing(i))
        });
        let later = self.later.iter().find_map(|run| {
            let start = run[0].1;
            run.iter()
                .find(|&&(_, now)| now - start > after_ms)
                .map(|&(i, _)| failing(i))
        });
        let gone = self.gone_at.map(|at| Disable {
            at,
            reason: "gone: the endpoint answered 410".to_string(),
        });
        [opening, later, gone]
            .into_iter()
            .flatten()
            .min_by_key(|d| d.at)
    }

    /// What `first_failure_at` must become after the batch, when the opening statement did
    /// not already leave it right: `Some(None)` ends the streak (the batch ended with a
    /// success), `Some(Some(t))` starts it anew at `t` (failures after the last success).
    pub fn closing(&self) -> Option<Option<i64>> {
        if !self.had_success {
            return None;
        }
        if self.ends_with_success {
            return Some(None);
        }
        Some(self.later.last().map(|run| run[0].1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Attempt;

    const DAY: i64 = 86_400_000;

    fn outcome(next: NextStep, now: i64) -> RecordedOutcome {
        RecordedOutcome {
            attempt: Attempt {
                id: String::new(),
                delivery_id: String::new(),
                number: 1,
                started_at: now,
                duration_ms: 1,
                status_code: None,
                response_body: None,
                error_kind: None,
                error_message: None,
            },
            endpoint_id: "ep".into(),
            ordered: false,
            next,
            now,
            auto_disable_after_ms: DAY,
        }
    }

    fn streak(steps: &[(NextStep, i64)]) -> BatchStreak {
        let outcomes: Vec<_> = steps.iter().map(|&(n, at)| outcome(n, at)).collect();
        BatchStreak::of(outcomes.iter().enumerate())
    }

    const FAIL: NextStep = NextStep::RetryAt(0);
    const OK: NextStep = NextStep::Succeeded;

    #[test]
    fn failures_only_continue_the_stored_streak() {
        let s = streak(&[(FAIL, 10), (NextStep::Failed, 20)]);
        assert_eq!(s.opening_start(), Some(10));
        assert_eq!(s.closing(), None);
        // A streak stored two days ago: the first failure is already past the limit.
        let d = s.disable(Some(20 - 2 * DAY), DAY).unwrap();
        assert_eq!(d.at, 0);
        assert!(d.reason.starts_with("failing"), "{}", d.reason);
        // A streak started by this batch is not.
        assert_eq!(s.disable(Some(10), DAY), None);
    }

    #[test]
    fn a_success_ends_the_streak_and_failures_after_it_start_a_new_one() {
        let s = streak(&[(FAIL, 10), (OK, 20), (FAIL, 30), (FAIL, 40)]);
        assert_eq!(s.opening_start(), Some(10));
        assert_eq!(s.closing(), Some(Some(30)));
        // The stored streak is old, but only the failure before the success continues it.
        assert_eq!(s.disable(Some(-2 * DAY), DAY).map(|d| d.at), Some(0));
        let s = streak(&[(OK, 20), (FAIL, 30), (OK, 40)]);
        assert_eq!(s.opening_start(), None);
        assert_eq!(s.closing(), Some(None));
        assert_eq!(s.disable(None, DAY), None);
    }

    #[test]
    fn a_run_after_a_success_is_measured_from_its_own_start() {
        let s = streak(&[(OK, 0), (FAIL, 10), (FAIL, 10 + DAY), (FAIL, 11 + DAY)]);
        assert_eq!(s.disable(None, DAY).map(|d| d.at), Some(3));
        assert_eq!(s.closing(), Some(Some(10)));
    }

    #[test]
    fn a_410_disables_at_its_place_and_leaves_the_streak_alone() {
        let s = streak(&[(OK, 0), (NextStep::Gone, 5), (FAIL, 10)]);
        let d = s.disable(None, DAY).unwrap();
        assert_eq!(d.at, 1);
        assert!(d.reason.starts_with("gone"), "{}", d.reason);
        assert_eq!(s.closing(), Some(Some(10)));
        // An earlier over-long streak wins over a later 410.
        let s = streak(&[(FAIL, 10), (NextStep::Gone, 20)]);
        let d = s.disable(Some(10 - 2 * DAY), DAY).unwrap();
        assert_eq!((d.at, d.reason.starts_with("failing")), (0, true));
    }
}
