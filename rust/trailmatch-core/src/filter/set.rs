//! [`FilterSet`]: every filter pattern of a set evaluated in one pass over each message.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind as AcMatchKind};
use regex_automata::PatternSet;
use rustc_hash::FxHashMap;

use super::delimited::{Delimited, Fields, Key};
use super::error::FilterError;
use super::regex::{found, FilterRegex, RegexGroup};
use super::syntax::{self, evaluate, Pattern, Rpn, Selector, Step, TermKind, Test};
use super::value::{holds, number_key, Literal, Node, Op};
use crate::json::fields::{FieldNode, FieldTree, PathId};
use crate::json::scan::{scan_with, Ctx, Leaf, ScanScratch, Validation};

/// Handle of a filter pattern in a [`FilterSet`], in the order patterns were added.
pub type FilterId = u32;

type SelId = u32;
type CondId = u32;
type SignalId = u32;

/// The kind of a filter pattern (reference §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterKind {
    /// The empty pattern: matches every event.
    Empty,
    /// Terms, phrases and regular expressions over the raw message text.
    Terms,
    /// `{ … }`: conditions on JSON fields.
    Json,
    /// `[ … ]`: conditions on space-delimited fields.
    Delimited,
}

impl FilterKind {
    /// Lower-case name: `empty`, `terms`, `json`, `delimited`.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::{FilterKind, FilterSet};
    ///
    /// let mut set = FilterSet::new();
    /// let id = set.add("[ip, user, ...]").unwrap();
    /// assert_eq!(set.kind(id), Some(FilterKind::Delimited));
    /// assert_eq!(FilterKind::Delimited.name(), "delimited");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FilterKind::Empty => "empty",
            FilterKind::Terms => "terms",
            FilterKind::Json => "json",
            FilterKind::Delimited => "delimited",
        }
    }
}

/// A checked value selector, before the set is changed.
enum Wanted {
    Json(Selector),
    Slot(usize),
    Field(usize),
}

/// An operand of a filter's boolean program.
#[derive(Debug, Clone, Copy)]
enum Atom {
    /// A signal fired for this message (a JSON condition held, a term or expression was found).
    Signal(SignalId),
    /// A term or expression was not found.
    NotSignal(SignalId),
    /// `NOT EXISTS`: the selector reaches nothing.
    Absent(SelId),
    /// Always true (`" "`, the empty pattern).
    True,
}

/// What a requested value reads.
#[derive(Debug, Clone, Copy)]
enum ValueSpec {
    /// A JSON selector.
    Json(SelId),
    /// A named slot of a space-delimited pattern (its index).
    Slot(usize),
    /// `$7`: a field by 0-based index.
    Field(usize),
}

#[derive(Debug)]
struct FilterEntry {
    alive: bool,
    kind: FilterKind,
    text: Box<str>,
    regex_count: usize,
    program: Vec<Rpn>,
    atoms: Vec<Atom>,
    delimited: Option<(Delimited, Vec<FilterRegex>)>,
    values: Vec<ValueSpec>,
}

#[derive(Debug, Clone)]
enum CondTest {
    Compare(Op, Literal),
    IsNull,
    IsTrue,
    IsFalse,
}

#[derive(Debug)]
struct Condition {
    test: CondTest,
    signal: SignalId,
}

#[derive(Debug, Default)]
struct Signal {
    /// Filters this signal makes candidates when it fires.
    triggers: Vec<FilterId>,
    /// Filters using it.
    refs: u32,
    /// How often it fires, roughly (lower is more selective).
    broadness: u64,
}

#[derive(Debug)]
struct SelectorEntry {
    /// Array elements on the way: (field-tree node of the array, index), outermost first.
    chain: Box<[(FieldNode, u32)]>,
    /// Selectors of every proper prefix: a later occurrence of one replaces this value.
    ancestors: Box<[SelId]>,
    /// Whether its value text is requested.
    capture: bool,
    /// `= "text"` conditions by text (strings, and numbers' literal text).
    exact: FxHashMap<Box<[u8]>, Vec<CondId>>,
    /// `= number` conditions by value.
    numeric: FxHashMap<u64, Vec<CondId>>,
    /// Every other condition, evaluated on each value.
    others: Vec<CondId>,
    /// The `%…%` expressions of its conditions.
    regexes: Vec<FilterRegex>,
    group: OnceLock<RegexGroup>,
}

impl SelectorEntry {
    fn group(&self) -> &RegexGroup {
        self.group.get_or_init(|| RegexGroup::new(&self.regexes.iter().collect::<Vec<_>>()))
    }
}

/// Every filter pattern of a set, evaluated together.
///
/// * **JSON patterns** share one exact [`FieldTree`] of all their selectors; each message is
///   scanned once by the same streaming scanner as EventBridge patterns (`json::scan`), and each
///   selector's tests are indexed: `= "text"` and `= number` conditions are hash lookups, the
///   others are evaluated on the value.
/// * **Term patterns** share one Aho-Corasick automaton of all their terms and one
///   multi-pattern automaton of their regular expressions, run once over the raw message.
/// * **Space-delimited patterns** share one tokenisation of the message and are filed by
///   their number of fields.
///
/// A filter is evaluated only when a condition or term that it cannot match without (its
/// *trigger*, chosen as its most selective) held for the message, so the cost of a message does
/// not grow with the number of filters that cannot match it.
///
/// # Example
///
/// ```
/// use trailmatch_core::filter::{FilterScratch, FilterSet};
///
/// let mut set = FilterSet::new();
/// let root = set.add(r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }"#).unwrap();
/// let errors = set.add("?ERROR ?WARN").unwrap();
/// let apache = set.add_with_values("[ip, id, user, timestamp, request, status_code = 4*, bytes]", &["$bytes"]).unwrap();
///
/// let mut scratch = FilterScratch::default();
/// let mut out = Vec::new();
/// set.matches(br#"{"userIdentity": {"type": "Root"}}"#, &mut scratch, &mut out);
/// assert_eq!(out.iter().map(|m| m.id).collect::<Vec<_>>(), vec![root]);
///
/// let line = br#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a HTTP/1.0" 404 1534"#;
/// set.matches(line, &mut scratch, &mut out);
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].id, apache);
/// assert_eq!(out[0].values(&scratch).collect::<Vec<_>>(), vec![Some("1534")]);
/// assert!(out[0].extracted(&scratch).any(|kv| kv == ("$status_code", "404")));
/// # let _ = errors;
/// ```
#[derive(Debug)]
pub struct FilterSet {
    strict: bool,
    filters: Vec<FilterEntry>,
    live: usize,
    tree: FieldTree,
    selectors: Vec<SelectorEntry>,
    selector_ids: FxHashMap<Box<str>, SelId>,
    /// Selectors per interned path.
    by_path: Vec<Vec<SelId>>,
    conditions: Vec<Condition>,
    condition_ids: FxHashMap<Vec<u8>, CondId>,
    signals: Vec<Signal>,
    /// Term literals: text and signal; an automaton over all of them.
    literals: Vec<(Box<[u8]>, SignalId)>,
    literal_ids: FxHashMap<Box<[u8]>, usize>,
    literal_matcher: OnceLock<Option<AhoCorasick>>,
    /// Term regular expressions and their signals; one automaton over all of them.
    message_regexes: Vec<(FilterRegex, SignalId)>,
    message_regex_ids: FxHashMap<Box<str>, usize>,
    message_group: OnceLock<RegexGroup>,
    /// Filters that no single signal can trigger (evaluated for every message).
    always: Vec<FilterId>,
    /// JSON filters that no signal can trigger (evaluated for every JSON message).
    always_json: Vec<FilterId>,
    /// Space-delimited filters by field count, and those with `...`.
    delimited_exact: FxHashMap<usize, Vec<FilterId>>,
    delimited_open: Vec<FilterId>,
    /// Largest regex group (capacity of the scratch's pattern set).
    max_group: usize,
    /// Live filter count at which triggers are chosen again.
    rekey_at: usize,
}

