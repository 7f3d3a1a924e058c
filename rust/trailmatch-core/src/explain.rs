//! Why one pattern did or did not match one event.
//!
//! [`explain`] evaluates a compiled pattern against an event *directly* — the event is parsed
//! into a document, flattened into leaves, and every operator is tested by its definition
//! (glob matching, case alternation, address ranges) rather than through the automaton. That
//! makes it both a diagnostic for users and an independent oracle: the test suite checks that
//! it always agrees with [`Ruleset`](crate::Ruleset).

use std::fmt;

use crate::automaton::{fields_before, solve, Absent};
use crate::error::{EventError, PatternError};
use crate::ir::{Branch, CompiledPattern, Condition, Exclusion, Op};
use crate::json::dom::{self, Document, NodeId, Value};
use crate::json::scan::Ctx;
use crate::pattern::{compile, Limits};
use crate::value::casefold::{self, Anchor};
use crate::value::ip;
use crate::value::number::{comparable, order_key, NumberLiteral};

/// A leaf value of the event.
#[derive(Debug, Clone, PartialEq)]
enum LeafValue {
    Str(Vec<u8>),
    Num(String),
    True,
    False,
    Null,
}

impl LeafValue {
    fn render(&self) -> String {
        match self {
            LeafValue::Str(s) => {
                let mut out = String::new();
                crate::json::push_string(s, &mut out);
                out
            }
            LeafValue::Num(n) => n.clone(),
            LeafValue::True => "true".into(),
            LeafValue::False => "false".into(),
            LeafValue::Null => "null".into(),
        }
    }
}

/// A leaf of the event: path (keys joined with `.`), value, array context.
type EventLeaf = (Vec<u8>, LeafValue, u32);

/// The verdict for one field condition of one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReport {
    /// The field path (keys joined with `.`).
    pub path: String,
    /// The condition as pattern text, e.g. `["a", {"prefix": "b"}]` or `{"exists": false}`.
    pub condition: String,
    /// The leaf values found at the path, as JSON text.
    pub values: Vec<String>,
    /// Whether the condition holds on its own (before array consistency).
    pub satisfied: bool,
    /// The value and operator that satisfied it, when one did.
    pub matched_by: Option<(String, String)>,
}

/// The verdict for one `$or` branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchReport {
    /// One report per field condition, in pattern order.
    pub fields: Vec<FieldReport>,
    /// Every field holds, but only with values from different elements of one array.
    pub array_conflict: bool,
    /// Whether this branch matches.
    pub matched: bool,
}

/// Why a pattern matched an event or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Whether the pattern matches (some branch does).
    pub matched: bool,
    /// One report per `$or` branch.
    pub branches: Vec<BranchReport>,
}

/// Either input can be invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainError {
    /// The pattern is invalid.
    Pattern(PatternError),
    /// The event is not a UTF-8 JSON object.
    Event(EventError),
}

