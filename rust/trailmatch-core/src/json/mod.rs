//! JSON readers: a positioned document parser for patterns ([`dom`]), the tree of referenced
//! paths ([`fields`]) and the event scanner that the hot path uses ([`scan`]).

pub mod dom;
pub mod fields;
pub mod scan;
pub mod simd;

/// Appends `s` (UTF-8; invalid bytes shown as U+FFFD) as a JSON string literal.
///
/// # Example
///
/// ```
/// let mut out = String::new();
/// trailmatch_core::json::push_string(b"a\"b\n", &mut out);
/// assert_eq!(out, r#""a\"b\n""#);
/// ```
pub fn push_string(s: &[u8], out: &mut String) {
    // Most values need no escaping: copied whole.
    if scan::next_string_special(s, 0) >= s.len() {
        if let Ok(text) = std::str::from_utf8(s) {
            out.push('"');
            out.push_str(text);
            out.push('"');
            return;
        }
    }
    push_escaped(&String::from_utf8_lossy(s), out);
}

/// [`push_string`] for text already known to be UTF-8.
///
/// # Example
///
/// ```
/// let mut out = String::new();
/// trailmatch_core::json::push_str("tab\there", &mut out);
/// assert_eq!(out, r#""tab\there""#);
/// ```
pub fn push_str(s: &str, out: &mut String) {
    if scan::next_string_special(s.as_bytes(), 0) >= s.len() {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        push_escaped(s, out);
    }
}

fn push_escaped(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends JSON `text` without the whitespace between its tokens; every token (strings with
/// their escapes, numbers as written) is copied unchanged.
///
/// 64 bytes per step: the bytes inside strings are found as in the lazy skip (escaped quotes
/// dropped, a prefix XOR of the quotes), and a block without whitespace outside strings —
/// most of compact CloudTrail text — is copied whole.
///
/// # Example
///
/// ```
/// let mut out = String::new();
/// trailmatch_core::json::push_compact("{ \"a b\" : [1.50 ,\n true] }", &mut out);
/// assert_eq!(out, r#"{"a b":[1.50,true]}"#);
/// ```
pub fn push_compact(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let mut pos = 0;
    let mut blocks = scan::StringBlocks::default();
    // Bytes of `text[..pos]` not yet copied start at `start`.
    let mut start = 0;
    while pos < b.len() {
        let (masks, ws) = scan::with_block(b, pos, |block| (simd::skip_masks(block), simd::whitespace64(block)));
        let strings = blocks.inside(masks.quote, masks.backslash);
        let mut drop = ws & !strings;
        while drop != 0 {
            let i = pos + drop.trailing_zeros() as usize;
            // Whitespace is ASCII, so `i` and `i + 1` are character boundaries.
            out.push_str(&text[start..i]);
            start = i + 1;
            drop &= drop - 1;
        }
        pos += 64;
    }
    out.push_str(&text[start..]);
}

/// [`push_compact`] for bytes: invalid UTF-8 (possible only where validation was lazy) is
/// replaced by U+FFFD, as everywhere events are written out.
///
/// # Example
///
/// ```
/// let mut out = String::new();
/// trailmatch_core::json::push_compact_bytes(b"{\"a\": \"\xff\"}", &mut out);
/// assert_eq!(out, "{\"a\":\"\u{fffd}\"}");
/// ```
pub fn push_compact_bytes(bytes: &[u8], out: &mut String) {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => push_compact(text, out),
        Err(_) => push_compact(&String::from_utf8_lossy(bytes), out),
    }
}

/// The byte-at-a-time definition of [`push_compact`], kept for the tests.
#[cfg(test)]
fn push_compact_reference(text: &str, out: &mut String) {
    let b = text.as_bytes();
    let (mut start, mut i, mut in_string) = (0, 0, false);
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.push_str(&text[start..i]);
                while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[start.min(b.len())..]);
}

/// Length of [`push_compact`]'s output for `text`.
pub fn compact_len(text: &[u8]) -> usize {
    let (mut n, mut i, mut in_string) = (0, 0, false);
    while i < text.len() {
        let c = text[i];
        if in_string {
            if c == b'\\' {
                let step = 2.min(text.len() - i);
                n += step;
                i += step;
                continue;
            }
            in_string = c != b'"';
        } else if c == b'"' {
            in_string = true;
        } else if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            i += 1;
            continue;
        }
        n += 1;
        i += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_agrees_with_the_byte_by_byte_definition() {
        // Seeded texts of JSON-ish pieces — whitespace runs, strings holding whitespace and
        // escaped quotes, backslash runs, multi-byte characters — across block boundaries.
        let pieces = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "  \n\t",
            "\r\n",
            "\"a b\"",
            "\"x\\\" y\"",
            "\"\\\\\"",
            "é",
            "12.5",
            "true",
            "\"é ü\"",
        ];
        let mut next = crate::testing::xorshift(0x5151_2323_7777_0101);
        for _ in 0..20_000 {
            let text: String = (0..next() % 80).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect();
            let (mut got, mut want) = (String::new(), String::new());
            push_compact(&text, &mut got);
            push_compact_reference(&text, &mut want);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn strings_are_escaped_whatever_their_length() {
        for n in 0..40 {
            for special in ["", "\"", "\\", "\n", "\u{1}", "é", "\u{7f}"] {
                let text = format!("{}{special}{}", "a".repeat(n), "b".repeat(n % 5));
                let mut out = String::new();
                push_string(text.as_bytes(), &mut out);
                let back: String = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out:?}: {e}"));
                assert_eq!(back, text);
            }
        }
        let mut out = String::new();
        push_string(b"a\xffb", &mut out);
        assert_eq!(out, "\"a\u{fffd}b\"");
    }
}
