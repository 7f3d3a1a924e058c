//! CloudWatch Logs filter patterns: the language of metric filters, subscription filters and
//! `FilterLogEvents`, evaluated offline with AWS's semantics.
//!
//! This module owns the second dialect of the engine (the first is [`crate::pattern`]): parsing
//! filter patterns with AWS's rules ([`FilterError`] says where a pattern goes wrong and, for
//! common mistakes, how to fix it) and matching messages against many patterns at once
//! ([`FilterSet`]). It does not own metric publication or alarms (the Python package does).
//!
//! Four kinds of pattern, chosen by the first character after trimming (reference §1):
//!
//! | pattern | kind | matches |
//! |---|---|---|
//! | `` (empty) | [`FilterKind::Empty`] | every message |
//! | `ERROR -ARGUMENTS`, `?ERROR ?WARN`, `"Failed authentication"`, `%[Ee]rror%` | [`FilterKind::Terms`] | substrings / regex of the raw text |
//! | `{ $.eventName = "ConsoleLogin" && $.errorCode NOT EXISTS }` | [`FilterKind::Json`] | conditions on JSON fields |
//! | `[ip, user, ..., status_code = 4*, bytes > 1000]` | [`FilterKind::Delimited`] | conditions on space-separated fields |
//!
//! JSON patterns run on the same streaming scanner as EventBridge patterns
//! ([`crate::json::scan`]), over an *exact* [`FieldTree`](crate::json::fields::FieldTree) of
//! every selector of the set: dotted event keys are plain keys, objects and arrays at a
//! selector are reported (and are never values), and each array element carries its index, so
//! `$.a[0].b` is resolved without building a DOM and without implicit array traversal.
//!
//! The language as implemented, every decision, errors and limits: `docs/FILTERS.md`.
//!
//! # Example
//!
//! ```
//! use trailmatch_core::filter::{test_metric_filter, FilterSet};
//!
//! let mut set = FilterSet::new();
//! let id = set
//!     .add("{($.userIdentity.sessionContext.sessionIssuer.userName!=cm-policymaintainer)&&($.eventName=PutRolePolicy)}")
//!     .unwrap();
//! let maintainer = br#"{"eventName": "PutRolePolicy",
//!     "userIdentity": {"sessionContext": {"sessionIssuer": {"userName": "cm-policymaintainer"}}}}"#;
//! let other = br#"{"eventName": "PutRolePolicy",
//!     "userIdentity": {"sessionContext": {"sessionIssuer": {"userName": "cm-dummuyRole"}}}}"#;
//! let iam_user = br#"{"eventName": "PutRolePolicy", "userIdentity": {"userName": "chiba-sample"}}"#;
//! assert!(set.matching(maintainer).is_empty());
//! assert_eq!(set.matching(other), vec![id]);
//! // `!=` on a missing field is false: IAM-user events never match this pattern.
//! assert!(set.matching(iam_user).is_empty());
//!
//! let got = test_metric_filter("?ERROR ?WARN", &["all good", "WARN disk 91%"]).unwrap();
//! assert_eq!(got[0].event_number, 2);
//! ```

mod delimited;
mod error;
mod regex;
mod set;
mod syntax;
mod value;

pub use error::FilterError;
pub use set::{test_metric_filter, FilterId, FilterKind, FilterMatch, FilterScratch, FilterSet, MetricFilterMatch};
pub use syntax::{MAX_PATTERN_CHARS, MAX_REGEXES};
