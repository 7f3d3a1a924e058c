//! The predicate IR shared by every pattern dialect.
//!
//! A compiled pattern is a disjunction of [`Branch`]es; a branch is a conjunction of
//! [`Condition`]s, one per field path; a condition is either "some leaf value at this path
//! satisfies one of these [`Op`]s" or "no leaf value exists at this path". The engine
//! ([`crate::Ruleset`]) knows only this IR: a dialect is a front end that lowers its syntax
//! into it (`crate::pattern` for EventBridge event patterns).

use crate::value::casefold::Anchor;
use crate::value::ip::IpRange;
use crate::value::number::NumberLiteral;
use crate::value::wildcard::Wildcard;

/// A test of one leaf value (string, number, `true`, `false` or `null`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// String equal to these bytes (no IP interpretation).
    ExactString(Box<[u8]>),
    /// String that parses as an IP address inside this range (IP-looking exact strings and
    /// `cidr` blocks).
    Ip(IpRange),
    /// Number equal by value (comparable literals) or by literal text (others).
    Number(NumberLiteral),
    /// The literal `true`.
    True,
    /// The literal `false`.
    False,
    /// The literal `null`.
    Null,
    /// String starting with these bytes.
    Prefix(Box<[u8]>),
    /// String ending with these bytes.
    Suffix(Box<[u8]>),
    /// `equals-ignore-case` and the ignore-case forms of `prefix` / `suffix`.
    IgnoreCase(Anchor, Box<[u8]>),
    /// String matching a wildcard pattern with at least one star.
    Wildcard(Wildcard),
    /// Comparable number whose order key lies in `lo..=hi`.
    NumericRange {
        /// Smallest order key in the range.
        lo: u64,
        /// Largest order key in the range.
        hi: u64,
    },
    /// Any leaf value (`exists: true`).
    Exists,
    /// Any leaf value outside an exclusion set (`anything-but`).
    AnythingBut(Exclusion),
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// These strings (compared exactly, no IP interpretation).
    Strings(Box<[Box<[u8]>]>),
    /// These numbers.
    Numbers(Box<[NumberLiteral]>),
    /// Strings starting with any of these.
    Prefixes(Box<[Box<[u8]>]>),
    /// Strings ending with any of these.
    Suffixes(Box<[Box<[u8]>]>),
    /// Strings matching any of these wildcard patterns (stars or not).
    Wildcards(Box<[Wildcard]>),
    /// Strings equal, ignoring case, to any of these.
    IgnoreCase(Box<[Box<[u8]>]>),
}

impl Exclusion {
    /// True if the exclusion set is about numbers (so every string leaf satisfies it).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Exclusion::Numbers(_))
    }
}

/// One condition on one field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Some leaf value at the path satisfies one of the operators.
    AnyOf(Vec<Op>),
    /// The path has no leaf value (`exists: false`).
    Absent,
}

/// A field path (keys joined with `.`) and its condition, plus where the condition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCondition {
    /// The field path: keys joined with `.`.
    pub path: Box<[u8]>,
    /// What must hold at the path.
    pub condition: Condition,
    /// The pattern text of each operator of `AnyOf`, in order (for explanations).
    pub sources: Vec<String>,
}

/// A conjunction of field conditions, each on a distinct path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Branch {
    /// The conditions, all of which must hold.
    pub fields: Vec<FieldCondition>,
}

/// A compiled pattern: it matches an event when any branch does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompiledPattern {
    /// The `$or` alternatives.
    pub branches: Vec<Branch>,
    /// Things EventBridge accepts but that are probably mistakes (for `rules lint`).
    pub warnings: Vec<String>,
}
