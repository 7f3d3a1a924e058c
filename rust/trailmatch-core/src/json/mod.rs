//! JSON readers: a positioned document parser for patterns ([`dom`]), the tree of referenced
//! paths ([`fields`]) and the event scanner that the hot path uses ([`scan`]).

pub mod dom;
pub mod fields;
pub mod scan;

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
