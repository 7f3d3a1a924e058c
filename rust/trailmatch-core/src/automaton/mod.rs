//! The matching engine: all rules of a [`Ruleset`] in one automaton.
//!
//! # Structure
//!
//! * **Paths** ([`FieldTree`]) — every field path some rule references, interned; the scanner
//!   walks the event guided by this tree and skips everything else.
//! * **Predicates** — a `(path, operator)` pair, shared by every rule that uses it. Each path's
//!   predicates sit in one `FieldMatcher` that maps a leaf value to the
//!   predicates it satisfies without looking at the others.
//! * **Branches** — a rule's `$or` alternatives, each a conjunction of field conditions. Each
//!   branch has one *key* field, its most selective one; the predicates of the key field list
//!   the branch (they *trigger* it).
//!
//! # Matching one event
//!
//! The scanner reports each leaf of a referenced path; the path's matcher yields the satisfied
//! predicates, whose per-event state is stamped; the first time a predicate is satisfied in
//! this event, the branches it triggers become *candidates*. After the scan, a candidate
//! matches if every other positive field has a satisfied predicate (a stamp lookup), its
//! `exists: false` paths saw no leaf and, when its fields sit inside arrays, one leaf per field
//! can be chosen array-consistently (module `consistency`). Branches with no positive field (only
//! `exists: false`) are checked directly.
//!
//! Triggering by one key field, not by every field, is what keeps the cost flat: a predicate
//! that many rules share (`source = aws.ec2`) triggers only the branches for which nothing more
//! selective exists, so the candidates are close to the actual matches. The key is the field
//! whose predicates are narrowest (operator kind) and least shared (how many rules use them);
//! keys are chosen again whenever the rule count has doubled, as sharing changes.
//!
//! All per-event state lives in a [`Scratch`] and is reset by bumping a generation counter,
//! so matching allocates nothing in steady state and touches only the state of satisfied
//! predicates. The cost of an event is therefore proportional to its bytes, the referenced
//! leaves it contains, the predicates those leaves satisfy and the candidates they trigger —
//! not to the number of rules (see docs/ARCHITECTURE.md).

mod consistency;
pub(crate) use consistency::{fields_before, solve, Absent, Set};
pub(crate) mod field;

use rustc_hash::FxHashMap;

use crate::error::{EventError, PatternError};
use crate::ir::{CompiledPattern, Condition, Op};
use crate::json::fields::{FieldTree, PathId};
use crate::json::scan::{scan_at, scan_with, Leaf, ScanScratch, Validation};
use crate::pattern::{compile_rule, Limits};
use crate::value::casefold;
use crate::value::ip::{self, Ip};
use crate::value::number::{comparable, order_key};
use field::{Effect, FieldMatcher, PredId};

/// Handle of a rule in a [`Ruleset`]; valid until the rule is removed.
pub type RuleId = u32;

type BranchId = u32;

#[derive(Debug)]
struct Pred {
    op: Op,
    path: PathId,
    /// Number of rule fields using this predicate.
    refs: u32,
}

#[derive(Debug)]
struct BranchEntry {
    rule: RuleId,
    alive: bool,
    /// Paths that must have no leaf.
    absent: Box<[PathId]>,
    absent_names: Box<[Box<[u8]>]>,
    /// For each absent path, the positive fields whose paths sort before it in Java string
    /// order: only those constrain where the absent path may not appear.
    absent_before: Box<[Set]>,
    /// Predicates of each positive field.
    fields: Box<[Box<[PredId]>]>,
    /// Index of the key field in `fields` (unused if there is none).
    key: usize,
    /// The anything-buts among `fields`' predicates (settled before the branch is checked).
    anything_buts: Box<[PredId]>,
}

#[derive(Debug)]
struct RuleEntry {
    name: Box<str>,
    seq: u64,
    branches: Vec<BranchId>,
    pattern: CompiledPattern,
}

/// A set of named event patterns compiled into one automaton.
///
/// # Example
///
/// ```
/// use trailmatch_core::Ruleset;
///
/// let mut rules = Ruleset::new();
/// rules.add("iam-changes", r#"{"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Attach"}]}}"#).unwrap();
/// rules.add("any-delete", r#"{"detail": {"eventName": [{"wildcard": "Delete*"}]}}"#).unwrap();
/// let event = br#"{"source": "aws.iam", "detail": {"eventName": "AttachUserPolicy"}}"#;
/// assert_eq!(rules.matches(event).unwrap(), vec!["iam-changes"]);
/// rules.remove("iam-changes");
/// assert!(rules.matches(event).unwrap().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Ruleset {
    limits: Limits,
    validation: Validation,
    /// A tree with no paths, to validate parts of events no rule reads.
    empty: FieldTree,
    tree: FieldTree,
    fields: Vec<FieldMatcher>,
    preds: Vec<Option<Pred>>,
    /// For each predicate, the branches whose key field includes it. Kept apart from `preds`
    /// (dense, small headers): satisfying a predicate reads only this and its state.
    triggers: Vec<Vec<BranchId>>,
    pred_ids: FxHashMap<(PathId, Op), PredId>,
    free_preds: Vec<PredId>,
    branches: Vec<BranchEntry>,
    dead_branches: usize,
    /// Live branch count at which keys are chosen again.
    rekey_at: usize,
    rules: Vec<Option<RuleEntry>>,
    free_rules: Vec<RuleId>,
    /// Each rule's `seq`, dense by id: matches are reported in the order rules were added.
    rule_seq: Vec<u64>,
    /// Some id was reused after a removal, so id order may differ from `seq` order.
    reused_ids: bool,
    by_name: FxHashMap<Box<str>, RuleId>,
    next_seq: u64,
    /// Branches with only `exists: false` conditions.
    absent_only: Vec<BranchId>,
    /// Per path: how many branches require it absent (its leaf contexts are then recorded).
    absent_watch: Vec<u32>,
    /// Per predicate: its path if it is an anything-but, else [`NOT_ANYTHING_BUT`].
    anything_but_path: Vec<PathId>,
    /// Per path: how many branches have an anything-but of that path in their key field. While
    /// none has, the path's anything-buts are evaluated lazily (see `on_leaf`).
    keyed_anything_buts: Vec<u32>,
    /// Live anything-but predicates (none: candidates have nothing to settle).
    anything_but_preds: usize,
}

