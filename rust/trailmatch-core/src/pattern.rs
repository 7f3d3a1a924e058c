//! The EventBridge event-pattern dialect: parse, validate, lower to the IR.
//!
//! [`compile`] turns pattern text into a [`CompiledPattern`]: `$or` is expanded into branches
//! (sibling fields copied into each), nested objects become dotted paths, each leaf array
//! becomes one [`Condition`] whose operators are OR-ed, and `exists: false` mixed with other
//! values in one array splits the branch in two (one where the field is absent, one where it
//! matches the other values).
//!
//! Validation happens here, in document order, and stops at the first problem with
//! EventBridge's reason text (see [`PatternError`]) plus the JSON path and byte offset of the
//! offending part.

use rustc_hash::FxHashSet;

use crate::error::{push_path_key, PatternError};
use crate::ir::{Branch, CompiledPattern, Condition, Exclusion, FieldCondition, Op};
use crate::json::dom::{self, Document, Member, Node, NodeId, Value};
use crate::value::casefold::Anchor;
use crate::value::ip::{self, IpRange};
use crate::value::number::{comparable, order_key, NumberLiteral};
use crate::value::wildcard::{self, Wildcard};

/// Limits applied when a pattern is compiled. The defaults are EventBridge's.
///
/// # Example
///
/// ```
/// use trailmatch_core::{Limits, Ruleset};
///
/// let limits = Limits { max_pattern_chars: 4096, ..Limits::default() };
/// let mut rules = Ruleset::with_limits(limits);
/// let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(3000));
/// assert!(rules.add("long", &long).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum pattern length in characters (EventBridge quota: 2,048, adjustable).
    pub max_pattern_chars: usize,
    /// Maximum number of distinct field paths in one `$or` branch (event-ruler: 256).
    pub max_fields: usize,
    /// Maximum wildcard complexity of one rule (see [`wildcard::complexity`]); EventBridge
    /// rejects rules above its (unpublished) limit with "Rule is too complex".
    pub max_wildcard_complexity: usize,
    /// Maximum number of branches a rule's `$or`s expand into.
    pub max_branches: usize,
    /// Maximum nesting depth of the pattern JSON.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pattern_chars: 2048,
            max_fields: 256,
            max_wildcard_complexity: 10,
            max_branches: 1024,
            max_depth: 100,
        }
    }
}

/// Operator names that may not be used as field names inside `$or`.
const RESERVED: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
    "exactly",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Compiles EventBridge event-pattern text.
///
/// # Errors
///
/// A [`PatternError`] for anything EventBridge would reject (and for exceeding [`Limits`]).
///
/// # Example
///
/// ```
/// use trailmatch_core::pattern::compile;
/// use trailmatch_core::Limits;
///
/// let p = compile(br#"{"a": ["1"], "$or": [{"b": ["2"]}, {"c": ["3"]}]}"#, &Limits::default()).unwrap();
/// assert_eq!(p.branches.len(), 2);
/// let err = compile(br#"{"a": [{"numeric": [">", "5"]}]}"#, &Limits::default()).unwrap_err();
/// assert_eq!(err.reason(), "Value of > must be numeric");
/// assert_eq!(err.path(), "$.a[0].numeric[1]");
/// ```
pub fn compile(text: &[u8], limits: &Limits) -> Result<CompiledPattern, PatternError> {
    compile_rule(None, text, limits)
}

