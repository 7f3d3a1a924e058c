//! Per-path value matchers: one leaf value in, the predicates it satisfies out.
//!
//! Every predicate on a path is filed in a structure that finds it in time independent of how
//! many predicates the path has:
//!
//! | operator | structure | cost per leaf |
//! |---|---|---|
//! | exact string, `exactly`, wildcard without `*`, `anything-but` strings | hash map | one lookup |
//! | numbers (comparable) / numbers (literal text) | hash map on the order key / on the text | one lookup |
//! | `true` / `false` / `null`, `exists: true` | lists | O(hits) |
//! | `prefix` / `suffix` (and their `anything-but` forms) | byte tries (suffix reversed) | O(length) |
//! | ASCII `equals-ignore-case` (and `anything-but` form) | hash map on ASCII-folded text | one lookup |
//! | ASCII `prefix`/`suffix` + `equals-ignore-case` | tries on folded bytes | O(length) |
//! | `wildcard` (and `anything-but` form) | [`GlobIndex`]: most selective literal piece in a prefix trie, suffix trie or Aho-Corasick automaton, then verification of the candidates | O(length + candidates) |
//! | `numeric` ranges | [`IntervalIndex`] on order keys | O((hits + 1) log n) |
//! | `cidr`, IP-looking exact strings | [`IntervalIndex`] per address family | O((hits + 1) log n) |
//! | non-ASCII ignore-case forms | small multi-pattern lazy DFAs (regex-automata) | O(length × chunks) |
//!
//! For an ASCII pattern, event-ruler's ignore-case rule (each pattern character accepts its
//! lower- or upper-case form) is exactly "equal after folding ASCII letters": no other byte
//! folds to an ASCII letter, and ASCII letters have only ASCII case forms under `Locale.ROOT`.
//!
//! `anything-but` is a positive test per leaf ("this leaf is outside the set"): its excluded
//! values are filed as *exclusion effects* in the structures above, and after a leaf has been
//! looked up, every `anything-but` predicate of the path that was not excluded is satisfied.
//! That costs O(predicates satisfied + predicates excluded), never a scan of unrelated rules.
//!
//! Tries, indexes and automata are built lazily on first use after a change, so adding many
//! rules one by one costs one build, not one per rule.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::MatchKind;
use rustc_hash::FxHashMap;

use crate::ir::{Exclusion, Op};
use crate::value::casefold::{self, Anchor};
use crate::value::intervals::IntervalIndex;
use crate::value::ip::IpRange;
use crate::value::number::NumberLiteral;
use crate::value::wildcard::{Piece, Wildcard};

/// Index of a predicate in the ruleset.
pub(crate) type PredId = u32;

/// What finding a value does to a predicate: satisfy it, or exclude it (`anything-but`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effect(u32);

const EXCLUDE: u32 = 1 << 31;

impl Effect {
    pub(crate) fn satisfy(p: PredId) -> Effect {
        Effect(p)
    }
    pub(crate) fn exclude(p: PredId) -> Effect {
        Effect(p | EXCLUDE)
    }
    #[inline]
    pub(crate) fn pred(self) -> PredId {
        self.0 & !EXCLUDE
    }
    #[inline]
    pub(crate) fn is_exclude(self) -> bool {
        self.0 & EXCLUDE != 0
    }
}

/// A byte trie whose nodes carry values; used for prefixes and (reversed) suffixes.
#[derive(Debug)]
pub(crate) struct ByteTrie<T> {
    /// Per node: sorted outgoing edges.
    edges: Vec<Vec<(u8, u32)>>,
    values: Vec<Vec<T>>,
}