/// [`Ruleset::anything_but_path`] of a predicate that is not an anything-but.
const NOT_ANYTHING_BUT: PathId = PathId::MAX;

impl Ruleset {
    /// An empty ruleset with EventBridge's default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty ruleset with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Ruleset { limits, ..Self::default() }
    }

    /// How much of each event is validated (see [`Validation`]); [`Validation::Full`] by
    /// default.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::{Ruleset, Validation};
    ///
    /// let mut rules = Ruleset::new();
    /// rules.add("r", r#"{"source": ["aws.iam"]}"#).unwrap();
    /// // Garbage after the last field any rule reads: an error, unless validation is lazy.
    /// let event = br#"{"source": "aws.iam", "detail": {"x": tru}}"#;
    /// assert!(rules.matches(event).is_err());
    /// rules.set_validation(Validation::Lazy);
    /// assert_eq!(rules.matches(event).unwrap(), vec!["r"]);
    /// ```
    pub fn set_validation(&mut self, validation: Validation) {
        self.validation = validation;
    }

    /// The validation mode.
    pub fn validation(&self) -> Validation {
        self.validation
    }

    /// The limits patterns are compiled with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles `pattern` and adds it under `name`, replacing any rule of that name.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the pattern is invalid; the ruleset is then unchanged.
    pub fn add(&mut self, name: &str, pattern: &str) -> Result<RuleId, PatternError> {
        self.add_bytes(name, pattern.as_bytes())
    }

    /// [`add`](Self::add) for pattern text given as bytes (must be UTF-8).
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the pattern is invalid.
    pub fn add_bytes(&mut self, name: &str, pattern: &[u8]) -> Result<RuleId, PatternError> {
        let compiled = compile_rule(Some(name), pattern, &self.limits)?;
        Ok(self.add_compiled(name, compiled))
    }

    /// Adds an already compiled pattern under `name`, replacing any rule of that name.
    pub fn add_compiled(&mut self, name: &str, pattern: CompiledPattern) -> RuleId {
        self.remove(name);
        let rule = match self.free_rules.pop() {
            Some(id) => {
                self.reused_ids = true;
                id
            }
            None => {
                self.rules.push(None);
                self.rule_seq.push(0);
                (self.rules.len() - 1) as RuleId
            }
        };
        let mut branch_ids = Vec::with_capacity(pattern.branches.len());
        for branch in &pattern.branches {
            let id = self.branches.len() as BranchId;
            let positive: Vec<_> =
                branch.fields.iter().filter(|f| matches!(f.condition, Condition::AnyOf(_))).collect();
            let mut fields = Vec::with_capacity(positive.len());
            for fc in &positive {
                let Condition::AnyOf(ops) = &fc.condition else { unreachable!() };
                let preds: Vec<PredId> = ops.iter().map(|op| self.intern_pred(&fc.path, op)).collect();
                fields.push(preds.into_boxed_slice());
            }
            let key = self.choose_key(&fields);
            if let Some(preds) = fields.get(key) {
                for &p in preds {
                    self.add_trigger(p, id);
                }
            }
            let mut absent = Vec::new();
            let mut absent_names = Vec::new();
            let mut absent_before = Vec::new();
            for fc in &branch.fields {
                if fc.condition == Condition::Absent {
                    let path = self.intern_path(&fc.path);
                    self.absent_watch[path as usize] += 1;
                    absent.push(path);
                    absent_names.push(fc.path.clone());
                    let before = fields_before(branch, &fc.path);
                    absent_before.push(before);
                }
            }
            if fields.is_empty() {
                self.absent_only.push(id);
            }
            let anything_buts = fields
                .iter()
                .flat_map(|preds| preds.iter().copied())
                .filter(|&p| self.anything_but_path[p as usize] != NOT_ANYTHING_BUT)
                .collect();
            self.branches.push(BranchEntry {
                rule,
                alive: true,
                absent: absent.into(),
                absent_names: absent_names.into(),
                absent_before: absent_before.into(),
                fields: fields.into(),
                key,
                anything_buts,
            });
            branch_ids.push(id);
        }
        self.next_seq += 1;
        self.rule_seq[rule as usize] = self.next_seq;
        self.rules[rule as usize] =
            Some(RuleEntry { name: name.into(), seq: self.next_seq, branches: branch_ids, pattern });
        self.by_name.insert(name.into(), rule);
        let live = self.branches.len() - self.dead_branches;
        if live >= self.rekey_at {
            self.rekey();
            self.rekey_at = (live * 2).max(64);
        }
        rule
    }

    /// How broad an operator is: roughly how often it holds for a leaf it sees.
    fn broadness(op: &Op) -> u64 {
        match op {
            Op::ExactString(_) | Op::Number(_) | Op::IgnoreCase(crate::value::casefold::Anchor::Whole, _) => 1,
            Op::Ip(crate::value::ip::IpRange::V4(lo, hi)) if lo == hi => 1,
            Op::Ip(crate::value::ip::IpRange::V6(lo, hi)) if lo == hi => 1,
            Op::Prefix(s) | Op::Suffix(s) | Op::IgnoreCase(_, s) if s.len() >= 4 => 4,
            Op::Wildcard(w) if matches!(w.pieces().first(), Some(crate::value::wildcard::Piece::Literal(_))) => 4,
            Op::Ip(_) | Op::NumericRange { .. } | Op::Wildcard(_) => 16,
            Op::True | Op::False | Op::Null | Op::Prefix(_) | Op::Suffix(_) | Op::IgnoreCase(..) => 64,
            Op::Exists | Op::AnythingBut(_) => 1024,
        }
    }

    /// The most selective positive field: narrowest operators, least shared predicates.
    fn choose_key(&self, fields: &[Box<[PredId]>]) -> usize {
        let score = |preds: &[PredId]| -> u64 {
            preds
                .iter()
                .map(|&p| {
                    let pred = self.preds[p as usize].as_ref().expect("live predicate");
                    Self::broadness(&pred.op) * u64::from(pred.refs)
                })
                .sum()
        };
        (0..fields.len()).min_by_key(|&i| score(&fields[i])).unwrap_or(0)
    }

    /// Chooses every branch's key again (sharing changes as rules are added).
    fn rekey(&mut self) {
        self.clear_triggers();
        for b in 0..self.branches.len() {
            if !self.branches[b].alive || self.branches[b].fields.is_empty() {
                continue;
            }
            let key = self.choose_key(&self.branches[b].fields);
            self.branches[b].key = key;
            for i in 0..self.branches[b].fields[key].len() {
                let p = self.branches[b].fields[key][i];
                self.add_trigger(p, b as BranchId);
            }
        }
    }

    /// Makes branch `b` a candidate whenever predicate `p` is satisfied.
    fn add_trigger(&mut self, p: PredId, b: BranchId) {
        self.triggers[p as usize].push(b);
        let path = self.anything_but_path[p as usize];
        if path != NOT_ANYTHING_BUT {
            self.keyed_anything_buts[path as usize] += 1;
        }
    }

    /// Undoes [`add_trigger`](Self::add_trigger).
    fn remove_trigger(&mut self, p: PredId, b: BranchId) {
        let triggers = &mut self.triggers[p as usize];
        if let Some(i) = triggers.iter().position(|&t| t == b) {
            triggers.swap_remove(i);
            let path = self.anything_but_path[p as usize];
            if path != NOT_ANYTHING_BUT {
                self.keyed_anything_buts[path as usize] -= 1;
            }
        }
    }

    fn clear_triggers(&mut self) {
        for t in &mut self.triggers {
            t.clear();
        }
        self.keyed_anything_buts.iter_mut().for_each(|n| *n = 0);
    }

    fn intern_path(&mut self, path: &[u8]) -> PathId {
        let id = self.tree.intern(path);
        if self.fields.len() <= id as usize {
            self.fields.resize_with(id as usize + 1, FieldMatcher::default);
            self.absent_watch.resize(id as usize + 1, 0);
            self.keyed_anything_buts.resize(id as usize + 1, 0);
        }
        id
    }

    fn intern_pred(&mut self, path: &[u8], op: &Op) -> PredId {
        if let Some(&p) = self.tree.id(path).and_then(|pid| self.pred_ids.get(&(pid, op.clone()))) {
            self.preds[p as usize].as_mut().expect("live").refs += 1;
            return p;
        }
        let path_id = self.intern_path(path);
        let p = match self.free_preds.pop() {
            Some(p) => p,
            None => {
                self.preds.push(None);
                self.triggers.push(Vec::new());
                self.anything_but_path.push(NOT_ANYTHING_BUT);
                (self.preds.len() - 1) as PredId
            }
        };
        self.anything_but_path[p as usize] = if matches!(op, Op::AnythingBut(_)) {
            self.anything_but_preds += 1;
            path_id
        } else {
            NOT_ANYTHING_BUT
        };
        self.fields[path_id as usize].insert(p, op);
        self.preds[p as usize] = Some(Pred { op: op.clone(), path: path_id, refs: 1 });
        self.triggers[p as usize].clear();
        self.pred_ids.insert((path_id, op.clone()), p);
        p
    }

    fn release_pred(&mut self, p: PredId) {
        let pred = self.preds[p as usize].as_mut().expect("live predicate");
        pred.refs -= 1;
        if pred.refs > 0 {
            return;
        }
        let pred = self.preds[p as usize].take().expect("live predicate");
        if self.anything_but_path[p as usize] != NOT_ANYTHING_BUT {
            self.anything_but_preds -= 1;
            self.anything_but_path[p as usize] = NOT_ANYTHING_BUT;
        }
        self.fields[pred.path as usize].remove(p, &pred.op);
        self.pred_ids.remove(&(pred.path, pred.op));
        self.free_preds.push(p);
        let name = self.tree.name(pred.path).to_vec();
        self.tree.release(&name);
    }

    /// Removes the rule called `name`; returns whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(rule) = self.by_name.remove(name) else {
            return false;
        };
        let entry = self.rules[rule as usize].take().expect("named rules are live");
        for b in entry.branches {
            let fields = std::mem::take(&mut self.branches[b as usize].fields);
            if let Some(key) = fields.get(self.branches[b as usize].key) {
                for &p in key {
                    self.remove_trigger(p, b);
                }
            }
            for preds in &fields {
                for &p in preds {
                    self.release_pred(p);
                }
            }
            let names = std::mem::take(&mut self.branches[b as usize].absent_names);
            for (n, &p) in names.iter().zip(self.branches[b as usize].absent.iter()) {
                self.absent_watch[p as usize] -= 1;
                self.tree.release(n);
            }
            self.branches[b as usize].alive = false;
            self.branches[b as usize].absent = Box::new([]);
            self.branches[b as usize].anything_buts = Box::new([]);
            self.dead_branches += 1;
        }
        self.absent_only.retain(|&b| self.branches[b as usize].alive);
        self.free_rules.push(rule);
        if self.dead_branches > 1024 && self.dead_branches > self.branches.len() / 2 {
            self.compact();
        }
        true
    }

    /// Renumbers live branches densely after many removals.
    fn compact(&mut self) {
        let mut new_id = vec![u32::MAX; self.branches.len()];
        let mut kept = Vec::with_capacity(self.branches.len() - self.dead_branches);
        for (old, b) in std::mem::take(&mut self.branches).into_iter().enumerate() {
            if b.alive {
                new_id[old] = kept.len() as u32;
                kept.push(b);
            }
        }
        self.branches = kept;
        self.dead_branches = 0;
        self.clear_triggers();
        for bid in 0..self.branches.len() {
            let key = self.branches[bid].key;
            for i in 0..self.branches[bid].fields.get(key).map_or(0, |k| k.len()) {
                let p = self.branches[bid].fields[key][i];
                if self.preds[p as usize].is_some() {
                    self.add_trigger(p, bid as BranchId);
                }
            }
        }
        for rule in self.rules.iter_mut().flatten() {
            for b in &mut rule.branches {
                *b = new_id[*b as usize];
            }
        }
        for b in &mut self.absent_only {
            *b = new_id[*b as usize];
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True if there are no rules.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// True if a rule called `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The id of the rule called `name`.
    pub fn id(&self, name: &str) -> Option<RuleId> {
        self.by_name.get(name).copied()
    }

    /// The name of a live rule.
    ///
    /// # Panics
    ///
    /// If `id` is not a live rule.
    pub fn name(&self, id: RuleId) -> &str {
        &self.rules[id as usize].as_ref().expect("live rule").name
    }

    /// The compiled pattern of the rule called `name`.
    pub fn pattern(&self, name: &str) -> Option<&CompiledPattern> {
        self.by_name.get(name).and_then(|&id| self.rules[id as usize].as_ref()).map(|r| &r.pattern)
    }

    /// Names of all rules, in the order they were (last) added.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<(u64, &str)> = self.rules.iter().flatten().map(|r| (r.seq, &*r.name)).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, n)| n).collect()
    }

    /// Names of the rules that match `event` (UTF-8 JSON object text), in the order the rules
    /// were added. Convenient, but allocates; see [`matches_with`](Self::matches_with).
    ///
    /// # Errors
    ///
    /// An [`EventError`] if the event is not a UTF-8 JSON object.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<&str>, EventError> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        self.matches_with(event, &mut scratch, &mut out)?;
        Ok(out.into_iter().map(|id| self.name(id)).collect())
    }

    /// Replaces `out` with the ids of the rules that match `event`, in the order the rules were
    /// added. With a reused `scratch` this allocates nothing in steady state.
    ///
    /// # Errors
    ///
    /// An [`EventError`] if the event is not a UTF-8 JSON object; `out` is then empty.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::{Ruleset, Scratch};
    ///
    /// let mut rules = Ruleset::new();
    /// let id = rules.add("big", r#"{"size": [{"numeric": [">", 100]}]}"#).unwrap();
    /// let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    /// for event in [&br#"{"size": 5}"#[..], br#"{"size": 1e3}"#] {
    ///     rules.matches_with(event, &mut scratch, &mut out).unwrap();
    /// }
    /// assert_eq!(out, vec![id]);
    /// ```
    pub fn matches_with(&self, event: &[u8], scratch: &mut Scratch, out: &mut Vec<RuleId>) -> Result<(), EventError> {
        out.clear();
        let st = &mut scratch.state;
        st.begin(self);
        let result = scan_with(event, &self.tree, self.validation, &mut scratch.scan, &mut |path, leaf, ctx| {
            self.on_leaf(path, leaf, ctx, st);
        });
        result?;
        self.finish(scratch, out);
        Ok(())
    }

    /// Matches an event given in parts, without building it: top-level string `fields`, and
    /// `detail`, an object's JSON text scanned in place as the value of the top-level key
    /// `detail` (see [`Ruleset::matches_envelope`]). With full validation `detail` is validated
    /// even when no rule reads it.
    ///
    /// # Errors
    ///
    /// An [`EventError`] if `detail` is not a JSON object.
    pub fn matches_parts(
        &self,
        fields: &[(&[u8], &str)],
        detail: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        self.matches_keyed_parts(fields.len(), |i| fields[i].0, |i| fields[i].1, detail, scratch, out)
    }

    /// [`matches_parts`](Self::matches_parts) with `count` top-level fields given by their
    /// `key` and `value` functions: a value is asked for only when a rule reads its key (an
    /// envelope's `id`, a UUID to compute, seldom is).
    pub(crate) fn matches_keyed_parts<'v>(
        &self,
        count: usize,
        key: impl Fn(usize) -> &'v [u8],
        value: impl Fn(usize) -> &'v str,
        detail: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        out.clear();
        let st = &mut scratch.state;
        st.begin(self);
        for i in 0..count {
            if let Some(path) = self.tree.child(FieldTree::ROOT, key(i)).and_then(|n| self.tree.path_at(n)) {
                self.on_leaf(path, Leaf::Str(value(i).as_bytes()), 0, st);
            }
        }
        let mut sink = |path: PathId, leaf: Leaf<'_>, ctx: u32| self.on_leaf(path, leaf, ctx, st);
        let result = match self.tree.child(FieldTree::ROOT, b"detail") {
            Some(node) => scan_at(detail, &self.tree, node, self.validation, &mut scratch.scan, &mut sink),
            None if self.validation == Validation::Full => {
                scan_at(detail, &self.empty, FieldTree::ROOT, Validation::Full, &mut scratch.scan, &mut sink)
            }
            None => Ok(()),
        };
        result?;
        self.finish(scratch, out);
        Ok(())
    }

    /// After the leaves of an event: checks the candidates and the absent-only branches.
    fn finish(&self, scratch: &mut Scratch, out: &mut Vec<RuleId>) {
        let st = &mut scratch.state;
        let ctxs = &scratch.scan.ctxs;
        let gen = st.gen;
        let mut candidates = std::mem::take(&mut st.candidates);
        if self.anything_but_preds > 0 {
            for &b in &candidates {
                for &p in &self.branches[b as usize].anything_buts {
                    self.settle_anything_but(p, st);
                }
            }
        }
        'candidates: for &b in &candidates {
            let entry = &self.branches[b as usize];
            // The key field holds (it triggered the branch); every other field needs a
            // satisfied predicate too.
            for (i, preds) in entry.fields.iter().enumerate() {
                if i != entry.key && !preds.iter().any(|&p| st.preds[p as usize].gen == gen) {
                    continue 'candidates;
                }
            }
            // An absent path with a leaf fails the branch, unless every such leaf sits in an
            // array and fields sorting before the path may pin other elements (see
            // `consistency`): then it takes the full check.
            let mut search = false;
            for (j, &p) in entry.absent.iter().enumerate() {
                if st.present[p as usize] != gen {
                    continue;
                }
                if st.absent_root[p as usize] == gen || entry.absent_before[j] == [0u64; 4] {
                    continue 'candidates;
                }
                search = true;
            }
            if (search || (st.any_array_hits && entry.fields.len() > 1)) && !arrays_ok(entry, st, ctxs, search) {
                continue;
            }
            st.emit(entry.rule);
        }
        candidates.clear();
        st.candidates = candidates;
        for &b in &self.absent_only {
            let entry = &self.branches[b as usize];
            if !entry.absent.iter().any(|&p| st.present[p as usize] == gen) {
                st.emit(entry.rule);
            }
        }
        let n = st.matched.len();
        if self.reused_ids {
            out.extend(st.matched.iter().copied());
            out.sort_unstable_by_key(|&r| self.rule_seq[r as usize]);
        } else if n >= 16 {
            // Ids were handed out in the order rules were added: set their bits, then read the
            // words between the smallest and the largest back in order (and clear them).
            let (mut lo, mut hi) = (usize::MAX, 0);
            for &r in &st.matched {
                let w = r as usize >> 6;
                st.match_bits[w] |= 1 << (r & 63);
                lo = lo.min(w);
                hi = hi.max(w);
            }
            for (w, word) in st.match_bits[lo..=hi].iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                while bits != 0 {
                    out.push(((lo + w) << 6) as RuleId + bits.trailing_zeros());
                    bits &= bits - 1;
                }
            }
        } else {
            out.extend(st.matched.iter().copied());
            out.sort_unstable();
        }
        st.matched.clear();
    }

    /// Handles one leaf of a referenced path.
    #[inline]
    fn on_leaf(&self, path: PathId, leaf: Leaf<'_>, ctx: u32, st: &mut MatchState) {
        if matches!(leaf, Leaf::Object | Leaf::Array) {
            // Only exact trees report containers; EventBridge matches leaf values only.
            return;
        }
        st.present[path as usize] = st.gen;
        if self.absent_watch[path as usize] > 0 {
            if ctx == 0 {
                st.absent_root[path as usize] = st.gen;
            } else {
                st.absent_hits.push((path, ctx));
            }
        }
        let fm = &self.fields[path as usize];
        st.next_leaf();
        // Anything-buts are satisfied by almost every leaf, so marking each one satisfied costs
        // a write per predicate per leaf (a hundred anything-buts on `eventName`: a hundred
        // per event). While none of the path's anything-buts is a branch's key, a leaf outside
        // arrays is only counted, with the anything-buts it excludes; a candidate branch asks
        // for the few it needs when it is checked (`settle_anything_but`). Leaves in arrays,
        // whose contexts matter, still mark them one by one.
        let lazy = ctx == 0
            && (!fm.anything_but_strings.is_empty() || !fm.anything_but_numbers.is_empty())
            && self.keyed_anything_buts[path as usize] == 0;
        if lazy {
            let gen = st.gen;
            let leaves = &mut st.root_leaves[path as usize];
            if leaves.0 != gen {
                *leaves = (gen, 0);
            }
            leaves.1 += 1;
        }
        let apply = |e: Effect, st: &mut MatchState| {
            if e.is_exclude() {
                let p = e.pred() as usize;
                if lazy && st.excluded[p] != st.leaf_gen {
                    let gen = st.gen;
                    let excluded = &mut st.root_excluded[p];
                    if excluded.0 != gen {
                        *excluded = (gen, 0);
                    }
                    excluded.1 += 1;
                }
                st.excluded[p] = st.leaf_gen;
            } else {
                self.satisfy(e.pred(), ctx, st);
            }
        };
        match leaf {
            Leaf::Str(s) => {
                if !fm.strings.is_empty() {
                    if let Some(effects) = fm.strings.get(s) {
                        for &e in effects {
                            apply(e, st);
                        }
                    }
                }
                if !fm.folded.is_empty() {
                    let mut buf = std::mem::take(&mut st.fold_buf);
                    field::fold_into(s, &mut buf);
                    if let Some(effects) = fm.folded.get(&buf[..]) {
                        for &e in effects {
                            apply(e, st);
                        }
                    }
                    st.fold_buf = buf;
                }
                if fm.wants_built {
                    let built = fm.built();
                    if fm.wants_ips {
                        match ip::parse(s) {
                            Some(Ip::V4(a)) => built.ip4.stab(a, |p| self.satisfy(p, ctx, st)),
                            Some(Ip::V6(a)) => built.ip6.stab(a, |p| self.satisfy(p, ctx, st)),
                            None => {}
                        }
                    }
                    if !built.prefixes.is_empty() {
                        built.prefixes.walk(s.iter().copied(), |e| apply(e, st));
                    }
                    if !built.suffixes.is_empty() {
                        built.suffixes.walk(s.iter().rev().copied(), |e| apply(e, st));
                    }
                    if !built.folded_prefixes.is_empty() {
                        built.folded_prefixes.walk(s.iter().map(u8::to_ascii_lowercase), |e| apply(e, st));
                    }
                    if !built.folded_suffixes.is_empty() {
                        built.folded_suffixes.walk(s.iter().rev().map(u8::to_ascii_lowercase), |e| apply(e, st));
                    }
                    if let Some(globs) = &built.globs {
                        let mut candidates = std::mem::take(&mut st.glob_candidates);
                        globs.find(s, &mut candidates, |e| apply(e, st));
                        st.glob_candidates = candidates;
                    }
                    for chunk in &built.casefold {
                        match chunk {
                            field::CasefoldChunk::Regex { build_id, regex, effects } => {
                                let mut ids = std::mem::take(&mut st.pattern_ids);
                                ids.clear();
                                let scratch = st.casefold.entry(*build_id).or_insert_with(|| RegexScratch {
                                    cache: regex.create_cache(),
                                    hits: regex_automata::PatternSet::new(regex.pattern_len()),
                                });
                                let input = regex_automata::Input::new(s).anchored(regex_automata::Anchored::Yes);
                                scratch.hits.clear();
                                regex.which_overlapping_matches_with(&mut scratch.cache, &input, &mut scratch.hits);
                                ids.extend(scratch.hits.iter().map(|p| p.as_usize()));
                                for &i in &ids {
                                    apply(effects[i], st);
                                }
                                st.pattern_ids = ids;
                            }
                            field::CasefoldChunk::Direct(patterns) => {
                                for (anchor, pattern, effect) in patterns {
                                    if casefold::matches(pattern, s, *anchor) {
                                        apply(*effect, st);
                                    }
                                }
                            }
                        }
                    }
                }
                for &p in &fm.exists {
                    self.satisfy(p, ctx, st);
                }
                if !lazy {
                    for &p in &fm.anything_but_strings {
                        if st.excluded[p as usize] != st.leaf_gen {
                            self.satisfy(p, ctx, st);
                        }
                    }
                    for &p in &fm.anything_but_numbers {
                        self.satisfy(p, ctx, st);
                    }
                }
            }
            Leaf::Num(raw) => {
                if fm.wants_numbers || !fm.anything_but_numbers.is_empty() {
                    match comparable(raw) {
                        Some(v) => {
                            let key = order_key(v);
                            if let Some(effects) = fm.numbers.get(&key) {
                                for &e in effects {
                                    apply(e, st);
                                }
                            }
                            if fm.wants_built {
                                fm.built().ranges.stab(key, |p| self.satisfy(p, ctx, st));
                            }
                        }
                        None => {
                            if let Some(effects) = fm.number_texts.get(raw) {
                                for &e in effects {
                                    apply(e, st);
                                }
                            }
                        }
                    }
                }
                for &p in &fm.exists {
                    self.satisfy(p, ctx, st);
                }
                if !lazy {
                    for &p in &fm.anything_but_numbers {
                        if st.excluded[p as usize] != st.leaf_gen {
                            self.satisfy(p, ctx, st);
                        }
                    }
                    for &p in &fm.anything_but_strings {
                        self.satisfy(p, ctx, st);
                    }
                }
            }
            Leaf::True | Leaf::False | Leaf::Null => {
                let list = match leaf {
                    Leaf::True => &fm.on_true,
                    Leaf::False => &fm.on_false,
                    _ => &fm.on_null,
                };
                for &p in list.iter().chain(&fm.exists) {
                    self.satisfy(p, ctx, st);
                }
                if !lazy {
                    for &p in fm.anything_but_strings.iter().chain(&fm.anything_but_numbers) {
                        self.satisfy(p, ctx, st);
                    }
                }
            }
            Leaf::Object | Leaf::Array => {}
        }
    }

    /// Marks a lazily evaluated anything-but satisfied (outside arrays) if a leaf of its path
    /// outside arrays did not exclude it; anything else is left as it is.
    #[inline]
    fn settle_anything_but(&self, p: PredId, st: &mut MatchState) {
        let path = self.anything_but_path[p as usize];
        if path == NOT_ANYTHING_BUT || self.keyed_anything_buts[path as usize] != 0 {
            return;
        }
        let gen = st.gen;
        let (leaves_gen, leaves) = st.root_leaves[path as usize];
        if leaves_gen != gen {
            return;
        }
        let (excluded_gen, excluded) = st.root_excluded[p as usize];
        if leaves > if excluded_gen == gen { excluded } else { 0 } {
            let ps = &mut st.preds[p as usize];
            if ps.gen != gen {
                ps.gen = gen;
                ps.first_hit = NO_HIT;
            }
            ps.root = true;
        }
    }

    /// Records that predicate `p` is satisfied by a leaf in context `ctx`.
    #[inline]
    fn satisfy(&self, p: PredId, ctx: u32, st: &mut MatchState) {
        let gen = st.gen;
        let ps = &mut st.preds[p as usize];
        let first = ps.gen != gen;
        if first {
            ps.gen = gen;
            ps.root = false;
            ps.first_hit = NO_HIT;
        }
        if ctx == 0 {
            ps.root = true;
        } else {
            st.any_array_hits = true;
            let next = ps.first_hit;
            ps.first_hit = st.hits.len() as u32;
            st.hits.push((ctx, next));
        }
        if !first {
            return;
        }
        for &b in &self.triggers[p as usize] {
            let bs = &mut st.branches[b as usize];
            if *bs != gen {
                *bs = gen;
                st.candidates.push(b);
            }
        }
    }
}

