//! The queue's statements that are the same on both backends: recording attempt outcomes
//! (the attempt row, the delivery's next step, the endpoint's failure policy and its due hint,
//! for a batch in one transaction), and the two reads the engine polls.

use std::collections::HashSet;

use super::Pool;
use crate::store::*;

pub async fn record(pool: &Pool, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>> {
    let mut tx = pool.begin().await?;
    let mut changes = Vec::new();
    let mut touched = HashSet::new();
    for o in outcomes {
        touched.insert(o.endpoint_id.as_str());
        let a = &o.attempt;
        sqlx::query(
            "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, status_code,
                response_body, error_kind, error_message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(&a.delivery_id)
        .bind(a.number)
        .bind(a.started_at)
        .bind(a.duration_ms)
        .bind(a.status_code)
        .bind(&a.response_body)
        .bind(&a.error_kind)
        .bind(&a.error_message)
        .execute(&mut *tx)
        .await?;
        let (status, next_at) = match o.next {
            NextStep::Succeeded => ("succeeded", None),
            NextStep::RetryAt(t) => ("pending", Some(t)),
            NextStep::Failed | NextStep::Gone => ("failed", None),
        };
        sqlx::query(
            "UPDATE deliveries SET
                status = CASE WHEN status = 'cancelled' AND $1 != 'succeeded' THEN 'cancelled' ELSE $1 END,
                next_attempt_at = CASE WHEN status = 'cancelled' AND $1 != 'succeeded' THEN NULL ELSE $2 END,
                attempts = attempts + 1, last_attempt_at = $3, last_status_code = $4, lease_until = NULL
             WHERE id = $5",
        )
        .bind(status)
        .bind(next_at)
        .bind(a.started_at)
        .bind(a.status_code)
        .bind(&a.delivery_id)
        .execute(&mut *tx)
        .await?;
        let disable_reason = match o.next {
            NextStep::Succeeded => {
                sqlx::query("UPDATE endpoints SET first_failure_at = NULL WHERE id = $1 AND first_failure_at IS NOT NULL")
                    .bind(&o.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
                None
            }
            NextStep::Gone => Some("gone: the endpoint answered 410".to_string()),
            NextStep::RetryAt(_) | NextStep::Failed => {
                let first: Option<Option<i64>> = sqlx::query_scalar(
                    "UPDATE endpoints SET first_failure_at = COALESCE(first_failure_at, $1)
                     WHERE id = $2 RETURNING first_failure_at",
                )
                .bind(o.now)
                .bind(&o.endpoint_id)
                .fetch_optional(&mut *tx)
                .await?;
                match first.flatten() {
                    Some(f) if o.now - f > o.auto_disable_after_ms => Some(format!(
                        "failing: every attempt failed for over {} s",
                        o.auto_disable_after_ms / 1000
                    )),
                    _ => None,
                }
            }
        };
        if let Some(reason) = disable_reason {
            let n = sqlx::query(
                "UPDATE endpoints SET status = 'auto_disabled', disabled_reason = $1, updated_at = $2
                 WHERE id = $3 AND status = 'active'",
            )
            .bind(&reason)
            .bind(o.now)
            .bind(&o.endpoint_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                let cancelled = super::endpoints::cancel_pending(&mut tx, &o.endpoint_id).await?;
                changes.push(EndpointChange {
                    endpoint_id: o.endpoint_id.clone(),
                    cancelled,
                });
            }
        }
    }
    for ep in touched {
        super::queue::refresh_due(&mut tx, ep).await?;
    }
    super::queue::notify(&mut tx).await?;
    tx.commit().await?;
    Ok(changes)
}

/// The earliest due hint of active endpoints.
pub async fn next_due_at(pool: &Pool) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MIN(next_due_at) FROM endpoints WHERE status = 'active'")
            .fetch_one(pool)
            .await?,
    )
}

/// How many deliveries are pending (the `herald_deliveries_pending` gauge).
pub async fn count_pending(pool: &Pool) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            .fetch_one(pool)
            .await?,
    )
}