impl Default for FilterSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Reusable per-thread state for [`FilterSet::matches`]; keeping one makes matching
/// allocation-free in steady state. The matches of the last call read their values from it.
#[derive(Debug)]
pub struct FilterScratch {
    generation: u32,
    signal_stamp: Vec<u32>,
    filter_stamp: Vec<u32>,
    candidates: Vec<FilterId>,
    matched: Vec<FilterId>,
    scan: ScanScratch,
    hits: Vec<Hit>,
    hit_conditions: Vec<CondId>,
    /// Per selector: (generation, index of its last hit).
    last_hit: Vec<(u32, u32)>,
    patterns: PatternSet,
    stack: Vec<bool>,
    fields: Fields,
    /// Text of captured values, extracted keys and values of the last message.
    arena: Vec<u8>,
    pairs: Vec<(Span, Span)>,
    values: Vec<Option<Span>>,
}

impl Default for FilterScratch {
    fn default() -> Self {
        FilterScratch {
            generation: 0,
            signal_stamp: Vec::new(),
            filter_stamp: Vec::new(),
            candidates: Vec::new(),
            matched: Vec::new(),
            scan: ScanScratch::default(),
            hits: Vec::new(),
            hit_conditions: Vec::new(),
            last_hit: Vec::new(),
            patterns: PatternSet::new(0),
            stack: Vec::new(),
            fields: Fields::default(),
            arena: Vec::new(),
            pairs: Vec::new(),
            values: Vec::new(),
        }
    }
}

type Span = (u32, u32);

/// One value a selector reached during the scan.
#[derive(Debug, Clone, Copy)]
struct Hit {
    selector: SelId,
    ctx: u32,
    seq: u32,
    /// Satisfied conditions: a range of `hit_conditions`.
    conditions: Span,
    /// Captured text (strings, numbers, booleans).
    value: Option<Span>,
}

/// A filter that matched a message.
///
/// Its extracted values and requested values live in the [`FilterScratch`] the match was made
/// with, until that scratch is used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterMatch {
    /// The filter.
    pub id: FilterId,
    extracted: Span,
    values: Span,
}

fn span_text(arena: &[u8], (s, e): Span) -> &str {
    arena.get(s as usize..e as usize).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
}

impl FilterMatch {
    /// The `extractedValues` of TestMetricFilter: for a space-delimited pattern, `$name` for
    /// each named slot and `$<1-based position>` for each field an empty slot or `...` covers,
    /// in field order; empty for other patterns.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::{FilterScratch, FilterSet};
    ///
    /// let mut set = FilterSet::new();
    /// set.add("[level = ERROR, ...]").unwrap();
    /// let (mut scratch, mut out) = (FilterScratch::default(), Vec::new());
    /// set.matches(b"ERROR disk full", &mut scratch, &mut out);
    /// let pairs: Vec<_> = out[0].extracted(&scratch).collect();
    /// assert_eq!(pairs, vec![("$level", "ERROR"), ("$2", "disk"), ("$3", "full")]);
    /// ```
    pub fn extracted<'s>(&self, scratch: &'s FilterScratch) -> impl ExactSizeIterator<Item = (&'s str, &'s str)> + 's {
        let pairs = scratch.pairs.get(self.extracted.0 as usize..self.extracted.1 as usize).unwrap_or(&[]);
        pairs.iter().map(|&(k, v)| (span_text(&scratch.arena, k), span_text(&scratch.arena, v)))
    }

    /// The values of the selectors given to [`FilterSet::add_with_values`], in that order:
    /// the text of the value node (a string's value, a number's literal, `true`/`false`), or
    /// `None` where the selector reaches nothing, `null`, an object or an array.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::{FilterScratch, FilterSet};
    ///
    /// let mut set = FilterSet::new();
    /// set.add_with_values("{ $.latency > 100 }", &["$.latency", "$.route", "$.tags[0]"]).unwrap();
    /// let (mut scratch, mut out) = (FilterScratch::default(), Vec::new());
    /// set.matches(br#"{"latency": 250.5, "tags": ["slow"]}"#, &mut scratch, &mut out);
    /// assert_eq!(out[0].values(&scratch).collect::<Vec<_>>(), vec![Some("250.5"), None, Some("slow")]);
    /// ```
    pub fn values<'s>(&self, scratch: &'s FilterScratch) -> impl ExactSizeIterator<Item = Option<&'s str>> + 's {
        let values = scratch.values.get(self.values.0 as usize..self.values.1 as usize).unwrap_or(&[]);
        values.iter().map(|v| v.map(|span| span_text(&scratch.arena, span)))
    }
}

/// Appends `bytes` to `arena` as UTF-8 (invalid sequences replaced) and returns the span.
fn push_text(arena: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let start = arena.len() as u32;
    match std::str::from_utf8(bytes) {
        Ok(_) => arena.extend_from_slice(bytes),
        Err(_) => arena.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
    }
    (start, arena.len() as u32)
}

fn char_index(text: &str, byte: usize) -> usize {
    text.char_indices().take_while(|&(i, _)| i < byte).count()
}

/// Converts a byte position in `text` to a character index.
fn at_char(e: &FilterError, text: &str) -> FilterError {
    let position = char_index(text, e.position());
    let mut out = FilterError::new(e.message(), position);
    if let Some(h) = e.hint() {
        out = out.with_hint(h);
    }
    out
}

/// Broadness of a JSON condition (see [`Signal::broadness`]).
fn condition_broadness(test: &CondTest) -> u64 {
    match test {
        CondTest::Compare(Op::Eq, Literal::Str(_) | Literal::Num(_)) => 1,
        CondTest::Compare(Op::Eq, Literal::Glob(g)) if g.core.len() >= 4 => 4,
        CondTest::Compare(Op::Eq, Literal::Glob(g)) if g.matches_all() => 1024,
        CondTest::Compare(Op::Eq, Literal::Glob(_) | Literal::Regex(_))
        | CondTest::Compare(Op::Lt | Op::Le | Op::Gt | Op::Ge, _) => 16,
        CondTest::IsNull | CondTest::IsTrue | CondTest::IsFalse => 64,
        CondTest::Compare(Op::Ne, _) => 1024,
    }
}

/// Walks from `ctx` to the root context, checking each array element against `chain`.
fn chain_matches(chain: &[(FieldNode, u32)], mut ctx: u32, ctxs: &[Ctx]) -> bool {
    for &(node, index) in chain.iter().rev() {
        if ctx == 0 {
            return false;
        }
        let Some(c) = ctxs.get(ctx as usize) else { return false };
        if c.node != node || c.index != index {
            return false;
        }
        ctx = c.parent;
    }
    ctx == 0
}

