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
    use std::fmt::Write as _;
    out.push('"');
    for c in String::from_utf8_lossy(s).chars() {
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
/// # Example
///
/// ```
/// let mut out = String::new();
/// trailmatch_core::json::push_compact("{ \"a b\" : [1.50 ,\n true] }", &mut out);
/// assert_eq!(out, r#"{"a b":[1.50,true]}"#);
/// ```
pub fn push_compact(text: &str, out: &mut String) {
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