/// Whether the branch's fields can be taken from consistent array elements (and its
/// absent paths stay absent there when `search`).
fn arrays_ok(entry: &BranchEntry, st: &MatchState, ctxs: &[crate::json::scan::Ctx], search: bool) -> bool {
    let gen = st.gen;
    let mut hits: Vec<(usize, u32)> = Vec::new();
    let mut fields = 0;
    for preds in &entry.fields {
        let live = preds.iter().filter(|&&p| st.preds[p as usize].gen == gen);
        let root = live.clone().any(|&p| st.preds[p as usize].root);
        if root && !search {
            // A leaf outside every array combines with anything.
            continue;
        }
        if root {
            hits.push((fields, 0));
        }
        for &p in live {
            let mut h = st.preds[p as usize].first_hit;
            while h != NO_HIT {
                let (ctx, next) = st.hits[h as usize];
                hits.push((fields, ctx));
                h = next;
            }
        }
        fields += 1;
    }
    if !search {
        return fields < 2 || solve(ctxs, &hits, fields, &[]);
    }
    let absents: Vec<Absent> = entry
        .absent
        .iter()
        .zip(entry.absent_before.iter())
        .filter(|(&p, _)| st.present[p as usize] == gen)
        .map(|(&p, &before)| Absent {
            before,
            leaves: st.absent_hits.iter().filter(|(q, _)| *q == p).map(|(_, c)| *c).collect(),
        })
        .collect();
    solve(ctxs, &hits, fields, &absents)
}

