//! The queue's statements that are the same on both backends: recording attempt outcomes
//! (the attempt row, the delivery's next step, the endpoint's failure policy and its due hint,
//! for a batch in one transaction), and the two reads the engine polls.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::script::Script;
use super::{Pool, Writer};
use crate::store::failure_streak::BatchStreak;
use crate::store::*;

/// Rows per multi-row statement (bound parameters stay far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 400;

pub async fn record(w: &Writer, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>> {
    let mut conn = super::lock_writer(w).await?;
    // Every delivery's new state is written in a few multi-row statements (a delivery has
    // one attempt at a time, so one row each); the failure streak of each endpoint with a
    // failure here is worked out from its outcomes in order (`failure_streak`).
    let failing: HashSet<&str> = outcomes
        .iter()
        .filter(|o| o.next != NextStep::Succeeded)
        .map(|o| o.endpoint_id.as_str())
        .collect();
    // Nothing to read and no due hint to redo (see below): one script, committed in one go.
    let one_script = failing.is_empty() && !outcomes.iter().any(|o| o.ordered);
    let mut script = if one_script {
        Script::transaction()
    } else {
        Script::default()
    };
    push_attempts(&mut script, outcomes);
    for chunk in outcomes.chunks(ROWS_PER_STATEMENT) {
        push_deliveries(&mut script, chunk);
    }
    // Endpoints with only successes here end their failure streak: one statement for all.
    let streak_over: BTreeSet<&str> = outcomes
        .iter()
        .map(|o| o.endpoint_id.as_str())
        .filter(|id| !failing.contains(id))
        .collect();
    if !streak_over.is_empty() {
        let q = script.statement();
        q.push("UPDATE endpoints SET first_failure_at = NULL WHERE first_failure_at IS NOT NULL AND id IN (");
        let mut list = q.separated(", ");
        for id in streak_over {
            list.push_bind(id);
        }
        q.push(")");
    }
    if one_script {
        super::commit_script(&mut conn, script).await?;
        return Ok(Vec::new());
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    script.run(&mut tx).await?;
    let mut changes = Vec::new();
    // A success of an unordered endpoint's (leased) delivery leaves its due hint as it was:
    // the hint is about unleased pending deliveries.
    let touched: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.next != NextStep::Succeeded || o.ordered)
        .map(|o| o.endpoint_id.as_str())
        .collect();
    // The failing endpoints' streaks: one or two statements each, in a fixed order so that
    // two nodes lock endpoint rows alike.
    let mut by_endpoint: BTreeMap<&str, Vec<(usize, &RecordedOutcome)>> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        if failing.contains(o.endpoint_id.as_str()) {
            by_endpoint.entry(&o.endpoint_id).or_default().push((i, o));
        }
    }
    // What follows the statements that return something, sent together at the end: the
    // streaks that a success here ended or restarted, and the due hints.
    let mut after = Script::default();
    for (endpoint_id, list) in by_endpoint {
        let streak = BatchStreak::of(list.iter().copied());
        let stored_start = match streak.opening_start() {
            Some(first) => sqlx::query_scalar::<_, Option<i64>>(
                "UPDATE endpoints SET first_failure_at = COALESCE(first_failure_at, $1)
                 WHERE id = $2 RETURNING first_failure_at",
            )
            .bind(first)
            .bind(endpoint_id)
            .fetch_optional(&mut *tx)
            .await?
            .flatten(),
            None => None,
        };
        if let Some(start) = streak.closing() {
            after
                .statement()
                .push("UPDATE endpoints SET first_failure_at = ")
                .push_bind(start)
                .push(" WHERE id = ")
                .push_bind(endpoint_id);
        }
        let Some(disable) = streak.disable(stored_start, list[0].1.auto_disable_after_ms) else {
            continue;
        };
        let n = sqlx::query(
            "UPDATE endpoints SET status = 'auto_disabled', disabled_reason = $1, updated_at = $2
             WHERE id = $3 AND status = 'active'",
        )
        .bind(&disable.reason)
        .bind(outcomes[disable.at].now)
        .bind(endpoint_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            let cancelled = super::endpoints::cancel_pending(&mut tx, endpoint_id).await?;
            changes.push(EndpointChange {
                endpoint_id: endpoint_id.to_string(),
                cancelled,
            });
        }
    }
    for ep in touched {
        super::due_hints::push_refresh(&mut after, ep);
    }
    // Only a retry makes new work due for other processes; after a success this process's
    // own engine claims an ordered endpoint's next delivery.
    if outcomes.iter().any(|o| o.next != NextStep::Succeeded) {
        super::queue::push_notify(&mut after);
    }
    after.run(&mut tx).await?;
    tx.commit().await?;
    Ok(changes)
}