impl FilterSet {
    /// An empty set. Unquoted terms may contain any character but spaces and quotes
    /// (`foo-bar` is one term); see [`strict`](Self::strict).
    pub fn new() -> Self {
        FilterSet {
            strict: false,
            filters: Vec::new(),
            live: 0,
            tree: FieldTree::exact(),
            selectors: Vec::new(),
            selector_ids: FxHashMap::default(),
            by_path: Vec::new(),
            conditions: Vec::new(),
            condition_ids: FxHashMap::default(),
            signals: Vec::new(),
            literals: Vec::new(),
            literal_ids: FxHashMap::default(),
            literal_matcher: OnceLock::new(),
            message_regexes: Vec::new(),
            message_regex_ids: FxHashMap::default(),
            message_group: OnceLock::new(),
            always: Vec::new(),
            always_json: Vec::new(),
            delimited_exact: FxHashMap::default(),
            delimited_open: Vec::new(),
            max_group: 0,
            rekey_at: 64,
        }
    }

    /// An empty set that rejects unquoted terms with characters other than letters, digits and
    /// `_`, as the AWS documentation requires (reference §2.3; AWS's behaviour is unknown).
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::FilterSet;
    ///
    /// assert!(FilterSet::new().add("user-agent").is_ok());
    /// let err = FilterSet::strict().add("user-agent").unwrap_err();
    /// assert_eq!(err.position(), 4);
    /// assert!(FilterSet::strict().add("\"user-agent\"").is_ok());
    /// ```
    pub fn strict() -> Self {
        FilterSet { strict: true, ..Self::new() }
    }

    /// Compiles `pattern` and adds it; returns its id.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] if the pattern is invalid; the set is then unchanged.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::FilterSet;
    ///
    /// let mut set = FilterSet::new();
    /// let id = set.add(r#"{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }"#).unwrap();
    /// let event = br#"{"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"}"#;
    /// assert_eq!(set.matching(event), vec![id]);
    /// let err = set.add("{ $.eventName = }").unwrap_err();
    /// assert_eq!(err.position(), 16);
    /// ```
    pub fn add(&mut self, pattern: &str) -> Result<FilterId, FilterError> {
        self.add_with_values(pattern, &[])
    }