const NO_HIT: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, Default)]
struct PredState {
    gen: u32,
    root: bool,
    first_hit: u32,
}

#[derive(Debug)]
struct RegexScratch {
    cache: regex_automata::meta::Cache,
    hits: regex_automata::PatternSet,
}

/// Per-event working memory; generation-stamped so nothing is cleared between events.
#[derive(Debug, Default)]
struct MatchState {
    gen: u32,
    leaf_gen: u32,
    preds: Vec<PredState>,
    excluded: Vec<u32>,
    branches: Vec<u32>,
    present: Vec<u32>,
    absent_root: Vec<u32>,
    absent_hits: Vec<(PathId, u32)>,
    rules: Vec<u32>,
    hits: Vec<(u32, u32)>,
    candidates: Vec<BranchId>,
    matched: Vec<RuleId>,
    /// One bit per rule id, all clear between events: many matches are put in order by
    /// setting their bits and reading the words back, not by sorting.
    match_bits: Vec<u64>,
    any_array_hits: bool,
    /// Regex caches of the non-ASCII ignore-case automata, by build id.
    casefold: FxHashMap<u64, RegexScratch>,
    pattern_ids: Vec<usize>,
    fold_buf: Vec<u8>,
    glob_candidates: Vec<u32>,
    /// Per path with lazily evaluated anything-buts: (generation, leaves outside arrays).
    root_leaves: Vec<(u32, u32)>,
    /// Per lazily evaluated anything-but: (generation, leaves outside arrays it excluded).
    root_excluded: Vec<(u32, u32)>,
}