impl<T: Copy> ByteTrie<T> {
    fn build<'a>(entries: impl Iterator<Item = (&'a [u8], T)>, reversed: bool) -> ByteTrie<T> {
        let mut t = ByteTrie { edges: vec![Vec::new()], values: vec![Vec::new()] };
        for (key, value) in entries {
            let mut node = 0usize;
            let mut step = |b: u8, t: &mut ByteTrie<T>| match t.edges[node].binary_search_by_key(&b, |e| e.0) {
                Ok(i) => node = t.edges[node][i].1 as usize,
                Err(i) => {
                    let next = t.edges.len();
                    t.edges.push(Vec::new());
                    t.values.push(Vec::new());
                    t.edges[node].insert(i, (b, next as u32));
                    node = next;
                }
            };
            if reversed {
                for &b in key.iter().rev() {
                    step(b, &mut t);
                }
            } else {
                for &b in key {
                    step(b, &mut t);
                }
            }
            t.values[node].push(value);
        }
        t
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.edges[0].is_empty() && self.values[0].is_empty()
    }

    /// Calls `f` with the values of every key that is a prefix of `bytes`.
    #[inline]
    pub(crate) fn walk(&self, bytes: impl Iterator<Item = u8>, mut f: impl FnMut(T)) {
        let mut node = 0usize;
        for &v in &self.values[0] {
            f(v);
        }
        for b in bytes {
            let edges = &self.edges[node];
            let next = if edges.len() <= 8 {
                edges.iter().find(|e| e.0 == b).map(|e| e.1)
            } else {
                edges.binary_search_by_key(&b, |e| e.0).ok().map(|i| edges[i].1)
            };
            let Some(next) = next else { return };
            node = next as usize;
            for &v in &self.values[node] {
                f(v);
            }
        }
    }
}

impl<T: Copy> Default for ByteTrie<T> {
    fn default() -> Self {
        ByteTrie { edges: vec![Vec::new()], values: vec![Vec::new()] }
    }
}

/// True if an ignore-case pattern is ASCII, so ASCII folding decides it exactly.
fn ascii_foldable(pattern: &[u8]) -> bool {
    pattern.is_ascii()
}

/// ASCII-lowercased copy of `bytes` into `out` (other bytes unchanged).
#[inline]
pub(crate) fn fold_into(bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
}

/// Wildcard patterns indexed by their most selective literal piece.
///
/// A pattern whose literal piece occurs in a value is a *candidate* and is verified with
/// [`Wildcard::matches`]. The piece is chosen per pattern among its first piece (if it does
/// not start with `*`: found by walking a prefix trie), its last piece (if it does not end with
/// `*`: a reversed trie) and its middle pieces (an Aho-Corasick automaton), preferring pieces
/// that fewer patterns share, then longer ones. Patterns with no literal (`*`) are always
/// candidates.
#[derive(Debug, Default)]
pub(crate) struct GlobIndex {
    pub(crate) globs: Vec<(Wildcard, Effect)>,
    pub(crate) by_prefix: ByteTrie<u32>,
    pub(crate) by_suffix: ByteTrie<u32>,
    /// Substring automaton and, per automaton pattern, the globs it stands for.
    pub(crate) by_substring: Option<(AhoCorasick, Vec<Vec<u32>>)>,
    pub(crate) always: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum PieceKind {
    First,
    Last,
    Middle,
}

impl GlobIndex {
    fn build(globs: &[(Wildcard, Effect)]) -> GlobIndex {
        // Candidate pieces of each glob, and how many globs share each piece.
        let pieces: Vec<Vec<(PieceKind, &[u8])>> = globs
            .iter()
            .map(|(w, _)| {
                let p = w.pieces();
                let mut out = Vec::new();
                for (i, piece) in p.iter().enumerate() {
                    if let Piece::Literal(lit) = piece {
                        let kind = if i == 0 {
                            PieceKind::First
                        } else if i + 1 == p.len() {
                            PieceKind::Last
                        } else {
                            PieceKind::Middle
                        };
                        out.push((kind, lit.as_slice()));
                    }
                }
                out
            })
            .collect();
        let mut shared: FxHashMap<(PieceKind, &[u8]), u32> = FxHashMap::default();
        for list in &pieces {
            for &key in list {
                *shared.entry(key).or_default() += 1;
            }
        }
        let mut prefix = Vec::new();
        let mut suffix = Vec::new();
        let mut middle: FxHashMap<&[u8], Vec<u32>> = FxHashMap::default();
        let mut always = Vec::new();
        for (g, list) in pieces.iter().enumerate() {
            let best = list.iter().min_by_key(|key| (shared[*key], std::cmp::Reverse(key.1.len())));
            match best {
                Some((PieceKind::First, lit)) => prefix.push((*lit, g as u32)),
                Some((PieceKind::Last, lit)) => suffix.push((*lit, g as u32)),
                Some((PieceKind::Middle, lit)) => middle.entry(lit).or_default().push(g as u32),
                None => always.push(g as u32),
            }
        }
        let by_substring = (!middle.is_empty()).then(|| {
            let (literals, owners): (Vec<&[u8]>, Vec<Vec<u32>>) = middle.into_iter().unzip();
            let ac = AhoCorasick::new(&literals).expect("a few literals always build");
            (ac, owners)
        });
        GlobIndex {
            globs: globs.to_vec(),
            by_prefix: ByteTrie::build(prefix.into_iter(), false),
            by_suffix: ByteTrie::build(suffix.into_iter(), true),
            by_substring,
            always,
        }
    }