impl fmt::Display for ExplainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainError::Pattern(e) => e.fmt(f),
            ExplainError::Event(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExplainError {}

/// Explains the outcome of matching `pattern` against `event`.
///
/// # Errors
///
/// [`ExplainError`] if the pattern or the event is invalid.
///
/// # Example
///
/// ```
/// use trailmatch_core::explain::explain;
///
/// let e = explain(
///     br#"{"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Attach"}]}}"#,
///     br#"{"source": "aws.iam", "detail": {"eventName": "DeleteUser"}}"#,
/// ).unwrap();
/// assert!(!e.matched);
/// assert!(e.branches[0].fields[0].satisfied);
/// assert!(!e.branches[0].fields[1].satisfied);
/// assert!(e.to_string().contains("detail.eventName"));
/// ```
pub fn explain(pattern: &[u8], event: &[u8]) -> Result<Explanation, ExplainError> {
    let compiled = compile(pattern, &Limits::default()).map_err(ExplainError::Pattern)?;
    explain_compiled(&compiled, event).map_err(ExplainError::Event)
}

/// [`explain`] for an already compiled pattern.
///
/// # Errors
///
/// [`EventError`] if the event is not a UTF-8 JSON object.
pub fn explain_compiled(pattern: &CompiledPattern, event: &[u8]) -> Result<Explanation, EventError> {
    // The scanner gives the precise error for malformed events.
    crate::json::scan::scan(
        event,
        &crate::json::fields::FieldTree::new(),
        &mut crate::json::scan::ScanScratch::default(),
        &mut |_, _, _| {},
    )?;
    let doc = dom::parse(event, usize::MAX).map_err(|e| EventError::new(e.kind.to_string(), e.offset))?;
    let (leaves, ctxs) = flatten(&doc);
    let mut branches = Vec::new();
    for branch in &pattern.branches {
        branches.push(explain_branch(branch, &leaves, &ctxs));
    }
    Ok(Explanation { matched: branches.iter().any(|b| b.matched), branches })
}

/// Evaluates one branch by definition (see `automaton::consistency` for the array rules).
fn explain_branch(branch: &Branch, leaves: &[EventLeaf], ctxs: &[Ctx]) -> BranchReport {
    let mut fields = Vec::new();
    let mut hits: Vec<(usize, u32)> = Vec::new();
    let mut positives = 0usize;
    let mut all_positive = true;
    let mut present = false;
    let mut searched: Vec<(usize, Absent)> = Vec::new();
    for fc in &branch.fields {
        let at_path: Vec<&EventLeaf> = leaves.iter().filter(|l| l.0 == *fc.path).collect();
        let values = at_path.iter().map(|l| l.1.render()).collect();
        let path = String::from_utf8_lossy(&fc.path).into_owned();
        match &fc.condition {
            Condition::Absent => {
                let before = fields_before(branch, &fc.path);
                let satisfied = if at_path.is_empty() {
                    true
                } else if at_path.iter().any(|l| l.2 == 0) || before == [0u64; 4] {
                    present = true;
                    false
                } else {
                    searched.push((fields.len(), Absent { before, leaves: at_path.iter().map(|l| l.2).collect() }));
                    false
                };
                fields.push(FieldReport {
                    path,
                    condition: r#"{"exists":false}"#.into(),
                    values,
                    satisfied,
                    matched_by: None,
                });
            }
            Condition::AnyOf(ops) => {
                let mut matched_by = None;
                for leaf in &at_path {
                    if let Some(i) = ops.iter().position(|op| op_matches(op, &leaf.1)) {
                        if matched_by.is_none() {
                            matched_by = Some((leaf.1.render(), fc.sources[i].clone()));
                        }
                        hits.push((positives, leaf.2));
                    }
                }
                let satisfied = matched_by.is_some();
                all_positive &= satisfied;
                positives += 1;
                fields.push(FieldReport {
                    path,
                    condition: format!("[{}]", fc.sources.join(",")),
                    values,
                    satisfied,
                    matched_by,
                });
            }
        }
    }
    let absents: Vec<Absent> =
        searched.iter().map(|(_, a)| Absent { before: a.before, leaves: a.leaves.clone() }).collect();
    let matched = all_positive && !present && solve(ctxs, &hits, positives, &absents);
    if matched {
        // The absent paths whose leaves all sit in elements the match did not use hold.
        for (i, _) in &searched {
            fields[*i].satisfied = true;
        }
    }
    let array_conflict = all_positive && !present && !matched && searched.is_empty();
    BranchReport { fields, array_conflict, matched }
}

/// Flattens the document into `(path, leaf, context)` triples and the context tree.
fn flatten(doc: &Document) -> (Vec<EventLeaf>, Vec<Ctx>) {
    let mut leaves = Vec::new();
    let mut ctxs = vec![Ctx::ROOT];
    let mut arrays = 0u32;
    let mut stack: Vec<(NodeId, Vec<u8>, u32)> = vec![(doc.root, Vec::new(), 0)];
    // Leaves must come out in document order for stable reports: process a reversed stack.
    while let Some((id, path, ctx)) = stack.pop() {
        match &doc.node(id).value {
            Value::Object(members) => {
                for m in members.iter().rev() {
                    let mut p = path.clone();
                    if !p.is_empty() || id != doc.root {
                        p.push(b'.');
                    }
                    p.extend_from_slice(&m.key);
                    stack.push((m.value, p, ctx));
                }
            }
            Value::Array(items) => {
                let array = arrays;
                arrays += 1;
                let first = ctxs.len() as u32;
                for index in 0..items.len() as u32 {
                    ctxs.push(Ctx { parent: ctx, array, index, node: 0 });
                }
                for (i, &item) in items.iter().enumerate().rev() {
                    stack.push((item, path.clone(), first + i as u32));
                }
            }
            Value::String(s) => leaves.push((path, LeafValue::Str(s.clone()), ctx)),
            Value::Number(n) => leaves.push((path, LeafValue::Num(n.to_string()), ctx)),
            Value::Bool(true) => leaves.push((path, LeafValue::True, ctx)),
            Value::Bool(false) => leaves.push((path, LeafValue::False, ctx)),
            Value::Null => leaves.push((path, LeafValue::Null, ctx)),
        }
    }
    (leaves, ctxs)
}

fn number_equals(lit: &NumberLiteral, raw: &str) -> bool {
    match lit {
        NumberLiteral::Value(key) => comparable(raw.as_bytes()).is_some_and(|v| order_key(v) == *key),
        NumberLiteral::Text(text) => **text == *raw.as_bytes(),
    }
}

/// Direct evaluation of one operator on one leaf, by its definition.
fn op_matches(op: &Op, leaf: &LeafValue) -> bool {
    match (op, leaf) {
        (Op::ExactString(s), LeafValue::Str(v)) => **s == **v,
        (Op::Ip(range), LeafValue::Str(v)) => ip::parse(v).is_some_and(|a| range.contains(a)),
        (Op::Number(lit), LeafValue::Num(raw)) => number_equals(lit, raw),
        (Op::True, LeafValue::True) | (Op::False, LeafValue::False) | (Op::Null, LeafValue::Null) | (Op::Exists, _) => {
            true
        }
        (Op::Prefix(p), LeafValue::Str(v)) => v.starts_with(p),
        (Op::Suffix(p), LeafValue::Str(v)) => v.ends_with(p),
        (Op::IgnoreCase(anchor, p), LeafValue::Str(v)) => casefold::matches(p, v, *anchor),
        (Op::Wildcard(w), LeafValue::Str(v)) => w.matches(v),
        (Op::NumericRange { lo, hi }, LeafValue::Num(raw)) => {
            comparable(raw.as_bytes()).is_some_and(|v| (*lo..=*hi).contains(&order_key(v)))
        }
        (Op::AnythingBut(exclusion), leaf) => !excluded(exclusion, leaf),
        _ => false,
    }
}

fn excluded(exclusion: &Exclusion, leaf: &LeafValue) -> bool {
    match (exclusion, leaf) {
        (Exclusion::Strings(set), LeafValue::Str(v)) => set.iter().any(|s| **s == **v),
        (Exclusion::Numbers(set), LeafValue::Num(raw)) => set.iter().any(|n| number_equals(n, raw)),
        (Exclusion::Prefixes(set), LeafValue::Str(v)) => set.iter().any(|p| v.starts_with(p)),
        (Exclusion::Suffixes(set), LeafValue::Str(v)) => set.iter().any(|p| v.ends_with(p)),
        (Exclusion::Wildcards(set), LeafValue::Str(v)) => set.iter().any(|w| w.matches(v)),
        (Exclusion::IgnoreCase(set), LeafValue::Str(v)) => set.iter().any(|p| casefold::matches(p, v, Anchor::Whole)),
        _ => false,
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Result: {}", if self.matched { "MATCH" } else { "NO MATCH" })?;
        let n = self.branches.len();
        for (i, b) in self.branches.iter().enumerate() {
            if n > 1 {
                writeln!(f, "$or branch {} of {n}: {}", i + 1, if b.matched { "matches" } else { "does not match" })?;
            }
            for field in &b.fields {
                let mark = if field.satisfied { "ok  " } else { "FAIL" };
                let found = if field.values.is_empty() {
                    "no value at this path".to_owned()
                } else {
                    format!("found {}", field.values.join(", "))
                };
                match (&field.matched_by, field.satisfied) {
                    (Some((value, op)), true) => {
                        writeln!(f, "  {mark} {}: {value} matches {op}", field.path)?;
                    }
                    (None, true) => {
                        writeln!(f, "  {mark} {}: {} ({found})", field.path, field.condition)?;
                    }
                    (_, false) => {
                        writeln!(f, "  {mark} {}: {found}; needs {}", field.path, field.condition)?;
                    }
                }
            }
            if !b.matched
                && !b.array_conflict
                && b.fields.iter().all(|f| f.satisfied || f.condition.contains("exists\":false"))
                && b.fields.iter().any(|f| !f.satisfied)
            {
                writeln!(
                    f,
                    "  FAIL exists:false: the path has values in the array elements the other fields were taken from"
                )?;
            }
            if b.array_conflict {
                writeln!(
                    f,
                    "  FAIL array consistency: the values that satisfy these fields sit in different elements of the same array"
                )?;
            }
        }
        Ok(())
    }
}