impl MatchState {
    fn begin(&mut self, rules: &Ruleset) {
        fn fit<T: Clone + Default>(v: &mut Vec<T>, n: usize) {
            if v.len() < n {
                v.resize(n, T::default());
            }
        }
        fit(&mut self.preds, rules.preds.len());
        fit(&mut self.excluded, rules.preds.len());
        fit(&mut self.branches, rules.branches.len());
        fit(&mut self.present, rules.fields.len());
        fit(&mut self.absent_root, rules.fields.len());
        fit(&mut self.root_leaves, rules.fields.len());
        fit(&mut self.root_excluded, rules.preds.len());
        fit(&mut self.rules, rules.rules.len());
        fit(&mut self.match_bits, rules.rules.len().div_ceil(64));
        if self.casefold.len() > 4096 {
            // Caches of automata that were rebuilt since; drop them all and start over.
            self.casefold.clear();
        }
        if self.gen == u32::MAX {
            // Generation wrap-around: forget every stamp.
            self.preds.iter_mut().for_each(|p| p.gen = 0);
            self.branches.iter_mut().for_each(|b| *b = 0);
            self.present.iter_mut().for_each(|p| *p = 0);
            self.absent_root.iter_mut().for_each(|p| *p = 0);
            self.root_leaves.iter_mut().for_each(|p| p.0 = 0);
            self.root_excluded.iter_mut().for_each(|p| p.0 = 0);
            self.rules.iter_mut().for_each(|r| *r = 0);
            self.gen = 0;
        }
        self.gen += 1;
        self.hits.clear();
        self.absent_hits.clear();
        self.candidates.clear();
        self.matched.clear();
        self.any_array_hits = false;
    }