    /// Calls `f` with the effect of every glob that matches `value`; `candidates` is scratch.
    #[inline]
    pub(crate) fn find(&self, value: &[u8], candidates: &mut Vec<u32>, mut f: impl FnMut(Effect)) {
        candidates.clear();
        candidates.extend_from_slice(&self.always);
        self.by_prefix.walk(value.iter().copied(), |g| candidates.push(g));
        self.by_suffix.walk(value.iter().rev().copied(), |g| candidates.push(g));
        if let Some((ac, owners)) = &self.by_substring {
            for m in ac.find_overlapping_iter(value) {
                candidates.extend_from_slice(&owners[m.pattern().as_usize()]);
            }
            candidates.sort_unstable();
            candidates.dedup();
        }
        for &g in candidates.iter() {
            let (w, effect) = &self.globs[g as usize];
            if w.matches(value) {
                f(*effect);
            }
        }
    }
}

/// Non-ASCII ignore-case patterns: regex-automata multi-pattern DFAs in small chunks (so
/// collecting the matched ids stays cheap), or direct evaluation if a chunk cannot be built.
#[derive(Debug)]
pub(crate) enum CasefoldChunk {
    Regex {
        /// Unique id of this build, so per-thread caches know when to start over.
        build_id: u64,
        regex: Regex,
        effects: Vec<Effect>,
    },
    Direct(Vec<(Anchor, Box<[u8]>, Effect)>),
}

const CHUNK: usize = 32;

static NEXT_BUILD: AtomicU64 = AtomicU64::new(1);

fn build_casefold(patterns: &[(Anchor, Box<[u8]>, Effect)]) -> Vec<CasefoldChunk> {
    patterns
        .chunks(CHUNK)
        .map(|chunk| {
            let sources: Vec<String> = chunk
                .iter()
                .map(|(anchor, p, _)| {
                    let mut re = String::new();
                    if *anchor == Anchor::Suffix {
                        re.push_str("(?s-u:.)*");
                    }
                    casefold::push_regex(p, &mut re);
                    if *anchor != Anchor::Prefix {
                        re.push_str(r"\z");
                    }
                    re
                })
                .collect();
            let built = Regex::builder()
                .syntax(syntax::Config::new().utf8(false))
                .configure(Regex::config().match_kind(MatchKind::All).utf8_empty(false))
                .build_many(&sources);
            match built {
                Ok(regex) => CasefoldChunk::Regex {
                    build_id: NEXT_BUILD.fetch_add(1, Ordering::Relaxed),
                    regex,
                    effects: chunk.iter().map(|c| c.2).collect(),
                },
                Err(_) => CasefoldChunk::Direct(chunk.to_vec()),
            }
        })
        .collect()
}

/// Lazily built indexes of a field.
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub(crate) prefixes: ByteTrie<Effect>,
    pub(crate) suffixes: ByteTrie<Effect>,
    pub(crate) folded_prefixes: ByteTrie<Effect>,
    pub(crate) folded_suffixes: ByteTrie<Effect>,
    pub(crate) ranges: IntervalIndex<u64>,
    pub(crate) ip4: IntervalIndex<u32>,
    pub(crate) ip6: IntervalIndex<u128>,
    pub(crate) globs: Option<GlobIndex>,
    pub(crate) casefold: Vec<CasefoldChunk>,
}