/// [`compile`] for a named rule (the name appears in the rule-size error, as in event-ruler).
///
/// # Errors
///
/// See [`compile`].
pub fn compile_rule(name: Option<&str>, text: &[u8], limits: &Limits) -> Result<CompiledPattern, PatternError> {
    let chars = match std::str::from_utf8(text) {
        Ok(s) => s.chars().count(),
        Err(_) => text.len(),
    };
    if chars > limits.max_pattern_chars {
        return Err(PatternError::new(
            format!(
                "Event pattern is {chars} characters long; the limit is {} (an adjustable EventBridge quota)",
                limits.max_pattern_chars
            ),
            "$",
            None,
        ));
    }
    check_first_token(text)?;
    let mut warnings = Vec::new();
    let doc = match dom::parse(text, limits.max_depth) {
        Ok(doc) => doc,
        Err(dom::SyntaxError { kind: dom::SyntaxErrorKind::TrailingContent(_), offset }) => {
            // event-ruler stops reading at the end of the root object, so EventBridge accepts
            // text after it; accept it too, but say so.
            warnings.push(format!("text after the end of the pattern at byte {offset} is ignored"));
            dom::parse(&text[..offset], limits.max_depth).map_err(|e| syntax_error(text, &e))?
        }
        Err(e) => return Err(syntax_error(text, &e)),
    };
    let compiler = Compiler { doc: &doc, limits };
    let dnf = compiler.object(doc.root, b"", "$", false)?;
    let branches: Vec<Branch> = dnf.into_iter().map(|fields| Branch { fields }).collect();
    for b in &branches {
        if b.fields.len() > limits.max_fields {
            let reason = match name {
                Some(n) => format!("Size of rule '{n}' exceeds max value of {}", limits.max_fields),
                None => format!("Size of rule exceeds max value of {}", limits.max_fields),
            };
            return Err(PatternError::new(reason, "$", None));
        }
    }
    if wildcard::rule_complexity(&branches, limits.max_wildcard_complexity + 1) > limits.max_wildcard_complexity {
        return Err(PatternError::new(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character",
            "$",
            None,
        ));
    }
    Ok(CompiledPattern { branches, warnings })
}

fn syntax_error(text: &[u8], e: &dom::SyntaxError) -> PatternError {
    let err = PatternError::new(e.kind.jackson_message(text), "$", Some(e.offset));
    match &e.kind {
        dom::SyntaxErrorKind::UnexpectedChar { ch: '\'', .. } => {
            err.with_hint("JSON strings and keys use double quotes")
        }
        dom::SyntaxErrorKind::UnexpectedChar { ch: '}' | ']', .. } => {
            err.with_hint("JSON does not allow a comma after the last element")
        }
        _ => err,
    }
}

/// event-ruler reads the first token before anything else and rejects a pattern that does not
/// start an object, whatever follows.
fn check_first_token(text: &[u8]) -> Result<(), PatternError> {
    let start = text.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let not_object = |at: usize| PatternError::new("Filter is not an object", "$", Some(at));
    let Some(start) = start else {
        return Err(not_object(text.len()));
    };
    match text[start] {
        b'{' => Ok(()),
        b'[' | b'"' => Err(not_object(start)),
        b'-' | b'0'..=b'9' => match dom::scan_number(text, start) {
            Ok(_) => Err(not_object(start)),
            Err((kind, offset)) => Err(syntax_error(text, &dom::SyntaxError { kind, offset })),
        },
        _ => {
            // Let the parser produce Jackson's message for the bad first token.
            match dom::parse(text, 1) {
                Err(e) if !matches!(e.kind, dom::SyntaxErrorKind::TooDeep(_)) && e.offset == start => {
                    Err(syntax_error(text, &e))
                }
                _ => Err(not_object(start)),
            }
        }
    }
}

/// A disjunction of conjunctions of field conditions.
type Dnf = Vec<Vec<FieldCondition>>;

struct Compiler<'a> {
    doc: &'a Document,
    limits: &'a Limits,
}

/// What one element of a leaf array contributes.
enum Term {
    Op(Op),
    Absent,
}

fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn join(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        key.to_vec()
    } else {
        let mut p = Vec::with_capacity(prefix.len() + 1 + key.len());
        p.extend_from_slice(prefix);
        p.push(b'.');
        p.extend_from_slice(key);
        p
    }
}

fn child_path(path: &str, key: &[u8]) -> String {
    let mut p = path.to_owned();
    push_path_key(&mut p, key);
    p
}

fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// An error about a second key in an operator object.
fn extra_key(members: &[Member], path: &str, reason: &str) -> Option<PatternError> {
    members.get(1).map(|m| PatternError::new(reason, child_path(path, &m.key), Some(m.key_offset)))
}

const ONLY_ONE_KEY: &str = "Only one key allowed in match expression";
const TOO_MANY_ELEMENTS: &str = "Too many elements in numeric expression";