    #[inline]
    fn next_leaf(&mut self) {
        if self.leaf_gen == u32::MAX {
            self.excluded.iter_mut().for_each(|e| *e = 0);
            self.leaf_gen = 0;
        }
        self.leaf_gen += 1;
    }

    fn emit(&mut self, rule: RuleId) {
        if self.rules[rule as usize] != self.gen {
            self.rules[rule as usize] = self.gen;
            self.matched.push(rule);
        }
    }
}

/// Reusable per-thread working memory for [`Ruleset::matches_with`].
///
/// A scratch may be used with any ruleset (it adapts its sizes), but not by two threads at
/// once; give each thread its own.
#[derive(Debug, Default)]
pub struct Scratch {
    scan: ScanScratch,
    state: MatchState,
}

/// Tests one pattern against one event, like EventBridge's `TestEventPattern` (any JSON object
/// is accepted as the event).
///
/// # Errors
///
/// [`Error::Pattern`] if the pattern is invalid, [`Error::Event`] if the event is not a JSON
/// object.
///
/// # Example
///
/// ```
/// use trailmatch_core::test_event_pattern;
///
/// assert!(test_event_pattern(r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, br#"{"ip": "10.0.0.33"}"#).unwrap());
/// assert!(!test_event_pattern(r#"{"a": [5]}"#, br#"{"a": "5"}"#).unwrap());
/// ```
pub fn test_event_pattern(pattern: &str, event: &[u8]) -> Result<bool, Error> {
    let mut rules = Ruleset::new();
    rules.add("pattern", pattern).map_err(Error::Pattern)?;
    Ok(!rules.matches(event).map_err(Error::Event)?.is_empty())
}

