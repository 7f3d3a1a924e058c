//! The `wildcard` operator: `*` matches any run of characters, `\*` is a literal star and `\\`
//! a literal backslash.
//!
//! Validation follows EventBridge: two adjacent unescaped stars are rejected
//! (`Consecutive wildcard characters at pos N`, N the 1-based byte position of the first star)
//! and so is any other escape (`Invalid escape character at pos N`, N the position of the
//! backslash). [`complexity`] computes event-ruler's measure of how many partial matches a set
//! of wildcard patterns can keep alive at once, which bounds matching cost.

/// One piece of a parsed wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Bytes that must appear literally.
    Literal(Vec<u8>),
    /// Any run of characters, including none.
    Star,
}

/// A parsed wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wildcard {
    pieces: Vec<Piece>,
}

impl Wildcard {
    /// Parses the decoded pattern value.
    ///
    /// # Errors
    ///
    /// The EventBridge reason text for consecutive stars or an invalid escape.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::value::wildcard::Wildcard;
    ///
    /// let w = Wildcard::parse(br"arn:aws:s3:::*\*").unwrap();
    /// assert!(w.matches(b"arn:aws:s3:::bucket*"));
    /// assert!(!w.matches(b"arn:aws:s3:::bucket"));
    /// assert_eq!(Wildcard::parse(b"ab**").unwrap_err(), "Consecutive wildcard characters at pos 3");
    /// assert_eq!(Wildcard::parse(br"a\b").unwrap_err(), "Invalid escape character at pos 2");
    /// ```
    pub fn parse(value: &[u8]) -> Result<Wildcard, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        let mut last_was_star = false;
        while i < value.len() {
            match value[i] {
                b'*' => {
                    if last_was_star {
                        return Err(format!("Consecutive wildcard characters at pos {i}"));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Star);
                    last_was_star = true;
                    i += 1;
                }
                b'\\' => {
                    match value.get(i + 1) {
                        Some(&c @ (b'*' | b'\\')) => literal.push(c),
                        _ => return Err(format!("Invalid escape character at pos {}", i + 1)),
                    }
                    last_was_star = false;
                    i += 2;
                }
                b => {
                    literal.push(b);
                    last_was_star = false;
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Wildcard { pieces })
    }

    /// The literal text of a pattern without stars (see [`is_literal`](Self::is_literal)).
    pub fn literal(&self) -> Vec<u8> {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.as_slice(),
                Piece::Star => &[],
            })
            .collect::<Vec<_>>()
            .concat()
    }

    /// The parsed pieces.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// True if the pattern has no star (it is an exact string).
    pub fn is_literal(&self) -> bool {
        !self.pieces.contains(&Piece::Star)
    }

    /// Direct evaluation against `text` (greedy with backtracking to the last star; linear
    /// space, O(n·m) worst-case time).
    pub fn matches(&self, text: &[u8]) -> bool {
        let pieces = &self.pieces;
        let (mut pi, mut ti) = (0usize, 0usize);
        // Resume point: piece index after the last star, text position it was tried at.
        let mut resume: Option<(usize, usize)> = None;
        loop {
            if pi == pieces.len() {
                if ti == text.len() {
                    return true;
                }
            } else {
                match &pieces[pi] {
                    Piece::Star => {
                        pi += 1;
                        resume = Some((pi, ti));
                        continue;
                    }
                    Piece::Literal(lit) => {
                        // The final literal after a star can only sit at the end of the text.
                        let is_last_after_star = pi + 1 == pieces.len() && resume.is_some();
                        if is_last_after_star {
                            if text.len() >= ti + lit.len() && text.ends_with(lit) {
                                return true;
                            }
                        } else if text[ti..].starts_with(lit) {
                            pi += 1;
                            ti += lit.len();
                            continue;
                        }
                    }
                }
            }
            // Mismatch: let the last star absorb one more byte.
            match resume {
                Some((rp, rt)) if rt < text.len() => {
                    resume = Some((rp, rt + 1));
                    pi = rp;
                    ti = rt + 1;
                }
                _ => return false,
            }
        }
    }

    /// Appends an unanchored regex (bytes mode) equivalent to the pattern.
    pub fn push_regex(&self, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Star => out.push_str("(?s-u:.)*"),
                Piece::Literal(lit) => super::casefold::push_literal(lit, out),
            }
        }
    }
}