    /// [`add`](Self::add) with value selectors (metric values, dimensions) whose values each
    /// match reports ([`FilterMatch::values`]): JSON selectors (`$.a.b`, `$.a[0]`) for JSON,
    /// term and empty patterns; `$name` (a named slot) or `$7` (the 7th field) for
    /// space-delimited patterns.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] for an invalid pattern, or for a value selector that does not fit the
    /// pattern: its message names the selector, and its position is a character index in
    /// that selector.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::FilterSet;
    ///
    /// let mut set = FilterSet::new();
    /// assert!(set.add_with_values("[ip, user, status]", &["$status", "$1"]).is_ok());
    /// let err = set.add_with_values("[ip, user, status]", &["$bytes"]).unwrap_err();
    /// assert!(err.message().contains("$bytes"));
    /// ```
    pub fn add_with_values(&mut self, pattern: &str, values: &[&str]) -> Result<FilterId, FilterError> {
        let parsed = syntax::parse(pattern, self.strict).map_err(|e| at_char(&e, pattern))?;
        let regex_count = parsed.regexes.len();
        let kind = match &parsed.pattern {
            Pattern::Empty => FilterKind::Empty,
            Pattern::Terms { .. } => FilterKind::Terms,
            Pattern::Json { .. } => FilterKind::Json,
            Pattern::Delimited { .. } => FilterKind::Delimited,
        };
        // Check every value selector before changing anything.
        let mut wanted = Vec::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            let fail = |message: String, at: usize, hint: Option<&'static str>| {
                let e = FilterError::new(format!("value selector {} ('{v}'): {message}", i + 1), char_index(v, at));
                match hint {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
            };
            if let Pattern::Delimited { slots } = &parsed.pattern {
                let name = v.strip_prefix('$').unwrap_or("");
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                    match name.parse::<usize>() {
                        Ok(n) if n >= 1 => wanted.push(Wanted::Field(n - 1)),
                        _ => return Err(fail("field positions start at $1".into(), 1, None)),
                    }
                    continue;
                }
                let slot = slots.iter().position(|s| matches!(s, syntax::Slot::Named { name: n, .. } if **n == *name));
                match slot {
                    Some(s) if v.starts_with('$') => wanted.push(Wanted::Slot(s)),
                    _ => {
                        return Err(fail(
                            "not a field of this space-delimited pattern".into(),
                            0,
                            Some("name a slot of the pattern ($status_code) or a field position ($7)"),
                        ));
                    }
                }
            } else {
                match syntax::parse_selector(v) {
                    Ok(sel) => wanted.push(Wanted::Json(sel)),
                    Err(e) => {
                        let hint = e.hint().or(if v.starts_with('$') && !v.starts_with("$.") {
                            Some("JSON selectors look like $.latency or $.items[0].size")
                        } else {
                            None
                        });
                        return Err(fail(e.message().to_owned(), e.position(), hint));
                    }
                }
            }
        }

        let id = self.filters.len() as FilterId;
        let mut atoms = Vec::new();
        let mut program = Vec::new();
        let mut delimited = None;
        match parsed.pattern {
            Pattern::Empty => {
                atoms.push(Atom::True);
                program.push(Rpn::Atom(0));
            }
            Pattern::Terms { alternatives } => {
                let mut regexes: Vec<Option<FilterRegex>> = parsed.regexes.into_iter().map(Some).collect();
                for (a, alternative) in alternatives.into_iter().enumerate() {
                    for (t, term) in alternative.into_iter().enumerate() {
                        let atom = match term.kind {
                            TermKind::Literal(lit) if lit.is_empty() => Atom::True,
                            TermKind::Literal(lit) => {
                                let s = self.intern_literal(lit);
                                if term.negated {
                                    Atom::NotSignal(s)
                                } else {
                                    Atom::Signal(s)
                                }
                            }
                            TermKind::Regex(r) => {
                                let re = regexes.get_mut(r).and_then(Option::take).expect("each regex used once");
                                let s = self.intern_message_regex(re);
                                if term.negated {
                                    Atom::NotSignal(s)
                                } else {
                                    Atom::Signal(s)
                                }
                            }
                        };
                        atoms.push(atom);
                        program.push(Rpn::Atom(atoms.len() - 1));
                        if t > 0 {
                            program.push(Rpn::And);
                        }
                    }
                    if a > 0 {
                        program.push(Rpn::Or);
                    }
                }
            }
            Pattern::Json { conditions, program: p } => {
                let mut regexes: Vec<Option<FilterRegex>> = parsed.regexes.into_iter().map(Some).collect();
                for (selector, test) in conditions {
                    let sel = self.intern_selector(&selector);
                    let atom = match test {
                        Test::NotExists => Atom::Absent(sel),
                        Test::IsNull => Atom::Signal(self.intern_condition(sel, CondTest::IsNull, None)),
                        Test::IsTrue => Atom::Signal(self.intern_condition(sel, CondTest::IsTrue, None)),
                        Test::IsFalse => Atom::Signal(self.intern_condition(sel, CondTest::IsFalse, None)),
                        Test::Compare(op, Literal::Regex(r)) => {
                            let re = regexes.get_mut(r).and_then(Option::take).expect("each regex used once");
                            Atom::Signal(self.intern_condition(sel, CondTest::Compare(op, Literal::Regex(0)), Some(re)))
                        }
                        Test::Compare(op, literal) => {
                            Atom::Signal(self.intern_condition(sel, CondTest::Compare(op, literal), None))
                        }
                    };
                    atoms.push(atom);
                }
                program = p;
            }
            Pattern::Delimited { slots } => {
                let d = Delimited::new(slots);
                let fixed = d.fixed_slots();
                if d.ellipsis.is_some() {
                    self.delimited_open.push(id);
                } else {
                    self.delimited_exact.entry(fixed).or_default().push(id);
                }
                delimited = Some((d, parsed.regexes));
            }
        }
        let mut value_specs = Vec::with_capacity(wanted.len());
        for w in wanted {
            value_specs.push(match w {
                Wanted::Json(sel) => {
                    let s = self.intern_selector(&sel);
                    self.selectors[s as usize].capture = true;
                    ValueSpec::Json(s)
                }
                Wanted::Slot(s) => ValueSpec::Slot(s),
                Wanted::Field(f) => ValueSpec::Field(f),
            });
        }
        for atom in &atoms {
            if let Atom::Signal(s) | Atom::NotSignal(s) = atom {
                self.signals[*s as usize].refs += 1;
            }
        }
        self.filters.push(FilterEntry {
            alive: true,
            kind,
            text: pattern.into(),
            regex_count,
            program,
            atoms,
            delimited,
            values: value_specs,
        });
        self.live += 1;
        if kind != FilterKind::Delimited {
            self.assign_triggers(id);
        }
        if self.live >= self.rekey_at {
            self.rekey();
            self.rekey_at = self.live * 2;
        }
        self.max_group = self.max_group.max(self.message_regexes.len());
        Ok(id)
    }

    fn new_signal(&mut self, broadness: u64) -> SignalId {
        self.signals.push(Signal { broadness, ..Signal::default() });
        (self.signals.len() - 1) as SignalId
    }

    fn intern_literal(&mut self, lit: Box<[u8]>) -> SignalId {
        if let Some(&i) = self.literal_ids.get(&lit) {
            return self.literals[i].1;
        }
        let broadness = match lit.len() {
            0..=2 => 64,
            3..=5 => 8,
            _ => 2,
        };
        let s = self.new_signal(broadness);
        self.literal_ids.insert(lit.clone(), self.literals.len());
        self.literals.push((lit, s));
        self.literal_matcher = OnceLock::new();
        s
    }

    fn intern_message_regex(&mut self, re: FilterRegex) -> SignalId {
        if let Some(&i) = self.message_regex_ids.get(&re.source) {
            return self.message_regexes[i].1;
        }
        let s = self.new_signal(16);
        self.message_regex_ids.insert(re.source.clone(), self.message_regexes.len());
        self.message_regexes.push((re, s));
        self.message_group = OnceLock::new();
        s
    }

    /// Interns a selector and all its prefixes (whose later occurrences replace its value).
    fn intern_selector(&mut self, selector: &Selector) -> SelId {
        let text = selector.text();
        if let Some(&s) = self.selector_ids.get(text.as_str()) {
            return s;
        }
        let mut ancestors = Vec::new();
        for len in 1..selector.steps.len() {
            let prefix = Selector { steps: selector.steps[..len].to_vec() };
            ancestors.push(self.intern_selector(&prefix));
        }
        let keys: Vec<&str> = selector
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(&**k),
                Step::Index(_) => None,
            })
            .collect();
        let path: PathId = self.tree.intern(keys.join(".").as_bytes());
        let mut node = FieldTree::ROOT;
        let mut chain = Vec::new();
        for step in &selector.steps {
            match step {
                Step::Key(k) => node = self.tree.child(node, k.as_bytes()).expect("interned path"),
                Step::Index(i) => chain.push((node, *i)),
            }
        }
        let id = self.selectors.len() as SelId;
        self.selectors.push(SelectorEntry {
            chain: chain.into(),
            ancestors: ancestors.into(),
            capture: false,
            exact: FxHashMap::default(),
            numeric: FxHashMap::default(),
            others: Vec::new(),
            regexes: Vec::new(),
            group: OnceLock::new(),
        });
        if self.by_path.len() <= path as usize {
            self.by_path.resize_with(path as usize + 1, Vec::new);
        }
        self.by_path[path as usize].push(id);
        self.selector_ids.insert(text.into(), id);
        id
    }

    /// Interns a condition on `sel`; a regex condition brings its expression.
    fn intern_condition(&mut self, sel: SelId, test: CondTest, regex: Option<FilterRegex>) -> SignalId {
        let mut key = sel.to_le_bytes().to_vec();
        match &test {
            CondTest::IsNull => key.push(1),
            CondTest::IsTrue => key.push(2),
            CondTest::IsFalse => key.push(3),
            CondTest::Compare(op, literal) => {
                key.push(4);
                key.push(*op as u8);
                match literal {
                    Literal::Str(s) => {
                        key.push(b's');
                        key.extend_from_slice(s);
                    }
                    Literal::Glob(g) => {
                        key.push(b'g');
                        key.push(u8::from(g.leading) | (u8::from(g.trailing) << 1));
                        key.extend_from_slice(&g.core);
                    }
                    Literal::Num(n) => {
                        key.push(b'n');
                        key.extend_from_slice(&number_key(n.value).to_le_bytes());
                    }
                    Literal::Regex(_) => {
                        key.push(b'r');
                        key.extend_from_slice(regex.as_ref().map_or(&b""[..], |r| r.source.as_bytes()));
                    }
                }
            }
        }
        if let Some(&c) = self.condition_ids.get(&key) {
            return self.conditions[c as usize].signal;
        }
        let signal = self.new_signal(condition_broadness(&test));
        let c = self.conditions.len() as CondId;
        let entry = &mut self.selectors[sel as usize];
        let test = match test {
            CondTest::Compare(Op::Eq, Literal::Str(s)) => {
                entry.exact.entry(s.clone()).or_default().push(c);
                CondTest::Compare(Op::Eq, Literal::Str(s))
            }
            CondTest::Compare(Op::Eq, Literal::Num(n)) => {
                entry.numeric.entry(number_key(n.value)).or_default().push(c);
                CondTest::Compare(Op::Eq, Literal::Num(n))
            }
            CondTest::Compare(op, Literal::Regex(_)) => {
                entry.regexes.push(regex.expect("a regex condition brings its expression"));
                entry.group = OnceLock::new();
                self.max_group = self.max_group.max(entry.regexes.len());
                entry.others.push(c);
                CondTest::Compare(op, Literal::Regex(entry.regexes.len() - 1))
            }
            other => {
                entry.others.push(c);
                other
            }
        };
        self.conditions.push(Condition { test, signal });
        self.condition_ids.insert(key, c);
        signal
    }

    /// A set of signals such that the filter can only match if one of them fires (the
    /// cheapest such set along its AND/OR structure), or `None` if it can match with none.
    fn trigger_set(&self, f: FilterId) -> Option<Vec<SignalId>> {
        let entry = &self.filters[f as usize];
        let cost = |s: &[SignalId]| -> u64 {
            s.iter()
                .map(|&x| {
                    let sig = &self.signals[x as usize];
                    sig.broadness.saturating_mul(u64::from(sig.refs.max(1)))
                })
                .fold(0u64, u64::saturating_add)
        };
        let mut stack: Vec<Option<Vec<SignalId>>> = Vec::new();
        for op in &entry.program {
            match *op {
                Rpn::Atom(i) => stack.push(match entry.atoms.get(i) {
                    Some(Atom::Signal(s)) => Some(vec![*s]),
                    _ => None,
                }),
                Rpn::And => {
                    let b = stack.pop().flatten();
                    let a = stack.pop().flatten();
                    stack.push(match (a, b) {
                        (None, x) | (x, None) => x,
                        (Some(a), Some(b)) => Some(if cost(&b) < cost(&a) { b } else { a }),
                    });
                }
                Rpn::Or => {
                    let b = stack.pop().flatten();
                    let a = stack.pop().flatten();
                    stack.push(match (a, b) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    });
                }
            }
        }
        let mut set = stack.pop().flatten()?;
        set.sort_unstable();
        set.dedup();
        Some(set)
    }

    fn assign_triggers(&mut self, f: FilterId) {
        match self.trigger_set(f) {
            Some(signals) => {
                for s in signals {
                    self.signals[s as usize].triggers.push(f);
                }
            }
            None if self.filters[f as usize].kind == FilterKind::Json => self.always_json.push(f),
            None => self.always.push(f),
        }
    }

    /// Chooses every filter's triggers again (sharing changes as filters are added).
    fn rekey(&mut self) {
        for s in &mut self.signals {
            s.triggers.clear();
        }
        self.always.clear();
        self.always_json.clear();
        for f in 0..self.filters.len() as FilterId {
            let e = &self.filters[f as usize];
            if e.alive && e.kind != FilterKind::Delimited {
                self.assign_triggers(f);
            }
        }
    }

    /// Removes a filter; returns whether it was there. Its shared conditions stay interned
    /// (build a new set to reclaim them).
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::FilterSet;
    ///
    /// let mut set = FilterSet::new();
    /// let id = set.add("ERROR").unwrap();
    /// assert!(set.remove(id));
    /// assert!(set.matching(b"ERROR").is_empty());
    /// assert_eq!(set.len(), 0);
    /// ```
    pub fn remove(&mut self, id: FilterId) -> bool {
        let Some(entry) = self.filters.get_mut(id as usize) else { return false };
        if !entry.alive {
            return false;
        }
        entry.alive = false;
        entry.delimited = None;
        self.live -= 1;
        for s in &mut self.signals {
            s.triggers.retain(|&f| f != id);
        }
        self.always.retain(|&f| f != id);
        self.always_json.retain(|&f| f != id);
        self.delimited_open.retain(|&f| f != id);
        for list in self.delimited_exact.values_mut() {
            list.retain(|&f| f != id);
        }
        true
    }

    /// Number of filters in the set.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True if the set has no filter.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The kind of a filter.
    pub fn kind(&self, id: FilterId) -> Option<FilterKind> {
        self.filters.get(id as usize).filter(|f| f.alive).map(|f| f.kind)
    }

    /// Number of `%…%` expressions in a filter (AWS allows 2 per pattern and 5
    /// regex-bearing filters per log group).
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::FilterSet;
    ///
    /// let mut set = FilterSet::new();
    /// let id = set.add("{ $.a = %^x% || $.b = %y$% }").unwrap();
    /// assert_eq!(set.regex_count(id), Some(2));
    /// ```
    pub fn regex_count(&self, id: FilterId) -> Option<usize> {
        self.filters.get(id as usize).filter(|f| f.alive).map(|f| f.regex_count)
    }

    /// The text of a filter, as added.
    pub fn pattern(&self, id: FilterId) -> Option<&str> {
        self.filters.get(id as usize).filter(|f| f.alive).map(|f| &*f.text)
    }

    /// Ids of the filters matching `message`, in the order they were added (a convenience
    /// over [`matches`](Self::matches) that allocates its own scratch).
    pub fn matching(&self, message: &[u8]) -> Vec<FilterId> {
        let mut scratch = FilterScratch::default();
        let mut out = Vec::new();
        self.matches(message, &mut scratch, &mut out);
        out.into_iter().map(|m| m.id).collect()
    }

    fn literal_matcher(&self) -> Option<&AhoCorasick> {
        self.literal_matcher
            .get_or_init(|| {
                AhoCorasick::builder()
                    .match_kind(AcMatchKind::Standard)
                    .build(self.literals.iter().map(|(l, _)| l))
                    .ok()
            })
            .as_ref()
    }

    fn message_group(&self) -> &RegexGroup {
        self.message_group
            .get_or_init(|| RegexGroup::new(&self.message_regexes.iter().map(|(r, _)| r).collect::<Vec<_>>()))
    }

    /// Fires `s` for this message; the first time, its triggered filters become candidates.
    fn fire(
        &self,
        s: SignalId,
        generation: u32,
        signal_stamp: &mut [u32],
        filter_stamp: &mut [u32],
        candidates: &mut Vec<FilterId>,
    ) {
        let stamp = &mut signal_stamp[s as usize];
        if *stamp == generation {
            return;
        }
        *stamp = generation;
        for &f in &self.signals[s as usize].triggers {
            if filter_stamp[f as usize] != generation {
                filter_stamp[f as usize] = generation;
                candidates.push(f);
            }
        }
    }

    /// The hit that is `sel`'s value in this message: its last occurrence, unless a later
    /// occurrence of an enclosing key replaced it (JSON duplicate keys: the last one wins).
    fn resolved<'h>(&self, sel: SelId, generation: u32, last_hit: &[(u32, u32)], hits: &'h [Hit]) -> Option<&'h Hit> {
        let (g, i) = *last_hit.get(sel as usize)?;
        if g != generation {
            return None;
        }
        let hit = hits.get(i as usize)?;
        for &a in &*self.selectors[sel as usize].ancestors {
            if let Some(&(ga, ai)) = last_hit.get(a as usize) {
                if ga == generation && hits.get(ai as usize).is_some_and(|h| h.seq > hit.seq) {
                    return None;
                }
            }
        }
        Some(hit)
    }

    /// The tests of `sel` on one value: pushes the conditions that hold.
    fn test_value(&self, sel: &SelectorEntry, node: Node<'_>, out: &mut Vec<CondId>, patterns: &mut PatternSet) {
        if let Some(text) = node.text() {
            if let Some(cs) = sel.exact.get(text) {
                out.extend_from_slice(cs);
            }
        }
        if sel.others.is_empty() && sel.numeric.is_empty() {
            return;
        }
        let number = node.number();
        if let Some(x) = number {
            if let Some(cs) = sel.numeric.get(&number_key(x)) {
                out.extend_from_slice(cs);
            }
        }
        if sel.others.is_empty() {
            return;
        }
        let searched = !sel.regexes.is_empty() && node.text().is_some();
        if searched {
            sel.group().fill(node.text().unwrap_or_default(), patterns);
        }
        for &c in &sel.others {
            let cond = &self.conditions[c as usize];
            let holds = match &cond.test {
                CondTest::IsNull => node == Node::Null,
                CondTest::IsTrue => node == Node::Bool(true),
                CondTest::IsFalse => node == Node::Bool(false),
                CondTest::Compare(op, literal) => {
                    holds(*op, literal, node, number, &mut |i, _| searched && found(patterns, i))
                }
            };
            if holds {
                out.push(c);
            }
        }
    }

    /// Matches one message against every filter. `out` is cleared and receives the matches in
    /// the order the filters were added; their values live in `scratch` until its next use.
    ///
    /// A message that is not a JSON object matches no JSON pattern (AWS semantics): there is
    /// no error. Nothing is allocated once `scratch` and `out` have grown to fit.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::filter::{FilterScratch, FilterSet};
    ///
    /// let mut set = FilterSet::new();
    /// let not_bob = set.add("{ $.user != \"bob\" }").unwrap();
    /// let (mut scratch, mut out) = (FilterScratch::default(), Vec::new());
    /// set.matches(br#"{"user": "alice"}"#, &mut scratch, &mut out);
    /// assert_eq!(out[0].id, not_bob);
    /// // `!=` on a missing field is false, and text is not JSON.
    /// set.matches(br#"{"other": 1}"#, &mut scratch, &mut out);
    /// assert!(out.is_empty());
    /// set.matches(b"user=alice", &mut scratch, &mut out);
    /// assert!(out.is_empty());
    /// ```
    pub fn matches(&self, message: &[u8], scratch: &mut FilterScratch, out: &mut Vec<FilterMatch>) {
        out.clear();
        let sc = scratch;
        sc.generation = sc.generation.wrapping_add(1);
        if sc.generation == 0 {
            sc.signal_stamp.fill(0);
            sc.filter_stamp.fill(0);
            sc.last_hit.fill((0, 0));
            sc.generation = 1;
        }
        let generation = sc.generation;
        if sc.signal_stamp.len() < self.signals.len() {
            sc.signal_stamp.resize(self.signals.len(), 0);
        }
        if sc.filter_stamp.len() < self.filters.len() {
            sc.filter_stamp.resize(self.filters.len(), 0);
        }
        if sc.last_hit.len() < self.selectors.len() {
            sc.last_hit.resize(self.selectors.len(), (0, 0));
        }
        if sc.patterns.capacity() < self.max_group {
            sc.patterns = PatternSet::new(self.max_group);
        }
        sc.candidates.clear();
        sc.matched.clear();
        sc.arena.clear();
        sc.pairs.clear();
        sc.values.clear();
        sc.hits.clear();
        sc.hit_conditions.clear();

        // Terms: every literal found anywhere in the raw text, in one pass.
        if !self.literals.is_empty() {
            if let [(lit, s)] = &self.literals[..] {
                if memchr::memmem::find(message, lit).is_some() {
                    self.fire(*s, generation, &mut sc.signal_stamp, &mut sc.filter_stamp, &mut sc.candidates);
                }
            } else if let Some(ac) = self.literal_matcher() {
                let mut seen = 0;
                for m in ac.find_overlapping_iter(message) {
                    let s = self.literals[m.pattern().as_usize()].1;
                    if sc.signal_stamp[s as usize] != generation {
                        self.fire(s, generation, &mut sc.signal_stamp, &mut sc.filter_stamp, &mut sc.candidates);
                        seen += 1;
                        if seen == self.literals.len() {
                            break;
                        }
                    }
                }
            } else {
                for (lit, s) in &self.literals {
                    if memchr::memmem::find(message, lit).is_some() {
                        self.fire(*s, generation, &mut sc.signal_stamp, &mut sc.filter_stamp, &mut sc.candidates);
                    }
                }
            }
        }
        if !self.message_regexes.is_empty() {
            self.message_group().fill(message, &mut sc.patterns);
            for (i, (_, s)) in self.message_regexes.iter().enumerate() {
                if found(&sc.patterns, i) {
                    self.fire(*s, generation, &mut sc.signal_stamp, &mut sc.filter_stamp, &mut sc.candidates);
                }
            }
        }

        // JSON: one scan for every selector of every pattern.
        let mut json_ok = false;
        if !self.selectors.is_empty() && message.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let FilterScratch { scan, hits, hit_conditions, arena, patterns, .. } = &mut *sc;
            let mut seq: u32 = 0;
            let result = scan_with(message, &self.tree, Validation::Full, scan, &mut |path, leaf, ctx| {
                seq += 1;
                let Some(selectors) = self.by_path.get(path as usize) else { return };
                for &s in selectors {
                    let sel = &self.selectors[s as usize];
                    if sel.chain.is_empty() != (ctx == 0) {
                        continue;
                    }
                    let node = match leaf {
                        Leaf::Str(t) => Node::Str(t),
                        Leaf::Num(t) => Node::Num(t),
                        Leaf::True => Node::Bool(true),
                        Leaf::False => Node::Bool(false),
                        Leaf::Null => Node::Null,
                        Leaf::Object | Leaf::Array => Node::Container,
                    };
                    let start = hit_conditions.len() as u32;
                    self.test_value(sel, node, hit_conditions, patterns);
                    let value = if sel.capture {
                        match node {
                            Node::Str(t) | Node::Num(t) => Some(push_text(arena, t)),
                            Node::Bool(b) => Some(push_text(arena, if b { b"true" } else { b"false" })),
                            Node::Null | Node::Container => None,
                        }
                    } else {
                        None
                    };
                    hits.push(Hit { selector: s, ctx, seq, conditions: (start, hit_conditions.len() as u32), value });
                }
            });
            if result.is_ok() {
                json_ok = true;
                for (i, hit) in sc.hits.iter().enumerate() {
                    let sel = &self.selectors[hit.selector as usize];
                    if sel.chain.is_empty() || chain_matches(&sel.chain, hit.ctx, &sc.scan.ctxs) {
                        sc.last_hit[hit.selector as usize] = (generation, i as u32);
                    }
                }
                for (i, hit) in sc.hits.iter().enumerate() {
                    if sc.last_hit[hit.selector as usize] != (generation, i as u32)
                        || self.resolved(hit.selector, generation, &sc.last_hit, &sc.hits).is_none()
                    {
                        continue;
                    }
                    for &c in &sc.hit_conditions[hit.conditions.0 as usize..hit.conditions.1 as usize] {
                        let s = self.conditions[c as usize].signal;
                        self.fire(s, generation, &mut sc.signal_stamp, &mut sc.filter_stamp, &mut sc.candidates);
                    }
                }
            } else {
                sc.hits.clear();
            }
        }

        // Evaluate the candidates and the filters no signal can trigger.
        let lists: [&[FilterId]; 3] = [&sc.candidates, &self.always, if json_ok { &self.always_json } else { &[] }];
        let mut matched = std::mem::take(&mut sc.matched);
        for list in lists {
            for &f in list {
                let entry = &self.filters[f as usize];
                if !entry.alive || (entry.kind == FilterKind::Json && !json_ok) {
                    continue;
                }
                let ok = evaluate(&entry.program, &mut sc.stack, |i| match entry.atoms.get(i) {
                    Some(Atom::Signal(s)) => sc.signal_stamp[*s as usize] == generation,
                    Some(Atom::NotSignal(s)) => sc.signal_stamp[*s as usize] != generation,
                    Some(Atom::Absent(sel)) => self.resolved(*sel, generation, &sc.last_hit, &sc.hits).is_none(),
                    Some(Atom::True) => true,
                    None => false,
                });
                if ok {
                    matched.push(f);
                }
            }
        }

        // Space-delimited: one tokenisation, filters filed by field count.
        let any_delimited = !self.delimited_open.is_empty() || self.delimited_exact.values().any(|l| !l.is_empty());
        if any_delimited {
            sc.fields.split(message);
            let n = sc.fields.len();
            let exact = self.delimited_exact.get(&n).map_or(&[][..], Vec::as_slice);
            for &f in exact.iter().chain(&self.delimited_open) {
                let entry = &self.filters[f as usize];
                let Some((d, regexes)) = &entry.delimited else { continue };
                if d.matches(&sc.fields, &mut sc.stack, &mut |i, t| regexes.get(i).is_some_and(|r| r.is_match(t))) {
                    matched.push(f);
                }
            }
        }

        matched.sort_unstable();
        for &f in &matched {
            let entry = &self.filters[f as usize];
            let ext_start = sc.pairs.len() as u32;
            if let Some((d, _)) = &entry.delimited {
                let FilterScratch { fields, arena, pairs, .. } = &mut *sc;
                d.extracted(fields.len(), |key, field| {
                    let start = arena.len() as u32;
                    arena.push(b'$');
                    match key {
                        Key::Name(name) => arena.extend_from_slice(name.as_bytes()),
                        Key::Position(p) => {
                            use std::io::Write as _;
                            let _ = write!(arena, "{p}");
                        }
                    }
                    let k = (start, arena.len() as u32);
                    let v = push_text(arena, fields.get(field));
                    pairs.push((k, v));
                });
            }
            let ext = (ext_start, sc.pairs.len() as u32);
            let val_start = sc.values.len() as u32;
            for spec in &entry.values {
                let value = match *spec {
                    ValueSpec::Json(sel) => {
                        if json_ok {
                            self.resolved(sel, generation, &sc.last_hit, &sc.hits).and_then(|h| h.value)
                        } else {
                            None
                        }
                    }
                    ValueSpec::Slot(slot) => {
                        let n = sc.fields.len();
                        entry.delimited.as_ref().and_then(|(d, _)| {
                            let i = d.field_index(slot, n);
                            (i < n).then(|| push_text(&mut sc.arena, sc.fields.get(i)))
                        })
                    }
                    ValueSpec::Field(i) => (i < sc.fields.len()).then(|| push_text(&mut sc.arena, sc.fields.get(i))),
                };
                sc.values.push(value);
            }
            out.push(FilterMatch { id: f, extracted: ext, values: (val_start, sc.values.len() as u32) });
        }
        matched.clear();
        sc.matched = matched;
    }
}

