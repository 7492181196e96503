//! The queue's statements that are the same on both backends: recording attempt outcomes
//! (the attempt row, the delivery's next step, the endpoint's failure policy and its due hint,
//! for a batch in one transaction), and the two reads the engine polls.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::Pool;

use super::query::query;
use super::rows::Get;
use super::script::Script;
use super::Backend;
use crate::store::failure_streak::{BatchStreak, Disable};
use crate::store::sqlite::active_endpoints::ActiveEndpoints;
use crate::store::*;

/// Rows per multi-row statement (bound parameters stay far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 400;

/// `active`: the kept copy of active endpoints (SQLite), told of an auto-disable.
pub async fn record<D: Backend>(
    w: &D::Writer,
    outcomes: &[RecordedOutcome],
    active: Option<&ActiveEndpoints>,
) -> Result<Vec<EndpointChange>> {
    let mut conn = D::lock_writer(w).await?;
    let mut script = Script::transaction();
    let streaks = push_batch(&mut script, outcomes);
    let returned = D::commit_script(&mut conn, script).await?;
    let disable = disables::<D>(streaks, &returned)?;
    apply_disables::<D>(&mut conn, outcomes, disable, active).await
}

/// After `outcomes` were committed in another transaction (an ingest's, see
/// `store::sqlite::carpool`) that returned `returned`: the auto-disables they call for.
pub async fn settle_carried<D: Backend>(
    w: &D::Writer,
    outcomes: &[RecordedOutcome],
    returned: &[D::Row],
    active: Option<&ActiveEndpoints>,
) -> Result<Vec<EndpointChange>> {
    let disable = disables::<D>(streaks(outcomes).1, returned)?;
    if disable.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = D::lock_writer(w).await?;
    apply_disables::<D>(&mut conn, outcomes, disable, active).await
}

/// Each endpoint with a failure in the batch, its streak worked out from the batch's
/// outcomes in order, and its auto-disable period.
type Streaks<'a> = Vec<(&'a str, BatchStreak, i64)>;

/// The endpoints with only successes in the batch, and the [`Streaks`] of the others; in a
/// fixed order, so that two nodes lock endpoint rows alike.
fn streaks(outcomes: &[RecordedOutcome]) -> (Vec<&str>, Streaks<'_>) {
    let mut by_endpoint: BTreeMap<&str, Vec<(usize, &RecordedOutcome)>> = BTreeMap::new();
    // A cancelled delivery had no attempt: it neither starts nor ends a failure streak.
    let attempted = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.next != NextStep::Cancelled);
    for (i, o) in attempted {
        by_endpoint.entry(&o.endpoint_id).or_default().push((i, o));
    }
    let (streak_over, failing): (Vec<_>, Vec<_>) = by_endpoint
        .into_iter()
        .partition(|(_, list)| list.iter().all(|(_, o)| o.next == NextStep::Succeeded));
    let streaks = failing
        .into_iter()
        .map(|(id, list)| {
            let after_ms = list[0].1.auto_disable_after_ms;
            (id, BatchStreak::of(list), after_ms)
        })
        .collect();
    (streak_over.into_iter().map(|(id, _)| id).collect(), streaks)
}

/// The batch's statements, for a transaction of its own or riding in another one. Every
/// delivery's new state in a few multi-row statements (a delivery has one attempt at a time,
/// so one row each), and the failure streak of each endpoint with a failure here, its stored
/// start read back with `RETURNING` (the only rows the statements return). Returns the
/// batch's streaks, for [`disables`] once committed.
pub fn push_batch<'a, D: Backend>(
    script: &mut Script<'a, D>,
    outcomes: &'a [RecordedOutcome],
) -> Streaks<'a> {
    push_attempts(script, outcomes);
    push_deliveries(script, outcomes);
    push_cancels(script, outcomes);
    // Endpoints with only successes here end their failure streak (one statement for all);
    // the others' are worked out from their outcomes.
    let (streak_over, streaks) = streaks(outcomes);
    if !streak_over.is_empty() {
        let q = script.statement();
        q.push("UPDATE ").push(D::OR_FAIL).push(
            "endpoints SET first_failure_at = NULL WHERE first_failure_at IS NOT NULL AND id IN (",
        );
        let mut list = q.separated(", ");
        for id in streak_over {
            list.push_bind(id);
        }
        q.push(")");
    }
    for (endpoint_id, streak, _) in &streaks {
        if let Some(first) = streak.opening_start() {
            script
                .statement()
                .push("UPDATE ")
                .push(D::OR_FAIL)
                .push("endpoints SET first_failure_at = COALESCE(first_failure_at, ")
                .push_bind(first)
                .push(") WHERE id = ")
                .push_bind(*endpoint_id)
                .push(" RETURNING id, first_failure_at");
        }
    }
    // After every `RETURNING`: the streaks a success here ended or restarted.
    for (endpoint_id, streak, _) in &streaks {
        if let Some(start) = streak.closing() {
            script
                .statement()
                .push("UPDATE ")
                .push(D::OR_FAIL)
                .push("endpoints SET first_failure_at = ")
                .push_bind(start)
                .push(" WHERE id = ")
                .push_bind(*endpoint_id);
        }
    }
    // A success of an unordered endpoint's (leased) delivery leaves its due hint as it was:
    // the hint is about unleased pending deliveries.
    let touched: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.next != NextStep::Succeeded || o.ordered)
        .map(|o| o.endpoint_id.as_str())
        .collect();
    for ep in touched {
        super::due_hints::push_refresh(script, ep);
    }
    // Only a retry makes new work due for other processes; after a success this process's
    // own engine claims an ordered endpoint's next delivery.
    if !streaks.is_empty() {
        D::push_notify(script);
    }
    streaks
}

