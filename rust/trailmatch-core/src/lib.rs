//! # trailmatch-core
//!
//! Amazon EventBridge event patterns compiled into one automaton that matches raw JSON bytes,
//! whatever the number of rules. Pure Rust; the Python bindings live in `trailmatch-py`.
//!
//! * [`pattern`] — the EventBridge pattern language: parsing, validation with EventBridge's
//!   own error reasons, lowering to the shared predicate [`ir`].
//! * [`automaton`] — the engine: every rule's predicates filed per field path, one pass over
//!   the event ([`json::scan`]), counting of satisfied conditions per branch, array-consistent
//!   matching.
//! * [`value`] — numbers, IP addresses, ignore-case and wildcard semantics.
//! * [`explain`] — why one pattern did or did not match one event.
//! * [`filter`] — CloudWatch Logs filter patterns (metric filters), the second dialect, on the
//!   same scanner.
//!
//! # Example
//!
//! ```
//! use trailmatch_core::{Ruleset, Scratch};
//!
//! let mut rules = Ruleset::new();
//! rules.add("console-login-no-mfa", r#"{
//!     "detail-type": ["AWS Console Sign In via CloudTrail"],
//!     "detail": {"additionalEventData": {"MFAUsed": [{"anything-but": "Yes"}]}}
//! }"#).unwrap();
//! let event = br#"{"detail-type": "AWS Console Sign In via CloudTrail",
//!                  "detail": {"additionalEventData": {"MFAUsed": "No"}}}"#;
//! assert_eq!(rules.matches(event).unwrap(), vec!["console-login-no-mfa"]);
//! ```

#![warn(missing_docs)]

pub mod automaton;
pub mod cloudtrail;
pub mod error;
pub mod explain;
pub mod filter;
pub mod ir;
pub mod json;
pub mod pattern;
pub mod value;

pub use automaton::{test_event_pattern, Error, RuleId, Ruleset, Scratch};
pub use error::{EventError, PatternError};
pub use filter::{test_metric_filter, FilterError, FilterSet};
pub use json::scan::Validation;
pub use pattern::Limits;

#[cfg(test)]
pub(crate) mod testing {
    /// A seeded xorshift64 generator for the randomised tests (reproducible, no dependency).
    pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }
}