/// One step of a wildcard value as event-ruler's byte machine sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Star,
}

/// A node of the byte machine: reached by a byte, or a star's self-looping state.
#[derive(Default)]
struct MachineNode {
    bytes: Vec<(u8, usize)>,
    star: Option<usize>,
    is_star: bool,
    /// Distinct patterns whose values pass through this node: its weight.
    patterns: Vec<u32>,
    /// True if values only end here (the closing quote): a pure match.
    terminal: bool,
}

/// event-ruler's wildcard complexity of the values of one field.
///
/// `values` are `(pattern, wildcard)` pairs: values with the same pattern id belong to one
/// EventBridge pattern object (all values of one `anything-but` wildcard list share one);
/// distinct plain `wildcard` values have distinct ids. The metric mirrors
/// `MachineComplexityEvaluator`: values are quoted (`"v"`) and threaded through one byte
/// machine that shares common prefixes; a star is a self-looping state that the preceding state
/// also reaches on any byte. Over every state set the machine can be in after some input, the
/// size of the set is the sum, per state, of the number of distinct patterns reachable from it
/// (final matches count once per pattern), plus, for a state right before a star, the star's
/// state if it is not in the set already.
/// The complexity is the largest such size. Computation stops early once `cap` is exceeded
/// (and reports a value above `cap` if exploring the machine would take unreasonably long).
///
/// Calibration (event-ruler and AWS): `/Users/*/doc.txt` → 2,
/// `arn:aws:events:us-east-1:*:event-bus/*` → 3, `*:*:*:*:*:event-bus/*` → 11.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::wildcard::{complexity, Wildcard};
///
/// let w = |s: &str| Wildcard::parse(s.as_bytes()).unwrap();
/// assert_eq!(complexity(&[(0, &w("/Users/*/doc.txt"))], 100), 2);
/// let stacks = [w("*:stack/A/*"), w("*:stack/B/*"), w("*:stack/C/*")];
/// let values: Vec<_> = stacks.iter().enumerate().map(|(i, v)| (i as u32, v)).collect();
/// assert_eq!(complexity(&values, 100), 9);
/// ```
pub fn complexity(values: &[(u32, &Wildcard)], cap: usize) -> usize {
    if values.is_empty() {
        return 0;
    }
    let mut nodes: Vec<MachineNode> = vec![MachineNode::default()];
    let mut alphabet = [false; 256];
    for &(pattern, w) in values {
        let mut tokens = vec![Token::Byte(b'"')];
        for piece in w.pieces() {
            match piece {
                Piece::Star => tokens.push(Token::Star),
                Piece::Literal(lit) => tokens.extend(lit.iter().map(|&b| Token::Byte(b))),
            }
        }
        tokens.push(Token::Byte(b'"'));
        let mut node = 0usize;
        let last = tokens.len() - 1;
        for (i, token) in tokens.into_iter().enumerate() {
            let next = match token {
                Token::Byte(b) => {
                    alphabet[b as usize] = true;
                    match nodes[node].bytes.iter().find(|e| e.0 == b) {
                        Some(e) => e.1,
                        None => {
                            nodes.push(MachineNode::default());
                            let n = nodes.len() - 1;
                            nodes[node].bytes.push((b, n));
                            n
                        }
                    }
                }
                Token::Star => match nodes[node].star {
                    Some(n) => n,
                    None => {
                        nodes.push(MachineNode { is_star: true, ..MachineNode::default() });
                        let n = nodes.len() - 1;
                        nodes[node].star = Some(n);
                        n
                    }
                },
            };
            if !nodes[next].patterns.contains(&pattern) {
                nodes[next].patterns.push(pattern);
            }
            if i == last {
                nodes[next].terminal = true;
            }
            node = next;
        }
    }
    for n in &mut nodes {
        n.terminal &= n.bytes.is_empty() && n.star.is_none();
    }
    // One representative of the bytes that occur in no value.
    let mut classes: Vec<u8> = (0..=255u8).filter(|&b| alphabet[b as usize]).collect();
    if let Some(other) = (0..=255u8).find(|&b| !alphabet[b as usize]) {
        classes.push(other);
    }
    let step = |set: &[usize], b: u8| -> Vec<usize> {
        let mut out = Vec::new();
        for &n in set {
            let node = &nodes[n];
            if node.is_star {
                out.push(n);
            }
            out.extend(node.bytes.iter().filter(|e| e.0 == b).map(|e| e.1));
            if let Some(star) = node.star {
                // Any byte enters the star; the byte after the star may also be matched here
                // (the star matching nothing).
                out.push(star);
                out.extend(nodes[star].bytes.iter().filter(|e| e.0 == b).map(|e| e.1));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    };
    let weight = |n: usize| nodes[n].patterns.len();
    let mut best = 0usize;
    let mut seen: rustc_hash::FxHashSet<Vec<usize>> = rustc_hash::FxHashSet::default();
    let mut queue = vec![step(&[0], b'"')];
    while let Some(set) = queue.pop() {
        if set.is_empty() || !seen.insert(set.clone()) {
            continue;
        }
        if seen.len() > 200_000 {
            return best.max(cap + 1);
        }
        // Matches of one pattern are equal objects in event-ruler and count once per set.
        let mut matched: Vec<u32> = Vec::new();
        let mut size = 0usize;
        for &n in &set {
            if nodes[n].terminal {
                matched.extend(&nodes[n].patterns);
            } else {
                size += weight(n);
            }
        }
        matched.sort_unstable();
        matched.dedup();
        size += matched.len();
        for &n in &set {
            if let Some(star) = nodes[n].star {
                if set.binary_search(&star).is_err() {
                    size += weight(star);
                }
            }
        }
        best = best.max(size);
        if best > cap {
            return best;
        }
        for &b in &classes {
            queue.push(step(&set, b));
        }
    }
    best
}

/// UTF-16 code-unit order of two paths, the order Java sorts event-ruler's field names in.
pub fn java_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The wildcard complexity of a rule, as EventBridge evaluates it on event-ruler's machine.
///
/// event-ruler threads a rule's `$or` branches through states keyed by field names in sorted
/// order; branches that agree on the conditions of all earlier fields share the byte machine
/// of the next field, so their wildcards add up there. The rule's complexity is the largest
/// over those machines. Fields after an `exists: false` step are not evaluated (event-ruler
/// 2.0 does not follow absence transitions when evaluating complexity).
pub fn rule_complexity(branches: &[crate::ir::Branch], cap: usize) -> usize {
    use crate::ir::{Condition, Exclusion, Op};
    // Most rules have no wildcard at all: nothing to count (and no keys to format).
    let has_wildcards = branches.iter().flat_map(|b| &b.fields).any(|f| match &f.condition {
        Condition::AnyOf(ops) => {
            ops.iter().any(|op| matches!(op, Op::Wildcard(_) | Op::AnythingBut(Exclusion::Wildcards(_))))
        }
        Condition::Absent => false,
    });
    if !has_wildcards {
        return 0;
    }
    let mut machines: Vec<(String, Vec<(u32, &Wildcard)>)> = Vec::new();
    let mut ids: Vec<&Op> = Vec::new();
    for branch in branches {
        let mut fields: Vec<&crate::ir::FieldCondition> = branch.fields.iter().collect();
        fields.sort_by(|x, y| java_order(&x.path, &y.path));
        let mut prefix = String::new();
        for field in fields {
            let Condition::AnyOf(ops) = &field.condition else {
                break;
            };
            let key = format!("{prefix}\u{0}{}", String::from_utf8_lossy(&field.path));
            for op in ops {
                let patterns: Vec<&Wildcard> = match op {
                    Op::Wildcard(w) => vec![w],
                    Op::AnythingBut(Exclusion::Wildcards(ws)) => ws.iter().collect(),
                    _ => continue,
                };
                let id = match ids.iter().position(|o| *o == op) {
                    Some(i) => i,
                    None => {
                        ids.push(op);
                        ids.len() - 1
                    }
                } as u32;
                let machine = match machines.iter().position(|m| m.0 == key) {
                    Some(i) => &mut machines[i].1,
                    None => {
                        machines.push((key.clone(), Vec::new()));
                        &mut machines.last_mut().expect("just pushed").1
                    }
                };
                for w in patterns {
                    if !machine.iter().any(|(i, v)| *i == id && *v == w) {
                        machine.push((id, w));
                    }
                }
            }
            prefix = format!("{key}\u{1}{:?}", field.condition);
        }
    }
    machines.iter().map(|(_, values)| complexity(values, cap)).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Wildcard::parse(p.as_bytes()).unwrap().matches(t.as_bytes())
    }

    #[test]
    fn glob_semantics() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("*a", "a"));
        assert!(m("a*b", "ab"));
        assert!(m("a*b", "axxb"));
        assert!(!m("a*b", "axxbc"));
        assert!(m("a*b*c", "abbbc"));
        assert!(m("*b*", "abc"));
        assert!(!m("a*a", "a"));
        assert!(m("/Users/*/doc.txt", "/Users/me/x/doc.txt"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\b", r"a\b"));
        assert!(m("*ab*ab", "xabyab"));
        assert!(!m("*ab*ab", "xab"));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    fn cx(values: &[(u32, &str)]) -> usize {
        let parsed: Vec<(u32, Wildcard)> =
            values.iter().map(|(i, v)| (*i, Wildcard::parse(v.as_bytes()).unwrap())).collect();
        let refs: Vec<(u32, &Wildcard)> = parsed.iter().map(|(i, w)| (*i, w)).collect();
        complexity(&refs, 1000)
    }

    #[test]
    fn complexity_matches_event_ruler_calibration() {
        assert_eq!(cx(&[(0, "/Users/*/doc.txt")]), 2);
        assert_eq!(cx(&[(0, "arn:aws:events:us-east-1:*:event-bus/*")]), 3);
        assert_eq!(cx(&[(0, "*/init/*"), (0, "*/dir/*")]), 5);
        assert_eq!(cx(&[(0, "/Users/*/dir/dir/dir/dir/dir/doc.txt")]), 7);
        assert_eq!(cx(&[(0, "*:stack/A/*"), (1, "*:stack/B/*"), (2, "*:stack/C/*")]), 9);
        assert_eq!(cx(&[(0, "*:stack/A/*"), (1, "*:stack/B/*"), (2, "*:stack/C/*"), (3, "*:stack/D/*")]), 12);
        assert_eq!(cx(&[(0, "*:*:*:*:*:event-bus/*")]), 11);
        let lake = [(0, "*kiwi*"), (0, "*BASE_QuxB*"), (0, "*Delta*"), (0, "*a/example-lake-abc98765432*")];
        assert_eq!(cx(&lake), 7);
        let plain: Vec<(u32, &str)> = lake.iter().enumerate().map(|(i, v)| (i as u32, v.1)).collect();
        assert_eq!(cx(&plain), 12);
        for n in 1..6 {
            let v = format!("{}*", "*a".repeat(n));
            assert_eq!(cx(&[(0, v.as_str())]), 2 * n + 1, "{v}");
        }
        // Duplicates of one pattern do not count twice.
        assert_eq!(cx(&[(0, "/Users/*/doc.txt"), (0, "/Users/*/doc.txt")]), 2);
        assert_eq!(cx(&[(0, "literal")]), 1);
    }

    #[test]
    fn java_order_is_utf16() {
        use std::cmp::Ordering;
        assert_eq!(java_order(b"a.b", b"a.c"), Ordering::Less);
        // U+FF21 (BMP, above the surrogates) sorts after U+1F600 in UTF-8 but before it in UTF-16.
        assert_eq!(java_order("\u{FF21}".as_bytes(), "\u{1F600}".as_bytes()), Ordering::Greater);
    }

    #[test]
    fn errors_name_positions() {
        assert_eq!(Wildcard::parse(b"**").unwrap_err(), "Consecutive wildcard characters at pos 1");
        assert_eq!(
            Wildcard::parse(b"arn:aws:events:us-east-1:**:x").unwrap_err(),
            "Consecutive wildcard characters at pos 26"
        );
        assert!(Wildcard::parse(br"\**").is_ok());
        assert_eq!(Wildcard::parse(br"a\").unwrap_err(), "Invalid escape character at pos 2");
    }
}