impl Compiler<'_> {
    fn node(&self, id: NodeId) -> &Node {
        self.doc.node(id)
    }

    fn value(&self, id: NodeId) -> &Value {
        &self.doc.node(id).value
    }

    fn err(&self, reason: impl Into<String>, path: &str, node: NodeId) -> PatternError {
        PatternError::new(reason, path, Some(self.node(node).start))
    }

    /// The JSON token text Jackson would report for a node (`getText()`).
    fn token_text(&self, id: NodeId) -> String {
        match self.value(id) {
            Value::Array(_) => "[".into(),
            Value::Object(_) => "{".into(),
            Value::String(s) => key_text(s),
            _ => render(self.doc, id),
        }
    }

    fn object(&self, id: NodeId, prefix: &[u8], path: &str, in_or: bool) -> Result<Dnf, PatternError> {
        let Value::Object(members) = self.value(id) else { unreachable!("callers pass objects") };
        let mut seen: FxHashSet<&[u8]> = FxHashSet::default();
        let mut acc: Dnf = vec![Vec::new()];
        for m in members {
            let mpath = child_path(path, &m.key);
            if !seen.insert(&m.key) {
                return Err(PatternError::new(
                    format!("Duplicate field '{}'", key_text(&m.key)),
                    mpath,
                    Some(m.key_offset),
                )
                .with_hint("a pattern object may name a field only once; put alternative values in one array"));
            }
            let part = if m.key == b"$or" { self.or(m, prefix, &mpath)? } else { None };
            let part = match part {
                Some(dnf) => dnf,
                None => {
                    if in_or {
                        if let Ok(name) = std::str::from_utf8(&m.key) {
                            if RESERVED.contains(&name) {
                                return Err(PatternError::new(
                                    format!("{name} is Ruler reserved fieldName which cannot be used inside $or."),
                                    mpath,
                                    Some(m.key_offset),
                                ));
                            }
                        }
                    }
                    self.member(m, prefix, &mpath, in_or)?
                }
            };
            acc = self.cross(&acc, &part, &mpath, m.key_offset)?;
        }
        if members.is_empty() {
            return Err(self.err("Empty objects are not allowed", path, id));
        }
        Ok(acc)
    }

    /// `$or` if it is one (`Some`), else `None` (then `$or` is an ordinary field name).
    ///
    /// `$or` is the operator when its value is an array of at least two objects none of which
    /// has a reserved name (an operator name) as a key; a value that is neither an array nor an
    /// object is an error; anything else makes `$or` a field name, as event-ruler's fallback
    /// compiler does (so `{"$or": [{"prefix": "a"}, {"suffix": "z"}]}` tests a field `$or`).
    fn or(&self, m: &Member, prefix: &[u8], path: &str) -> Result<Option<Dnf>, PatternError> {
        let items = match self.value(m.value) {
            Value::Array(items) => items,
            Value::Object(_) => return Ok(None),
            _ => return Err(self.err("It must be an Array followed with $or.", path, m.value)),
        };
        let reserved_key = |id: NodeId| match self.value(id) {
            Value::Object(members) => {
                members.iter().any(|m| std::str::from_utf8(&m.key).is_ok_and(|k| RESERVED.contains(&k)))
            }
            _ => true,
        };
        if items.len() < 2 || items.iter().any(|&i| reserved_key(i)) {
            return Ok(None);
        }
        let mut out: Dnf = Vec::new();
        for (i, &item) in items.iter().enumerate() {
            let dnf = self.object(item, prefix, &index_path(path, i), true)?;
            out.extend(dnf);
            if out.len() > self.limits.max_branches {
                return Err(self.too_many_branches(path, m.key_offset));
            }
        }
        Ok(Some(out))
    }

    fn too_many_branches(&self, path: &str, offset: usize) -> PatternError {
        PatternError::new(
            format!("$or expands into more than {} alternatives; simplify the pattern", self.limits.max_branches),
            path,
            Some(offset),
        )
    }

    fn cross(&self, acc: &Dnf, part: &Dnf, path: &str, offset: usize) -> Result<Dnf, PatternError> {
        if acc.len().saturating_mul(part.len()) > self.limits.max_branches {
            return Err(self.too_many_branches(path, offset));
        }
        let mut out = Vec::with_capacity(acc.len() * part.len());
        for a in acc {
            for p in part {
                let mut conj = a.clone();
                for fc in p {
                    if conj.iter().any(|c| c.path == fc.path) {
                        return Err(PatternError::new(
                            format!("Path `{}` cannot be allowed multiple times", key_text(&fc.path)),
                            path,
                            Some(offset),
                        ));
                    }
                    conj.push(fc.clone());
                }
                out.push(conj);
            }
        }
        Ok(out)
    }

    fn member(&self, m: &Member, prefix: &[u8], path: &str, in_or: bool) -> Result<Dnf, PatternError> {
        let full = join(prefix, &m.key);
        match self.value(m.value) {
            Value::Object(_) => self.object(m.value, &full, path, in_or),
            Value::Array(items) => self.leaf(full, items, path, m.value),
            _ => Err(self
                .err(format!("\"{}\" must be an object or an array", key_text(&m.key)), path, m.value)
                .with_hint("every value in a pattern is an array of allowed values: write [\"value\"]")),
        }
    }

    fn leaf(&self, full: Vec<u8>, items: &[NodeId], path: &str, id: NodeId) -> Result<Dnf, PatternError> {
        let mut ops = Vec::new();
        let mut sources = Vec::new();
        let mut absent = false;
        for (i, &item) in items.iter().enumerate() {
            let ipath = index_path(path, i);
            let term = match self.value(item) {
                Value::String(s) => Term::Op(exact_string(s)),
                Value::Number(n) => Term::Op(Op::Number(NumberLiteral::new(n.as_bytes()))),
                Value::Bool(true) => Term::Op(Op::True),
                Value::Bool(false) => Term::Op(Op::False),
                Value::Null => Term::Op(Op::Null),
                Value::Array(_) => {
                    return Err(self.err("Match value must be String, number, true, false, or null", &ipath, item))
                }
                Value::Object(members) => self.operator(members, &ipath, item)?,
            };
            match term {
                Term::Op(op) => {
                    if !ops.contains(&op) {
                        ops.push(op);
                        sources.push(render(self.doc, item));
                    }
                }
                Term::Absent => absent = true,
            }
        }
        if items.is_empty() {
            return Err(self.err("Empty arrays are not allowed", path, id));
        }
        let mut dnf = Vec::new();
        if !ops.is_empty() {
            dnf.push(vec![FieldCondition {
                path: full.clone().into_boxed_slice(),
                condition: Condition::AnyOf(ops),
                sources,
            }]);
        }
        if absent {
            dnf.push(vec![FieldCondition {
                path: full.into_boxed_slice(),
                condition: Condition::Absent,
                sources: vec![r#"{"exists":false}"#.to_owned()],
            }]);
        }
        Ok(dnf)
    }

    /// A string operand, or `message` at the operand.
    fn string_operand(&self, operand: NodeId, path: &str, message: &str) -> Result<Vec<u8>, PatternError> {
        match self.value(operand) {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.err(message, path, operand)),
        }
    }

    /// One operator object `{"<name>": <operand>}` inside a leaf array.
    fn operator(&self, members: &[Member], path: &str, id: NodeId) -> Result<Term, PatternError> {
        let Some(first) = members.first() else {
            return Err(self.err("Match expression name not found", path, id));
        };
        let opath = child_path(path, &first.key);
        let operand = first.value;
        let name = key_text(&first.key);
        let only_one = |term: Term| -> Result<Term, PatternError> {
            match extra_key(members, path, ONLY_ONE_KEY) {
                Some(e) => {
                    Err(e.with_hint("one object holds one operator; list alternatives as separate array elements"))
                }
                None => Ok(term),
            }
        };
        match name.as_str() {
            "exactly" => {
                let s = self.string_operand(operand, &opath, "exact match pattern must be a string")?;
                only_one(Term::Op(Op::ExactString(s.into())))
            }
            "prefix" | "suffix" => {
                let is_prefix = name == "prefix";
                if let Value::Object(inner) = self.value(operand) {
                    return self.affix_ignore_case(inner, &opath, operand, is_prefix, members, path);
                }
                let s = self.string_operand(operand, &opath, &format!("{name} match pattern must be a string"))?;
                only_one(Term::Op(if is_prefix { Op::Prefix(s.into()) } else { Op::Suffix(s.into()) }))
            }
            "numeric" => {
                let Value::Array(items) = self.value(operand) else {
                    return Err(self.err("Value of numeric must be an array.", &opath, operand));
                };
                let op = self.numeric(items, &opath, operand)?;
                match extra_key(members, path, TOO_MANY_ELEMENTS) {
                    Some(e) => Err(e),
                    None => Ok(Term::Op(op)),
                }
            }
            "anything-but" => {
                let op = self.anything_but(operand, &opath)?;
                match extra_key(members, path, TOO_MANY_ELEMENTS) {
                    Some(e) => Err(e),
                    None => Ok(Term::Op(op)),
                }
            }
            "exists" => {
                let term = match self.value(operand) {
                    Value::Bool(true) => Term::Op(Op::Exists),
                    Value::Bool(false) => Term::Absent,
                    _ => return Err(self.err("exists match pattern must be either true or false.", &opath, operand)),
                };
                only_one(term)
            }
            "cidr" => {
                // sic: event-ruler reuses the prefix message for a non-string CIDR.
                let s = self.string_operand(operand, &opath, "prefix match pattern must be a string")?;
                let range = ip::parse_cidr(&key_text(&s)).map_err(|e| self.err(e.to_string(), &opath, operand))?;
                only_one(Term::Op(Op::Ip(range)))
            }
            "equals-ignore-case" => {
                let s = self.string_operand(operand, &opath, "equals-ignore-case match pattern must be a string")?;
                only_one(Term::Op(Op::IgnoreCase(Anchor::Whole, s.into())))
            }
            "wildcard" => {
                let s = self.string_operand(operand, &opath, "wildcard match pattern must be a string")?;
                let w = Wildcard::parse(&s).map_err(|reason| self.err(reason, &opath, operand))?;
                let op = if w.is_literal() { Op::ExactString(w.literal().into()) } else { Op::Wildcard(w) };
                only_one(Term::Op(op))
            }
            _ => Err(self.err(format!("Unrecognized match type {name}"), &opath, operand).with_hint(
                "operators are lower-case: prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, cidr, exists, exactly",
            )),
        }
    }

    /// `{"prefix": {"equals-ignore-case": "x"}}` and the suffix form.
    fn affix_ignore_case(
        &self,
        inner: &[Member],
        path: &str,
        operand: NodeId,
        is_prefix: bool,
        outer: &[Member],
        outer_path: &str,
    ) -> Result<Term, PatternError> {
        let which = if is_prefix { "Prefix" } else { "Suffix" };
        let Some(first) = inner.first() else {
            return Err(self.err(format!("{which} expression name not found"), path, operand));
        };
        let ipath = child_path(path, &first.key);
        if first.key != b"equals-ignore-case" {
            return Err(self.err(
                format!("Unsupported {} pattern: {}", which.to_lowercase(), key_text(&first.key)),
                &ipath,
                first.value,
            ));
        }
        let s = self.string_operand(first.value, &ipath, "equals-ignore-case match pattern must be a string")?;
        if let Some(e) = extra_key(inner, path, ONLY_ONE_KEY) {
            return Err(e);
        }
        if let Some(e) = extra_key(outer, outer_path, ONLY_ONE_KEY) {
            return Err(e);
        }
        let anchor = if is_prefix { Anchor::Prefix } else { Anchor::Suffix };
        Ok(Term::Op(Op::IgnoreCase(anchor, s.into())))
    }

    fn comparable_operand(&self, id: NodeId, path: &str) -> Result<f64, PatternError> {
        let Value::Number(raw) = self.value(id) else { unreachable!("checked by the caller") };
        comparable(raw.as_bytes()).ok_or_else(|| self.err(format!("Cannot compare number : {raw}"), path, id))
    }

    /// `{"numeric": [...]}`, following event-ruler's grammar and messages.
    fn numeric(&self, items: &[NodeId], path: &str, id: NodeId) -> Result<Op, PatternError> {
        let at = |i: usize| index_path(path, i);
        let is_number = |i: usize| items.get(i).is_some_and(|&n| matches!(self.value(n), Value::Number(_)));
        // Where a missing element would be: the array's closing bracket.
        let node_or_end = |i: usize| items.get(i).copied().unwrap_or(id);
        let op = match items.first().map(|&n| self.value(n)) {
            Some(Value::String(s)) => key_text(s),
            Some(_) => {
                return Err(self.err(
                    format!("Invalid member in numeric match: {}", self.token_text(items[0])),
                    &at(0),
                    items[0],
                ))
            }
            None => return Err(self.err("Invalid member in numeric match: ]", path, id)),
        };
        let label = match op.as_str() {
            "=" => "equals",
            "<" | "<=" | ">" | ">=" => op.as_str(),
            _ => return Err(self.err(format!("Unrecognized numeric range operator: {op}"), &at(0), items[0])),
        };
        if !is_number(1) {
            return Err(self.err(format!("Value of {label} must be numeric"), &at(1), node_or_end(1)));
        }
        let bound = self.comparable_operand(items[1], &at(1))?;
        let key = order_key(bound);
        match op.as_str() {
            "=" | "<" | "<=" => {
                if items.len() > 2 {
                    return Err(self.err(TOO_MANY_ELEMENTS, &at(2), items[2]));
                }
                Ok(match op.as_str() {
                    "=" => Op::NumericRange { lo: key, hi: key },
                    "<" => Op::NumericRange { lo: 0, hi: key - 1 },
                    _ => Op::NumericRange { lo: 0, hi: key },
                })
            }
            _ => {
                let lo = if op == ">" { key + 1 } else { key };
                if items.len() == 2 {
                    return Ok(Op::NumericRange { lo, hi: u64::MAX });
                }
                let top_op = match self.value(items[2]) {
                    Value::String(s) => key_text(s),
                    _ => {
                        return Err(self.err(
                            format!("Bad value in numeric range: {}", self.token_text(items[2])),
                            &at(2),
                            items[2],
                        ))
                    }
                };
                if top_op != "<" && top_op != "<=" {
                    return Err(self.err(format!("Bad numeric range operator: {top_op}"), &at(2), items[2]));
                }
                if !is_number(3) {
                    return Err(self.err(format!("Value of {top_op} must be numeric"), &at(3), node_or_end(3)));
                }
                if items.len() > 4 {
                    return Err(self.err("Too many terms in numeric range expression", &at(4), items[4]));
                }
                let top = self.comparable_operand(items[3], &at(3))?;
                if bound >= top {
                    return Err(self.err("Bottom must be less than top", path, id));
                }
                let top_key = order_key(top);
                let hi = if top_op == "<" { top_key - 1 } else { top_key };
                Ok(Op::NumericRange { lo, hi })
            }
        }
    }

    fn anything_but(&self, operand: NodeId, path: &str) -> Result<Op, PatternError> {
        // The object form names the kind of exclusion; its operand follows.
        let (kind, operand, path) = match self.value(operand) {
            Value::Object(members) => {
                let Some(first) = members.first() else {
                    return Err(self.err("Anything-But expression name not found", path, operand));
                };
                let name = key_text(&first.key);
                let ipath = child_path(path, &first.key);
                if !matches!(name.as_str(), "equals-ignore-case" | "prefix" | "suffix" | "wildcard") {
                    return Err(self.err(format!("Unsupported anything-but pattern: {name}"), &ipath, first.value));
                }
                if let Some(e) = extra_key(members, path, TOO_MANY_ELEMENTS) {
                    // Checked after the operand in event-ruler; the operand's own errors win.
                    self.anything_but_set(&name, first.value, &ipath)?;
                    return Err(e);
                }
                (Some(name), first.value, ipath)
            }
            _ => (None, operand, path.to_owned()),
        };
        if !matches!(self.value(operand), Value::Array(_) | Value::String(_) | Value::Number(_)) {
            return Err(self.err(
                "Value of anything-but must be an array or single string/number value.",
                &path,
                operand,
            ));
        }
        let exclusion = match kind {
            Some(name) => self.anything_but_set(&name, operand, &path)?,
            None => self.anything_but_values(operand, &path)?,
        };
        Ok(Op::AnythingBut(exclusion))
    }

    /// Plain `anything-but`: one string or number, or a list of all strings or all numbers.
    fn anything_but_values(&self, operand: NodeId, path: &str) -> Result<Exclusion, PatternError> {
        let number = |id: NodeId, path: &str| -> Result<NumberLiteral, PatternError> {
            self.comparable_operand(id, path).map(|v| NumberLiteral::Value(order_key(v)))
        };
        match self.value(operand) {
            Value::String(s) => Ok(Exclusion::Strings(vec![s.clone().into_boxed_slice()].into())),
            Value::Number(_) => Ok(Exclusion::Numbers(vec![number(operand, path)?].into())),
            Value::Array(items) => {
                let mut strings = Vec::new();
                let mut numbers = Vec::new();
                for (i, &item) in items.iter().enumerate() {
                    match self.value(item) {
                        Value::String(s) => strings.push(s.clone().into_boxed_slice()),
                        Value::Number(_) => numbers.push(number(item, &index_path(path, i))?),
                        _ => {
                            return Err(self.err(
                                "Inside anything but list, start|null|boolean is not supported.",
                                &index_path(path, i),
                                item,
                            ))
                        }
                    }
                }
                match (strings.is_empty(), numbers.is_empty()) {
                    (false, true) => Ok(Exclusion::Strings(strings.into())),
                    (true, false) => Ok(Exclusion::Numbers(numbers.into())),
                    _ => Err(self.err(
                        "Inside anything but list, either all values are number or string, mixed type is not supported",
                        path,
                        operand,
                    )),
                }
            }
            _ => unreachable!("checked by the caller"),
        }
    }

    /// `anything-but` with `prefix`, `suffix`, `equals-ignore-case` or `wildcard`: one string or
    /// a list of strings (an empty list excludes nothing).
    fn anything_but_set(&self, name: &str, operand: NodeId, path: &str) -> Result<Exclusion, PatternError> {
        let single;
        let items: Vec<(NodeId, String)> = match self.value(operand) {
            Value::Array(items) => items.iter().enumerate().map(|(i, &n)| (n, index_path(path, i))).collect(),
            Value::String(_) | Value::Number(_) => {
                single = vec![(operand, path.to_owned())];
                single
            }
            _ => {
                return Err(self.err(
                    "Value of anything-but must be an array or single string/number value.",
                    path,
                    operand,
                ))
            }
        };
        let not_string = match name {
            "equals-ignore-case" => {
                "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
            }
            "wildcard" => "wildcard match pattern must be a string",
            _ => "prefix/suffix match pattern must be a string",
        };
        let mut values = Vec::with_capacity(items.len());
        for (id, ipath) in &items {
            let s = self.string_operand(*id, ipath, not_string)?;
            if s.is_empty() && matches!(name, "prefix" | "suffix") {
                return Err(self.err("Null prefix/suffix not allowed", ipath, *id));
            }
            values.push((s, *id, ipath));
        }
        Ok(match name {
            "prefix" => Exclusion::Prefixes(values.into_iter().map(|v| v.0.into_boxed_slice()).collect()),
            "suffix" => Exclusion::Suffixes(values.into_iter().map(|v| v.0.into_boxed_slice()).collect()),
            "equals-ignore-case" => Exclusion::IgnoreCase(values.into_iter().map(|v| v.0.into_boxed_slice()).collect()),
            _ => Exclusion::Wildcards(
                values
                    .into_iter()
                    .map(|(s, id, ipath)| Wildcard::parse(&s).map_err(|reason| self.err(reason, ipath, id)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// An exact string value: an address match if it looks like (and is) an IP address.
fn exact_string(s: &[u8]) -> Op {
    match ip::parse(s) {
        Some(addr) => Op::Ip(IpRange::single(addr)),
        None => Op::ExactString(s.to_vec().into()),
    }
}

/// Compact JSON text of a node (for explanations and messages).
pub(crate) fn render(doc: &Document, id: NodeId) -> String {
    let mut out = String::new();
    render_into(doc, id, &mut out);
    out
}

fn render_into(doc: &Document, id: NodeId, out: &mut String) {
    match &doc.node(id).value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => crate::json::push_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, &item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render_into(doc, item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::json::push_string(&m.key, out);
                out.push(':');
                render_into(doc, m.value, out);
            }
            out.push('}');
        }
    }
}