/// All predicates on one path.
#[derive(Debug, Default)]
pub(crate) struct FieldMatcher {
    pub(crate) strings: FxHashMap<Box<[u8]>, Vec<Effect>>,
    /// ASCII ignore-case whole-value patterns, keyed by folded text.
    pub(crate) folded: FxHashMap<Box<[u8]>, Vec<Effect>>,
    pub(crate) numbers: FxHashMap<u64, Vec<Effect>>,
    pub(crate) number_texts: FxHashMap<Box<[u8]>, Vec<Effect>>,
    pub(crate) on_true: Vec<PredId>,
    pub(crate) on_false: Vec<PredId>,
    pub(crate) on_null: Vec<PredId>,
    pub(crate) exists: Vec<PredId>,
    pub(crate) anything_but_strings: Vec<PredId>,
    pub(crate) anything_but_numbers: Vec<PredId>,
    prefixes: Vec<(Box<[u8]>, Effect)>,
    suffixes: Vec<(Box<[u8]>, Effect)>,
    folded_prefixes: Vec<(Box<[u8]>, Effect)>,
    folded_suffixes: Vec<(Box<[u8]>, Effect)>,
    globs: Vec<(Wildcard, Effect)>,
    casefold: Vec<(Anchor, Box<[u8]>, Effect)>,
    ranges: Vec<(u64, u64, PredId)>,
    ips: Vec<(IpRange, PredId)>,
    pub(crate) wants_numbers: bool,
    pub(crate) wants_ips: bool,
    pub(crate) wants_built: bool,
    built: OnceLock<Built>,
}

fn edit_map<K: std::hash::Hash + Eq>(map: &mut FxHashMap<K, Vec<Effect>>, key: K, effect: Effect, add: bool) {
    if add {
        map.entry(key).or_default().push(effect);
    } else if let Some(v) = map.get_mut(&key) {
        if let Some(i) = v.iter().position(|e| *e == effect) {
            v.swap_remove(i);
        }
        if v.is_empty() {
            map.remove(&key);
        }
    }
}

fn edit_list<T: PartialEq>(list: &mut Vec<T>, item: T, add: bool) {
    if add {
        list.push(item);
    } else if let Some(i) = list.iter().position(|x| *x == item) {
        list.swap_remove(i);
    }
}

fn folded(bytes: &[u8]) -> Box<[u8]> {
    bytes.to_ascii_lowercase().into_boxed_slice()
}

impl FieldMatcher {
    /// Files predicate `p` (with operator `op`).
    pub(crate) fn insert(&mut self, p: PredId, op: &Op) {
        self.edit(p, op, true);
    }

    /// Removes predicate `p` (with operator `op`).
    pub(crate) fn remove(&mut self, p: PredId, op: &Op) {
        self.edit(p, op, false);
    }

