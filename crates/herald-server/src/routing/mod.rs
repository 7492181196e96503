//! What happens between the producer and the receiver (`routing.md`): payload filters at
//! fan-out and JavaScript transformations at each attempt.

pub mod filter;
pub mod transform;

pub use filter::{EventVars, Filter};