fn push_attempts<'a>(script: &mut Script<'a>, outcomes: &'a [RecordedOutcome]) {
    for chunk in outcomes.chunks(ROWS_PER_STATEMENT) {
        let q = script.statement();
        q.push(
            "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, status_code,
                response_body, error_kind, error_message) ",
        );
        q.push_values(chunk, |mut b, o| {
            let a = &o.attempt;
            b.push_bind(&a.id)
                .push_bind(&a.delivery_id)
                .push_bind(a.number)
                .push_bind(a.started_at)
                .push_bind(a.duration_ms)
                .push_bind(a.status_code)
                .push_bind(&a.response_body)
                .push_bind(&a.error_kind)
                .push_bind(&a.error_message);
        });
    }
}

/// One statement for many attempts: each delivery's next state (succeeded, pending until
/// its retry, or failed) from a VALUES list (column names `column1`… and CASTs work on both
/// databases); a delivery cancelled meanwhile stays cancelled unless this attempt succeeded.
fn push_deliveries<'a>(script: &mut Script<'a>, chunk: &'a [RecordedOutcome]) {
    let q = script.statement();
    q.push(
        "UPDATE deliveries SET
            status = CASE WHEN deliveries.status = 'cancelled' AND u.next_status != 'succeeded'
                THEN 'cancelled' ELSE u.next_status END,
            next_attempt_at = CASE WHEN deliveries.status = 'cancelled' AND u.next_status != 'succeeded'
                THEN NULL ELSE u.next_at END,
            attempts = attempts + 1, last_attempt_at = u.started, last_status_code = u.code,
            lease_until = NULL
         FROM (SELECT column1 AS id, column2 AS next_status, column3 AS next_at,
                      column4 AS started, column5 AS code FROM (",
    );
    q.push_values(chunk, |mut b, o| {
        let (status, next_at) = match o.next {
            NextStep::Succeeded => ("succeeded", None),
            NextStep::RetryAt(t) => ("pending", Some(t)),
            NextStep::Failed | NextStep::Gone => ("failed", None),
        };
        b.push("CAST(")
            .push_bind_unseparated(&o.attempt.delivery_id)
            .push_unseparated(" AS TEXT)")
            .push("CAST(")
            .push_bind_unseparated(status)
            .push_unseparated(" AS TEXT)")
            .push("CAST(")
            .push_bind_unseparated(next_at)
            .push_unseparated(" AS BIGINT)")
            .push("CAST(")
            .push_bind_unseparated(o.attempt.started_at)
            .push_unseparated(" AS BIGINT)")
            .push("CAST(")
            .push_bind_unseparated(o.attempt.status_code)
            .push_unseparated(" AS BIGINT)");
    });
    q.push(") AS v) AS u WHERE deliveries.id = u.id");
}

/// The earliest due hint of active endpoints not in `skip`: the first of the earliest
/// `skip.len() + 1` hints (one walk of the hint index) that is not skipped.
pub async fn next_due_at(pool: &Pool, skip: &HashSet<String>) -> Result<Option<i64>> {
    let hints: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, next_due_at FROM endpoints WHERE next_due_at IS NOT NULL AND status = 'active'
         ORDER BY next_due_at LIMIT $1",
    )
    .bind(skip.len() as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(hints
        .into_iter()
        .find(|(id, _)| !skip.contains(id))
        .map(|(_, at)| at))
}

/// How many deliveries are pending (the `herald_deliveries_pending` gauge).
pub async fn count_pending(pool: &Pool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            .fetch_one(pool)
            .await?,
    )
}