/// Either kind of input error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The pattern is invalid.
    Pattern(PatternError),
    /// The event is not a UTF-8 JSON object.
    Event(EventError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Pattern(e) => e.fmt(f),
            Error::Event(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_come_in_the_order_rules_were_added_also_after_ids_are_reused() {
        let mut rules = Ruleset::new();
        let event = br#"{"source": "aws.s3", "detail": {"eventName": "GetObject"}}"#;
        for name in ["a", "b", "c", "d"] {
            rules.add(name, r#"{"source": ["aws.s3"]}"#).unwrap();
        }
        assert_eq!(rules.matches(event).unwrap(), ["a", "b", "c", "d"]);
        // "e" takes the id "b" had; "b" comes back with a new one: both go last, in order.
        assert!(rules.remove("b"));
        rules.add("e", r#"{"detail": {"eventName": ["GetObject"]}}"#).unwrap();
        rules.add("b", r#"{"source": ["aws.s3"]}"#).unwrap();
        assert_eq!(rules.matches(event).unwrap(), ["a", "c", "d", "e", "b"]);
        // Re-adding a rule under its name moves it to the end.
        rules.add("a", r#"{"source": ["aws.s3"]}"#).unwrap();
        assert_eq!(rules.matches(event).unwrap(), ["c", "d", "e", "b", "a"]);
    }

    #[test]
    fn many_matches_come_in_order_across_bit_words() {
        // Enough matches to take the bitmap path; ids spread over several words, every third
        // rule matching, and a second event to show the bits were cleared.
        let mut rules = Ruleset::new();
        for i in 0..500 {
            let source = if i % 3 == 0 { "aws.s3" } else { "aws.ec2" };
            rules.add(&format!("r{i:03}"), &format!(r#"{{"source": ["{source}"]}}"#)).unwrap();
        }
        let s3: Vec<String> = (0..500).filter(|i| i % 3 == 0).map(|i| format!("r{i:03}")).collect();
        let ec2: Vec<String> = (0..500).filter(|i| i % 3 != 0).map(|i| format!("r{i:03}")).collect();
        let (mut scratch, mut out) = (Scratch::default(), Vec::new());
        let mut names = |event: &[u8]| {
            rules.matches_with(event, &mut scratch, &mut out).unwrap();
            out.iter().map(|&id| rules.name(id).to_owned()).collect::<Vec<_>>()
        };
        for _ in 0..2 {
            assert_eq!(names(br#"{"source": "aws.s3"}"#), s3);
            assert_eq!(names(br#"{"source": "aws.ec2"}"#), ec2);
        }
    }
}

#[cfg(test)]
mod lazy_anything_but_tests {
    use super::*;

    /// Anything-buts evaluated lazily (none of their path's is a key) and eagerly (one is, made
    /// so by a rule whose only field is an anything-but) give the same matches, on leaves
    /// outside and inside arrays, duplicate keys, dotted keys, every kind of value, and
    /// exclusions that overlap (one leaf excluded by two prefixes of the same predicate).
    #[test]
    fn lazy_and_eager_anything_buts_agree() {
        let rules = [
            ("s", r#"{"k": ["1"], "a": [{"anything-but": ["x", "y"]}]}"#),
            ("p", r#"{"k": ["1"], "a": [{"anything-but": {"prefix": "ab"}}]}"#),
            ("pp", r#"{"k": ["1"], "a": [{"anything-but": {"prefix": ["a", "ab"]}}]}"#),
            ("n", r#"{"k": ["1"], "a": [{"anything-but": [5, 7]}]}"#),
            ("ic", r#"{"k": ["1"], "a": [{"anything-but": {"equals-ignore-case": "X"}}]}"#),
            ("w", r#"{"k": ["1"], "a": [{"anything-but": {"wildcard": "a*c"}}]}"#),
            ("or", r#"{"k": ["1"], "a": [{"anything-but": "x"}, "x"]}"#),
            ("arr", r#"{"k": ["1"], "b": {"c": [{"anything-but": "x"}], "d": ["1"]}}"#),
        ];
        let values = [r#""x""#, r#""y""#, r#""abc""#, r#""ac""#, r#""X""#, "5", "6", "true", "null", r#""""#];
        let mut events = Vec::new();
        for v in values {
            for w in values {
                events.push(format!(r#"{{"k": "1", "a": {v}}}"#));
                events.push(format!(r#"{{"k": "1", "a": {v}, "a": {w}}}"#));
                events.push(format!(r#"{{"k": "1", "a": [{v}, {w}]}}"#));
                events.push(format!(r#"{{"k": "1", "a": {v}, "a": [{w}]}}"#));
                events.push(format!(r#"{{"k": "1", "a.x": 1, "a": {v}}}"#));
                events.push(format!(r#"{{"k": "1", "b": {{"c": {v}, "d": "1"}}}}"#));
                events.push(format!(r#"{{"k": "1", "b": [{{"c": {v}, "d": "1"}}, {{"c": {w}, "d": "2"}}]}}"#));
                events.push(format!(r#"{{"k": "2", "a": {v}}}"#));
            }
        }
        let mut lazy = Ruleset::new();
        let mut eager = Ruleset::new();
        for (name, pattern) in rules {
            lazy.add(name, pattern).unwrap();
            eager.add(name, pattern).unwrap();
        }
        // Keys for the eager set: anything-buts alone in their rules, on both paths.
        eager.add("key-a", r#"{"a": [{"anything-but": "zzz"}]}"#).unwrap();
        eager.add("key-c", r#"{"b": {"c": [{"anything-but": "zzz"}]}}"#).unwrap();
        assert_eq!(lazy.keyed_anything_buts.iter().sum::<u32>(), 0);
        assert!(eager.keyed_anything_buts.iter().sum::<u32>() >= 2);
        let mut seen = 0;
        for event in &events {
            let got = lazy.matches(event.as_bytes()).unwrap();
            let mut want = eager.matches(event.as_bytes()).unwrap();
            want.retain(|n| !n.starts_with("key-"));
            assert_eq!(got, want, "{event}");
            seen += got.len();
        }
        assert!(seen > events.len(), "the rules match often enough to tell");
        // Removing the keys turns the eager set lazy; it still agrees.
        eager.remove("key-a");
        eager.remove("key-c");
        assert_eq!(eager.keyed_anything_buts.iter().sum::<u32>(), 0);
        for event in &events {
            assert_eq!(lazy.matches(event.as_bytes()).unwrap(), eager.matches(event.as_bytes()).unwrap(), "{event}");
        }
    }
}