/// The endpoints the batch's failure streaks disable, from the streak starts its committed
/// statements returned.
fn disables<'a, D: Backend>(
    streaks: Streaks<'a>,
    returned: &[D::Row],
) -> Result<Vec<(&'a str, Disable)>> {
    let mut stored_start: HashMap<String, Option<i64>> = HashMap::new();
    for row in returned {
        stored_start.insert(row.col(0)?, row.col(1)?);
    }
    Ok(streaks
        .into_iter()
        .filter_map(|(endpoint_id, streak, after_ms)| {
            let stored = stored_start.get(endpoint_id).copied().flatten();
            Some((endpoint_id, streak.disable(stored, after_ms)?))
        })
        .collect())
}

/// Rare, and a transaction of its own: should the process stop before it, the streak is
/// stored and the endpoint's next failure disables it. Only this changes an endpoint's
/// status, so only this is marked as such a write.
async fn apply_disables<D: Backend>(
    conn: &mut D::WriteConn<'_>,
    outcomes: &[RecordedOutcome],
    disable: Vec<(&str, Disable)>,
    active: Option<&ActiveEndpoints>,
) -> Result<Vec<EndpointChange>> {
    if disable.is_empty() {
        return Ok(Vec::new());
    }
    let writing = active.map(|a| a.writing());
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    let mut changes = Vec::new();
    for (endpoint_id, d) in disable {
        let n = query::<D>(
            "UPDATE endpoints SET status = 'auto_disabled', disabled_reason = $1, updated_at = $2
             WHERE id = $3 AND status = 'active'",
        )
        .bind(&d.reason)
        .bind(outcomes[d.at].now)
        .bind(endpoint_id)
        .execute(&mut *tx)
        .await?;
        if n > 0 {
            let cancelled = super::endpoints::cancel_pending::<D>(&mut tx, endpoint_id).await?;
            changes.push(EndpointChange {
                endpoint_id: endpoint_id.to_string(),
                cancelled,
            });
        }
    }
    tx.commit().await?;
    // The kept lists' version moves before the writer is let go.
    drop(writing);
    Ok(changes)
}

/// Deliveries a transformation cancelled: no attempt row, no attempt counted.
fn push_cancels<'a, D: Backend>(script: &mut Script<'a, D>, outcomes: &'a [RecordedOutcome]) {
    let mut cancelled = outcomes
        .iter()
        .filter(|o| o.next == NextStep::Cancelled)
        .peekable();
    if cancelled.peek().is_none() {
        return;
    }
    let q = script.statement();
    q.push("UPDATE ").push(D::OR_FAIL).push(
        "deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL
         WHERE status = 'pending' AND id IN (",
    );
    let mut list = q.separated(", ");
    for o in cancelled {
        list.push_bind(&o.attempt.delivery_id);
    }
    q.push(")");
}