    fn edit_ignore_case(&mut self, anchor: Anchor, pattern: &[u8], effect: Effect, add: bool) {
        if !ascii_foldable(pattern) {
            edit_list(&mut self.casefold, (anchor, pattern.into(), effect), add);
            return;
        }
        match anchor {
            Anchor::Whole => edit_map(&mut self.folded, folded(pattern), effect, add),
            Anchor::Prefix => edit_list(&mut self.folded_prefixes, (folded(pattern), effect), add),
            Anchor::Suffix => edit_list(&mut self.folded_suffixes, (folded(pattern), effect), add),
        }
    }

    fn edit(&mut self, p: PredId, op: &Op, add: bool) {
        let sat = Effect::satisfy(p);
        let exc = Effect::exclude(p);
        match op {
            Op::ExactString(s) => edit_map(&mut self.strings, s.clone(), sat, add),
            Op::Ip(range) => edit_list(&mut self.ips, (*range, p), add),
            Op::Number(n) => self.edit_number(n, sat, add),
            Op::True => edit_list(&mut self.on_true, p, add),
            Op::False => edit_list(&mut self.on_false, p, add),
            Op::Null => edit_list(&mut self.on_null, p, add),
            Op::Exists => edit_list(&mut self.exists, p, add),
            Op::Prefix(s) => edit_list(&mut self.prefixes, (s.clone(), sat), add),
            Op::Suffix(s) => edit_list(&mut self.suffixes, (s.clone(), sat), add),
            Op::IgnoreCase(anchor, s) => self.edit_ignore_case(*anchor, s, sat, add),
            Op::Wildcard(w) => edit_list(&mut self.globs, (w.clone(), sat), add),
            Op::NumericRange { lo, hi } => edit_list(&mut self.ranges, (*lo, *hi, p), add),
            Op::AnythingBut(exclusion) => {
                if exclusion.is_numeric() {
                    edit_list(&mut self.anything_but_numbers, p, add);
                } else {
                    edit_list(&mut self.anything_but_strings, p, add);
                }
                match exclusion {
                    Exclusion::Strings(values) => {
                        for v in values {
                            edit_map(&mut self.strings, v.clone(), exc, add);
                        }
                    }
                    Exclusion::Numbers(values) => {
                        for n in values {
                            self.edit_number(n, exc, add);
                        }
                    }
                    Exclusion::Prefixes(values) => {
                        for v in values {
                            edit_list(&mut self.prefixes, (v.clone(), exc), add);
                        }
                    }
                    Exclusion::Suffixes(values) => {
                        for v in values {
                            edit_list(&mut self.suffixes, (v.clone(), exc), add);
                        }
                    }
                    Exclusion::Wildcards(values) => {
                        for w in values {
                            if w.is_literal() {
                                edit_map(&mut self.strings, w.literal().into_boxed_slice(), exc, add);
                            } else {
                                edit_list(&mut self.globs, (w.clone(), exc), add);
                            }
                        }
                    }
                    Exclusion::IgnoreCase(values) => {
                        for v in values {
                            self.edit_ignore_case(Anchor::Whole, v, exc, add);
                        }
                    }
                }
            }
        }
        self.wants_numbers = !self.numbers.is_empty() || !self.number_texts.is_empty() || !self.ranges.is_empty();
        self.wants_ips = !self.ips.is_empty();
        self.wants_built = !self.prefixes.is_empty()
            || !self.suffixes.is_empty()
            || !self.folded_prefixes.is_empty()
            || !self.folded_suffixes.is_empty()
            || !self.globs.is_empty()
            || !self.casefold.is_empty()
            || !self.ranges.is_empty()
            || !self.ips.is_empty();
        self.built = OnceLock::new();
    }

    fn edit_number(&mut self, n: &NumberLiteral, effect: Effect, add: bool) {
        match n {
            NumberLiteral::Value(key) => edit_map(&mut self.numbers, *key, effect, add),
            NumberLiteral::Text(text) => edit_map(&mut self.number_texts, text.clone(), effect, add),
        }
    }