/// One match of [`test_metric_filter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFilterMatch {
    /// 1-based position of the message (reference §8 #10).
    pub event_number: usize,
    /// The message.
    pub event_message: String,
    /// `extractedValues`: see [`FilterMatch::extracted`].
    pub extracted_values: Vec<(String, String)>,
}

/// Tests one pattern against messages, like CloudWatch Logs `TestMetricFilter`: the matching
/// messages with their 1-based number and extracted values. (AWS also requires 1–50 messages
/// of at least one character; the Python API checks that.)
///
/// # Errors
///
/// A [`FilterError`] if the pattern is invalid.
///
/// # Example
///
/// ```
/// use trailmatch_core::filter::test_metric_filter;
///
/// let got = test_metric_filter("[w1=ERROR, w2]", &["ERROR message", "ERROR WARN message", "INFO x"]).unwrap();
/// assert_eq!(got.len(), 1);
/// assert_eq!(got[0].event_number, 1);
/// assert_eq!(got[0].extracted_values, vec![("$w1".into(), "ERROR".into()), ("$w2".into(), "message".into())]);
/// ```
pub fn test_metric_filter(pattern: &str, messages: &[&str]) -> Result<Vec<MetricFilterMatch>, FilterError> {
    let mut set = FilterSet::new();
    set.add(pattern)?;
    let mut scratch = FilterScratch::default();
    let mut out = Vec::new();
    let mut result = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        set.matches(message.as_bytes(), &mut scratch, &mut out);
        if let Some(m) = out.first() {
            result.push(MetricFilterMatch {
                event_number: i + 1,
                event_message: (*message).to_owned(),
                extracted_values: m.extracted(&scratch).map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            });
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, message: &str) -> bool {
        let mut set = FilterSet::new();
        set.add(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        !set.matching(message.as_bytes()).is_empty()
    }

    #[test]
    fn comparisons_need_a_value_node() {
        for message in [r"{}", r#"{"x": null}"#, r#"{"x": {"a": 1}}"#, r#"{"x": [1]}"#, r#"{"x": []}"#] {
            assert!(!matches(r#"{ $.x = "a" }"#, message), "{message}");
            assert!(!matches(r#"{ $.x != "a" }"#, message), "{message}");
            assert!(!matches("{ $.x = * }", message), "{message}");
            assert!(!matches("{ $.x > 0 }", message), "{message}");
            assert!(!matches("{ $.x != 1 }", message), "{message}");
        }
        assert!(matches("{ $.x NOT EXISTS }", "{}"));
        assert!(!matches("{ $.x NOT EXISTS }", r#"{"x": null}"#));
        assert!(!matches("{ $.x NOT EXISTS }", r#"{"x": []}"#));
        assert!(matches("{ $.x IS NULL }", r#"{"x": null}"#));
        assert!(!matches("{ $.x IS NULL }", "{}"));
        assert!(matches("{ $.x IS TRUE }", r#"{"x": true}"#));
        assert!(!matches("{ $.x IS TRUE }", r#"{"x": "true"}"#));
        assert!(matches("{ $.x IS FALSE }", r#"{"x": false}"#));
        assert!(!matches("{ $.x = true }", r#"{"x": true}"#));
    }

    #[test]
    fn no_implicit_array_traversal() {
        let doc = r#"{"a": [{"b": "x"}, {"b": "y", "c": [1, [2, 3]]}]}"#;
        assert!(!matches(r#"{ $.a.b = "x" }"#, doc));
        assert!(matches(r"{ $.a.b NOT EXISTS }", doc));
        assert!(matches(r#"{ $.a[0].b = "x" }"#, doc));
        assert!(!matches(r#"{ $.a[0].b = "y" }"#, doc));
        assert!(matches(r#"{ $.a[1].b = "y" }"#, doc));
        assert!(matches("{ $.a[1].c[0] = 1 }", doc));
        assert!(matches("{ $.a[1].c[1][1] = 3 }", doc));
        assert!(!matches("{ $.a[1].c[1] = 2 }", doc));
        assert!(matches("{ $.a[2] NOT EXISTS }", doc));
        assert!(!matches("{ $.a[0] NOT EXISTS }", doc));
        assert!(matches("{ $.a[0][0] NOT EXISTS }", doc));
        let nested = r#"{"m": [[1, 2], [3]]}"#;
        assert!(matches("{ $.m[0][1] = 2 }", nested));
        assert!(matches("{ $.m[1][0] = 3 }", nested));
        assert!(!matches("{ $.m[1][1] = * }", nested));
    }

    #[test]
    fn dotted_keys_are_plain_keys() {
        assert!(!matches(r#"{ $.a.b = "x" }"#, r#"{"a.b": "x"}"#));
        assert!(matches(r#"{ $.a.b = "x" }"#, r#"{"a.b": "y", "a": {"b": "x"}}"#));
    }

    #[test]
    fn duplicate_keys_last_one_wins_like_jackson() {
        assert!(matches("{ $.a = 2 }", r#"{"a": 1, "a": 2}"#));
        assert!(!matches("{ $.a = 1 }", r#"{"a": 1, "a": 2}"#));
        // A later duplicate of an enclosing key replaces the whole object.
        assert!(!matches("{ $.a.b = 1 }", r#"{"a": {"b": 1}, "a": {"c": 2}}"#));
        assert!(matches("{ $.a.b NOT EXISTS }", r#"{"a": {"b": 1}, "a": {"c": 2}}"#));
        assert!(matches("{ $.a.b = 1 }", r#"{"a": 5, "a": {"b": 1}}"#));
        assert!(!matches("{ $.a[0].b = 1 }", r#"{"a": [{"b": 1}], "a": [{"c": 1}]}"#));
        assert!(matches("{ $.a.b.c = 2 }", r#"{"a": {"b": {"c": 1}}, "a": {"b": {"c": 2}}}"#));
    }

    #[test]
    fn non_json_messages_match_no_json_pattern() {
        let mut set = FilterSet::new();
        let json = set.add("{ $.a NOT EXISTS }").unwrap();
        let term = set.add("a").unwrap();
        assert_eq!(set.matching(b"{}"), vec![json]);
        assert_eq!(set.matching(b"a"), vec![term]);
        assert_eq!(set.matching(br#"{"b": 1} trailing a"#), vec![term]);
        assert_eq!(set.matching(b"[1, 2, 3]"), Vec::<FilterId>::new());
        assert!(set.matching(b"{\"b\": \"\xff\"}").is_empty());
    }

    #[test]
    fn terms() {
        assert!(matches("ERROR", "Exiting with ERRORCODE: -1"));
        assert!(!matches("ERROR", "error"));
        assert!(matches("ERROR ARGUMENTS", "ERROR: bad ARGUMENTS"));
        assert!(!matches("ERROR -ARGUMENTS", "ERROR: bad ARGUMENTS"));
        assert!(matches("?ERROR ?WARN", "WARN x"));
        assert!(!matches("?ERROR ?WARN", "INFO x"));
        assert!(matches(r#""Failed authentication""#, "x Failed authentication y"));
        assert!(!matches(r#""Failed authentication""#, "Failed  authentication"));
        assert!(matches(r#"" ""#, "nospace"));
        assert!(matches("-DEBUG", "INFO"));
        assert!(!matches("-DEBUG", "DEBUG"));
        // CDK grouping: (a AND b) OR c.
        assert!(matches(r#"?"a" "b" ?"c""#, "c"));
        assert!(matches(r#"?"a" "b" ?"c""#, "ab"));
        assert!(!matches(r#"?"a" "b" ?"c""#, "a"));
        assert!(matches("%AUTHORIZED%", "UNAUTHORIZED REQUEST"));
        assert!(matches("%[Ee]rror|[Ff]ail% -retry", "Failed"));
        assert!(!matches("%[Ee]rror|[Ff]ail% -retry", "Failed, retry"));
        assert!(matches("", "anything"));
    }

    #[test]
    fn many_literals_share_one_automaton() {
        let mut set = FilterSet::new();
        let ids: Vec<FilterId> = (0..200).map(|i| set.add(&format!("word{i} -stop")).unwrap()).collect();
        assert_eq!(set.matching(b"word7 word150"), vec![ids[1], ids[7], ids[15], ids[150]]);
        assert!(set.matching(b"word7 stop").is_empty());
        assert_eq!(set.matching(b"word19"), vec![ids[1], ids[19]]);
    }

    #[test]
    fn triggers_keep_results_exact() {
        // Patterns with shared broad conditions, OR and AND mixes, NOT EXISTS.
        let patterns = [
            r#"{ $.t != "x" }"#,
            r#"{ $.t != "x" && $.e = "A" }"#,
            r#"{ ($.e = "A" || $.e = "B") && $.t = * }"#,
            r#"{ $.e = "A" || $.missing NOT EXISTS }"#,
            r#"{ $.e = "C" && $.n > 5 }"#,
            r"{ $.n >= 5 || $.e = %^B% }",
            "A",
            "-A",
        ];
        let mut set = FilterSet::new();
        for p in patterns {
            set.add(p).unwrap();
        }
        // Force re-keying through many more filters.
        for i in 0..100 {
            set.add(&format!(r#"{{ $.e = "Z{i}" && $.t != "x" }}"#)).unwrap();
        }
        let messages = [
            r#"{"t": "y", "e": "A"}"#,
            r#"{"t": "x", "e": "B", "n": 5}"#,
            r#"{"e": "C", "n": 6, "missing": 1}"#,
            r#"{"e": "Z42", "t": "q"}"#,
            "A plain line",
            "{}",
        ];
        for m in messages {
            let together = set.matching(m.as_bytes());
            let mut alone = Vec::new();
            for id in 0..set.filters.len() as FilterId {
                let mut single = FilterSet::new();
                single.add(set.pattern(id).unwrap()).unwrap();
                if !single.matching(m.as_bytes()).is_empty() {
                    alone.push(id);
                }
            }
            assert_eq!(together, alone, "{m}");
        }
    }

    #[test]
    fn values_and_extracted_values() {
        let mut set = FilterSet::new();
        set.add_with_values("{ $.a = * }", &["$.a", "$.b.c", "$.d[1]", "$.n", "$.o"]).unwrap();
        let mut scratch = FilterScratch::default();
        let mut out = Vec::new();
        set.matches(br#"{"a": "x\"y", "b": {"c": true}, "d": [1, 2.50], "n": null, "o": {}}"#, &mut scratch, &mut out);
        let values: Vec<_> = out[0].values(&scratch).collect();
        assert_eq!(values, vec![Some("x\"y"), Some("true"), Some("2.50"), None, None]);
        assert_eq!(out[0].extracted(&scratch).len(), 0);

        let mut set = FilterSet::new();
        set.add_with_values("ERROR", &["$.code"]).unwrap();
        set.matches(br#"{"code": 7, "msg": "ERROR"}"#, &mut scratch, &mut out);
        assert_eq!(out[0].values(&scratch).collect::<Vec<_>>(), vec![Some("7")]);
        set.matches(b"ERROR code=7", &mut scratch, &mut out);
        assert_eq!(out[0].values(&scratch).collect::<Vec<_>>(), vec![None]);

        let mut set = FilterSet::new();
        set.add_with_values("[a, ..., b]", &["$b", "$2", "$9"]).unwrap();
        set.matches(b"1 2 3 4", &mut scratch, &mut out);
        assert_eq!(out[0].values(&scratch).collect::<Vec<_>>(), vec![Some("4"), Some("2"), None]);
        let pairs: Vec<_> = out[0].extracted(&scratch).collect();
        assert_eq!(pairs, vec![("$a", "1"), ("$2", "2"), ("$3", "3"), ("$b", "4")]);
    }

    #[test]
    fn value_selector_errors() {
        let mut set = FilterSet::new();
        let e = set.add_with_values("{ $.a = 1 }", &["$.a", "$a"]).unwrap_err();
        assert!(e.message().starts_with("value selector 2 ('$a')"), "{e}");
        let e = set.add_with_values("{ $.a = 1 }", &["$.a["]).unwrap_err();
        assert_eq!(e.position(), 4);
        assert!(set.add_with_values("[a]", &["$0"]).is_err());
        assert!(set.add_with_values("[a]", &["$.a"]).is_err());
        assert!(set.is_empty(), "failed adds leave the set unchanged");
    }

    #[test]
    fn positions_are_characters() {
        let e = FilterSet::new().add("{ $.ünïcode = 1 }").unwrap_err();
        assert_eq!(e.position(), 4);
        let e = FilterSet::new().add("\"é\" [x]").unwrap_err();
        assert_eq!(e.position(), 4);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let deep = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
        let mut set = FilterSet::new();
        set.add("{ $.a.a.a = 1 }").unwrap();
        set.add("[a, ...]").unwrap();
        set.add("%a|b%").unwrap();
        let _ = set.matching(deep.as_bytes());
        let _ = set.matching(b"\xff\xfe \"[ unclosed");
        let parens = format!("{{ {}$.a = 1{} }}", "(".repeat(400), ")".repeat(400));
        assert!(FilterSet::new().add(&parens).is_ok());
        for text in ["{", "[", "\"", "%", "{ $", "{ $.", "{ $.a", "{ $.a =", "[a =", "?", "-", "{ $.a[", "{ $.a[1"] {
            assert!(FilterSet::new().add(text).is_err(), "{text}");
        }
    }
}
