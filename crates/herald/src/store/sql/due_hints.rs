//! Statements that keep an endpoint's due hint (`endpoints.next_due_at`) current, added to a
//! script so that they travel with the rest of a transaction.

use super::script::Script;

/// Recomputes one endpoint's hint (the backend's `queue::DUE_EXPR`). Several endpoints go in
/// a fixed order, so that two nodes lock endpoint rows alike.
pub fn push_refresh<'a>(script: &mut Script<'a>, endpoint_id: &'a str) {
    script
        .statement()
        .push(format_args!(
            "UPDATE endpoints SET next_due_at = {} WHERE id = ",
            super::queue::DUE_EXPR
        ))
        .push_bind(endpoint_id);
}