    /// The lazily built indexes.
    #[inline]
    pub(crate) fn built(&self) -> &Built {
        self.built.get_or_init(|| self.build())
    }

    fn build(&self) -> Built {
        let trie = |v: &[(Box<[u8]>, Effect)], reversed| ByteTrie::build(v.iter().map(|(k, e)| (&k[..], *e)), reversed);
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (range, p) in &self.ips {
            match *range {
                IpRange::V4(lo, hi) => v4.push((lo, hi, *p)),
                IpRange::V6(lo, hi) => v6.push((lo, hi, *p)),
            }
        }
        Built {
            prefixes: trie(&self.prefixes, false),
            suffixes: trie(&self.suffixes, true),
            folded_prefixes: trie(&self.folded_prefixes, false),
            folded_suffixes: trie(&self.folded_suffixes, true),
            ranges: IntervalIndex::new(self.ranges.clone()),
            ip4: IntervalIndex::new(v4),
            ip6: IntervalIndex::new(v6),
            globs: (!self.globs.is_empty()).then(|| GlobIndex::build(&self.globs)),
            casefold: build_casefold(&self.casefold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_walks_prefixes_and_suffixes() {
        let entries = [(&b"ab"[..], Effect::satisfy(1)), (b"", Effect::satisfy(2)), (b"abc", Effect::exclude(3))];
        let t = ByteTrie::build(entries.iter().copied(), false);
        let mut got = Vec::new();
        t.walk(b"abcd".iter().copied(), |e| got.push(e));
        assert_eq!(got, vec![Effect::satisfy(2), Effect::satisfy(1), Effect::exclude(3)]);
        let s = ByteTrie::build([(&b"cd"[..], Effect::satisfy(4))].into_iter(), true);
        let mut got = Vec::new();
        s.walk(b"abcd".iter().rev().copied(), |e| got.push(e));
        assert_eq!(got, vec![Effect::satisfy(4)]);
    }

    #[test]
    fn effects_encode_exclusion() {
        assert!(Effect::exclude(7).is_exclude());
        assert_eq!(Effect::exclude(7).pred(), 7);
        assert!(!Effect::satisfy(7).is_exclude());
    }

    #[test]
    fn glob_index_finds_exactly_the_matching_globs() {
        let patterns = [
            "arn:aws:iam::*:user/alice",
            "arn:aws:iam::*:user/bob",
            "*/admin/*",
            "*Delete*Bucket*",
            "*",
            "*.jar",
            "logs-*-2026",
            "a*a*a",
        ];
        let globs: Vec<(Wildcard, Effect)> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| (Wildcard::parse(p.as_bytes()).unwrap(), Effect::satisfy(i as u32)))
            .collect();
        let index = GlobIndex::build(&globs);
        let values = [
            "arn:aws:iam::123:user/alice",
            "arn:aws:iam::123:user/carol",
            "/x/admin/y",
            "DeleteBucketPolicy",
            "lib/x.jar",
            "logs-eu-2026",
            "aaa",
            "",
            "abca",
        ];
        let mut scratch = Vec::new();
        for v in values {
            let mut got = Vec::new();
            index.find(v.as_bytes(), &mut scratch, |e| got.push(e.pred()));
            got.sort_unstable();
            let want: Vec<u32> = globs.iter().filter(|(w, _)| w.matches(v.as_bytes())).map(|(_, e)| e.pred()).collect();
            assert_eq!(got, want, "{v}");
        }
    }

    #[test]
    fn ascii_folding_is_exact_for_ascii_patterns() {
        // The Kelvin sign folds to 'k' in Unicode but is not an accepted form of 'k'.
        let mut a = Vec::new();
        let mut b = Vec::new();
        fold_into("\u{212A}".as_bytes(), &mut a);
        fold_into(b"K", &mut b);
        assert_ne!(a, b);
        fold_into(b"CreateUser", &mut a);
        assert_eq!(a, b"createuser");
    }
}