fn push_attempts<'a, D: Backend>(script: &mut Script<'a, D>, outcomes: &'a [RecordedOutcome]) {
    let outcomes: Vec<&RecordedOutcome> = outcomes
        .iter()
        .filter(|o| o.next != NextStep::Cancelled)
        .collect();
    if outcomes.is_empty() {
        return;
    }
    const COLUMNS: &str = "INTO attempts (id, delivery_id, number, started_at, duration_ms,
        status_code, response_body, error_kind, error_message) ";
    if D::JSON_ROWS {
        let rows: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                let a = &o.attempt;
                serde_json::json!([
                    a.id,
                    a.delivery_id,
                    a.number,
                    a.started_at,
                    a.duration_ms,
                    a.status_code,
                    a.response_body,
                    a.error_kind,
                    a.error_message
                ])
            })
            .collect();
        script
            .statement()
            .push("INSERT ")
            .push(D::OR_FAIL)
            .push(COLUMNS)
            .push(
                "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5,
                    value->>6, value->>7, value->>8 FROM json_each(",
            )
            .push_bind(serde_json::Value::Array(rows).to_string())
            .push(")");
        return;
    }
    for chunk in outcomes.chunks(ROWS_PER_STATEMENT) {
        let q = script.statement();
        q.push("INSERT ").push(D::OR_FAIL).push(COLUMNS);
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

/// A delivery's next status and retry time after an attempt.
fn next_state(o: &RecordedOutcome) -> (&'static str, Option<i64>) {
    match o.next {
        NextStep::Succeeded => ("succeeded", None),
        NextStep::RetryAt(t) => ("pending", Some(t)),
        NextStep::Failed | NextStep::Gone => ("failed", None),
        NextStep::Cancelled => ("cancelled", None),
    }
}

/// Each delivery's next state (succeeded, pending until its retry, or failed), for many
/// attempts in one statement, from a VALUES list (column names `column1`… and CASTs work on
/// both databases) or, on SQLite, from one JSON argument (the same SQL for any number of
/// rows, so it stays prepared); a delivery cancelled meanwhile stays cancelled unless this
/// attempt succeeded.
fn push_deliveries<'a, D: Backend>(script: &mut Script<'a, D>, outcomes: &'a [RecordedOutcome]) {
    let outcomes: Vec<&RecordedOutcome> = outcomes
        .iter()
        .filter(|o| o.next != NextStep::Cancelled)
        .collect();
    if outcomes.is_empty() {
        return;
    }
    const SET: &str = "deliveries SET
            status = CASE WHEN deliveries.status = 'cancelled' AND u.next_status != 'succeeded'
                THEN 'cancelled' ELSE u.next_status END,
            next_attempt_at = CASE WHEN deliveries.status = 'cancelled' AND u.next_status != 'succeeded'
                THEN NULL ELSE u.next_at END,
            attempts = attempts + 1, last_attempt_at = u.started, last_status_code = u.code,
            lease_until = NULL ";
    if D::JSON_ROWS {
        let rows: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                let (status, next_at) = next_state(o);
                serde_json::json!([
                    o.attempt.delivery_id,
                    status,
                    next_at,
                    o.attempt.started_at,
                    o.attempt.status_code
                ])
            })
            .collect();
        script
            .statement()
            .push("UPDATE ")
            .push(D::OR_FAIL)
            .push(SET)
            .push(
                "FROM (SELECT value->>0 AS id, value->>1 AS next_status, value->>2 AS next_at,
                    value->>3 AS started, value->>4 AS code FROM json_each(",
            )
            .push_bind(serde_json::Value::Array(rows).to_string())
            .push(")) AS u WHERE deliveries.id = u.id");
        return;
    }
    for chunk in outcomes.chunks(ROWS_PER_STATEMENT) {
        let q = script.statement();
        q.push("UPDATE ").push(D::OR_FAIL).push(SET).push(
            "FROM (SELECT column1 AS id, column2 AS next_status, column3 AS next_at,
                      column4 AS started, column5 AS code FROM (",
        );
        q.push_values(chunk, |mut b, o| {
            let (status, next_at) = next_state(o);
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
}

/// The earliest due hint of active endpoints not in `skip`: the first of the earliest
/// `skip.len() + 1` hints (one walk of the hint index) that is not skipped.
pub async fn next_due_at<D: Backend>(
    pool: &Pool<D>,
    skip: &HashSet<String>,
) -> Result<Option<i64>> {
    let hints = query::<D>(
        "SELECT id, next_due_at FROM endpoints WHERE next_due_at IS NOT NULL AND status = 'active'
         ORDER BY next_due_at LIMIT $1",
    )
    .bind(skip.len() as i64 + 1)
    .fetch_all(pool)
    .await?;
    for row in hints {
        let id: String = row.col(0)?;
        if !skip.contains(&id) {
            return Ok(Some(row.col(1)?));
        }
    }
    Ok(None)
}

/// How many deliveries are pending (the `herald_deliveries_pending` gauge).
pub async fn count_pending<D: Backend>(pool: &Pool<D>) -> Result<i64> {
    Ok(
        query::<D>("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            .scalar(pool)
            .await?,
    )
}
