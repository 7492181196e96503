//! An endpoint's due hint (`endpoints.next_due_at`): the due time of its earliest unleased
//! pending delivery (for an ordered endpoint, of its head, and only if unleased), which the
//! claim walks instead of the deliveries. Each branch is one index seek, whatever the
//! endpoint's backlog. The same SQL on both backends.

use super::query::query;
use super::script::Script;
use super::Backend;
use crate::store::Result;

/// The hint's value, as an expression over the `endpoints` row being updated.
pub const DUE_EXPR: &str = "CASE WHEN ordered THEN
       (SELECT CASE WHEN d.lease_until IS NULL THEN d.next_attempt_at END FROM deliveries d
         WHERE d.endpoint_id = endpoints.id AND d.status = 'pending' ORDER BY d.seq LIMIT 1)
     ELSE
       (SELECT d.next_attempt_at FROM deliveries d
         WHERE d.endpoint_id = endpoints.id AND d.status = 'pending' AND d.lease_until IS NULL
         ORDER BY d.next_attempt_at LIMIT 1)
     END";

/// Recomputes one endpoint's hint.
pub async fn refresh<D: Backend>(conn: &mut D::Connection, endpoint_id: &str) -> Result<()> {
    query::<D>(&format!(
        "UPDATE endpoints SET next_due_at = {DUE_EXPR} WHERE id = $1"
    ))
    .bind(endpoint_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds [`refresh`]'s statement to a script, to travel with the rest of a transaction.
/// Several endpoints go in a fixed order, so that two nodes lock endpoint rows alike.
/// (`OR_FAIL`: a failed script is rolled back whole, see the backend's constant.)
pub fn push_refresh<'a, D: Backend>(script: &mut Script<'a, D>, endpoint_id: &'a str) {
    script
        .statement()
        .push(format_args!(
            "UPDATE {}endpoints SET next_due_at = {DUE_EXPR} WHERE id = ",
            D::OR_FAIL
        ))
        .push_bind(endpoint_id);
}
