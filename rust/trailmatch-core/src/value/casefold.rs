//! `equals-ignore-case` as EventBridge implements it.
//!
//! event-ruler does not fold both sides. Each pattern character `c` accepts exactly the text of
//! `lower(c)` or of `upper(c)` (full Unicode mappings, so `ß` accepts `ß` or `SS`); the event
//! text is taken as it is. The operator is therefore asymmetric: pattern `straße` matches
//! `STRASSE`, pattern `STRASSE` does not match `straße`. Rust's `char::to_lowercase` /
//! `to_uppercase` give the same default mappings as Java's `Locale.ROOT` on one character.
//!
//! Characters outside the Basic Multilingual Plane are matched literally (event-ruler splits
//! them into UTF-16 surrogates and loses them; see docs/SEMANTICS.md).

use std::fmt::Write as _;

/// The texts that pattern character `c` accepts (one or two distinct strings).
///
/// # Example
///
/// ```
/// use trailmatch_core::value::casefold::alternatives;
///
/// assert_eq!(alternatives('a'), vec!["a".to_string(), "A".to_string()]);
/// assert_eq!(alternatives('ß'), vec!["ß".to_string(), "SS".to_string()]);
/// assert_eq!(alternatives('1'), vec!["1".to_string()]);
/// ```
pub fn alternatives(c: char) -> Vec<String> {
    if (c as u32) > 0xFFFF {
        return vec![c.to_string()];
    }
    let lower: String = c.to_lowercase().collect();
    let upper: String = c.to_uppercase().collect();
    if lower == upper {
        vec![lower]
    } else {
        vec![lower, upper]
    }
}

/// Where an ignore-case pattern must sit in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The whole text (`equals-ignore-case`).
    Whole,
    /// The start of the text (`prefix` + `equals-ignore-case`).
    Prefix,
    /// The end of the text (`suffix` + `equals-ignore-case`).
    Suffix,
}

/// Decodes pattern bytes into units: characters, or raw bytes where the input is not valid
/// UTF-8, which are matched literally.
fn units(pattern: &[u8]) -> Vec<Result<char, &[u8]>> {
    let mut out = Vec::new();
    for chunk in pattern.utf8_chunks() {
        out.extend(chunk.valid().chars().map(Ok));
        if !chunk.invalid().is_empty() {
            out.push(Err(chunk.invalid()));
        }
    }
    out
}

fn unit_alternatives(unit: &Result<char, &[u8]>) -> Vec<Vec<u8>> {
    match unit {
        Ok(c) => alternatives(*c).into_iter().map(String::into_bytes).collect(),
        Err(bytes) => vec![bytes.to_vec()],
    }
}

/// Direct evaluation of an ignore-case pattern against a text.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::casefold::{matches, Anchor};
///
/// assert!(matches("straße".as_bytes(), b"STRASSE", Anchor::Whole));
/// assert!(!matches(b"STRASSE", "straße".as_bytes(), Anchor::Whole));
/// assert!(matches(b"ab", b"ABC", Anchor::Prefix));
/// assert!(matches(b"bc", b"aBC", Anchor::Suffix));
/// ```
pub fn matches(pattern: &[u8], text: &[u8], anchor: Anchor) -> bool {
    let units = units(pattern);
    // Sets of text positions reachable after matching a number of pattern units.
    let mut positions: Vec<usize> = if anchor == Anchor::Suffix { vec![text.len()] } else { vec![0] };
    let mut next = Vec::new();
    let ordered: Box<dyn Iterator<Item = &Result<char, &[u8]>>> =
        if anchor == Anchor::Suffix { Box::new(units.iter().rev()) } else { Box::new(units.iter()) };
    for unit in ordered {
        next.clear();
        for alt in unit_alternatives(unit) {
            for &p in &positions {
                if anchor == Anchor::Suffix {
                    if text[..p].ends_with(&alt) {
                        next.push(p - alt.len());
                    }
                } else if text[p..].starts_with(&alt) {
                    next.push(p + alt.len());
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut positions, &mut next);
        if positions.is_empty() {
            return false;
        }
    }
    match anchor {
        Anchor::Whole => positions.contains(&text.len()),
        Anchor::Prefix | Anchor::Suffix => !positions.is_empty(),
    }
}

/// Appends a regex (for `regex-automata`, bytes mode) matching exactly the texts `pattern`
/// accepts, without anchors.
pub fn push_regex(pattern: &[u8], out: &mut String) {
    for unit in units(pattern) {
        let alts = unit_alternatives(&unit);
        if alts.len() == 1 {
            push_literal(&alts[0], out);
        } else {
            out.push_str("(?:");
            for (i, alt) in alts.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                push_literal(alt, out);
            }
            out.push(')');
        }
    }
}

/// Appends a regex matching exactly the bytes `literal` (invalid UTF-8 bytes literally).
pub fn push_literal(literal: &[u8], out: &mut String) {
    for chunk in literal.utf8_chunks() {
        out.push_str(&regex_syntax::escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "(?-u:\\x{b:02X})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("alice", "ALICE", true),
            ("ärger", "ÄRGER", true),
            ("straße", "STRASSE", true),
            ("STRASSE", "straße", false),
            ("straße", "STRAẞE", false),
            ("σίσυφος", "ΣΊΣΥΦΟΣ", true),
            ("ΣΊΣΥΦΟΣ", "σίσυφος", false),
            ("i", "İ", false),
            ("k", "\u{212A}", false),
            ("x😀", "x😀", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p.as_bytes(), t.as_bytes(), Anchor::Whole), *want, "{p} vs {t}");
        }
    }

    #[test]
    fn regex_form_escapes_metacharacters() {
        let mut re = String::new();
        push_regex(b"a.b", &mut re);
        assert_eq!(re, r"(?:a|A)\.(?:b|B)");
        let mut lit = String::new();
        push_literal(&[b'x', 0xED, 0xA0, 0x80], &mut lit);
        assert_eq!(lit, r"x(?-u:\xED)(?-u:\xA0)(?-u:\x80)");
    }
}
