//! The event scanner: raw JSON bytes in, leaf values of referenced paths out.
//!
//! The scanner walks the event once, guided by the [`FieldTree`] of paths that some rule
//! references. A key that leads nowhere in the tree has its value skipped without decoding
//! (strings are not unescaped, numbers not converted); only leaves on referenced paths are
//! decoded and handed to the sink, together with their *array context* (see [`Ctx`]).
//!
//! Every byte is still validated against the JSON grammar (RFC 8259) and the input as UTF-8,
//! so a malformed event is reported with the byte offset of the problem however little of it
//! the rules read. The walk is iterative (an explicit stack, not recursion), so nesting depth
//! costs heap memory linear in the depth and never native stack.

use super::dom::{decode_string_body, scan_number};
use super::fields::{FieldNode, FieldTree, PathId, NO_SLOT};
use super::simd;
use crate::error::EventError;

/// A leaf value handed to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// A string, decoded (UTF-8; lone surrogate escapes become `?`).
    Str(&'a [u8]),
    /// A number: its literal text.
    Num(&'a [u8]),
    /// `true`.
    True,
    /// `false`.
    False,
    /// `null`.
    Null,
    /// An object, reported only by trees made with [`FieldTree::exact`] (its members are
    /// scanned as usual when the tree references paths below it).
    Object,
    /// An array, reported only by trees made with [`FieldTree::exact`] (its elements follow,
    /// each in its own context).
    Array,
}

/// An array-element context: "element of array `array`, which sits in context `parent`".
///
/// Context 0 is the event outside any array. Two leaves can be used together by one rule only
/// if, for every array both sit in, they sit in the same element of it (array-consistent
/// matching); contexts are created in document order, so a context's parent always has a
/// smaller id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The context the array sits in.
    pub parent: u32,
    /// The array (numbered per event in document order).
    pub array: u32,
    /// The element's 0-based position in the array.
    pub index: u32,
    /// The field-tree node whose value the array is (nested arrays share their node).
    pub node: FieldNode,
}

impl Ctx {
    /// The context of the event outside any array.
    pub const ROOT: Ctx = Ctx { parent: 0, array: u32::MAX, index: 0, node: FieldTree::ROOT };
}

/// How much of an event is checked against the JSON grammar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validation {
    /// Every byte: the whole event must be UTF-8 and valid JSON (the default).
    #[default]
    Full,
    /// What is read: referenced keys and values are validated, unreferenced values are skipped
    /// by their brackets and quotes only, and the scan stops as soon as no referenced field
    /// can follow (every referenced key of every open object seen, outside arrays). Faster on
    /// large events; a malformed part that no rule reads may go unreported.
    Lazy,
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    /// `seen`: slots of the node's children met so far; `full`: all of them, or 0 if the node
    /// can never be known complete. A frame is *open* until `seen == full != 0` or it closes.
    /// `slot_in_parent`: the bit to set in the enclosing object when this one closes (a node
    /// with referenced children is only complete once an object value for it was read).
    Object { node: FieldNode, ctx: u32, seen: u64, full: u64, slot_in_parent: u8 },
    Array {
        node: FieldNode,
        parent_ctx: u32,
        array: u32,
        /// Elements read so far.
        len: u32,
    },
}

/// Reusable buffers for [`scan`]; keeping one per thread makes scanning allocation-free in
/// steady state.
#[derive(Debug, Default)]
pub struct ScanScratch {
    stack: Vec<Frame>,
    skip_stack: Vec<u8>,
    value_buf: Vec<u8>,
    key_buf: Vec<u8>,
    /// Array contexts of the last scan; index 0 is the root context.
    pub ctxs: Vec<Ctx>,
}

#[derive(Clone, Copy)]
enum State {
    ObjectStart,
    ObjectKey,
    ArrayStart,
    ArrayElement,
    AfterValue,
}

#[inline]
fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = text.get(pos) {
        if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

fn describe(text: &[u8], pos: usize) -> String {
    match text.get(pos) {
        None => "end of input".to_owned(),
        Some(&b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(&b) if b < 0x80 => format!("byte 0x{b:02x}"),
        Some(_) => {
            let end = (pos + 4).min(text.len());
            let ch = String::from_utf8_lossy(&text[pos..end]).chars().next().unwrap_or('\u{fffd}');
            format!("'{ch}'")
        }
    }
}

fn unexpected(text: &[u8], pos: usize, expected: &str) -> EventError {
    if pos >= text.len() {
        EventError::new(format!("unexpected end of input, {expected}"), pos)
    } else {
        EventError::new(format!("unexpected {}, {expected}", describe(text, pos)), pos)
    }
}

/// Offset of the first `"`, `\\` or control character at or after `pos` (`text.len()` or
/// more if there is none).
#[inline]
pub(crate) fn next_string_special(text: &[u8], mut pos: usize) -> usize {
    loop {
        let mask = match text.get(pos..pos + 16) {
            Some(chunk) => simd::string_special(chunk.try_into().expect("16 bytes")),
            // The padding is NUL, a control character: the mask is never empty here.
            None => simd::string_special(&simd::tail_block(text, pos)),
        };
        if mask != 0 {
            return pos + mask.trailing_zeros() as usize;
        }
        pos += 16;
    }
}

/// Finds the end of a string whose body starts at `pos`. Returns the offset of the closing
/// quote and whether the body contains escapes. Validates escapes and control characters.
///
/// The common case, a plain string closed within 32 bytes, is decided inline from one block
/// or, when the first holds no special byte, two (in CloudTrail events four strings in five
/// close within 16 bytes and nearly all the rest within 32); anything else (longer strings,
/// escapes, errors, the last 32 bytes of the text) goes to [`string_end_slow`].
// Always inlined: it runs for every key and string value, and the call (with its `Result`
// returned through memory) cost more than the block compare itself.
#[allow(clippy::inline_always)]
#[inline(always)]
fn string_end(text: &[u8], pos: usize) -> Result<(usize, bool), EventError> {
    if let Some(chunk) = text.get(pos..pos + 32) {
        let (lo, hi) = chunk.split_at(16);
        let mut mask = simd::string_special(lo.try_into().expect("16 bytes"));
        if mask == 0 {
            mask = simd::string_special(hi.try_into().expect("16 bytes")) << 16;
        }
        if mask != 0 {
            let end = pos + mask.trailing_zeros() as usize;
            if text[end] == b'"' {
                return Ok((end, false));
            }
        }
    }
    string_end_slow(text, pos)
}

#[inline(never)]
fn string_end_slow(text: &[u8], mut pos: usize) -> Result<(usize, bool), EventError> {
    let mut escaped = false;
    loop {
        pos = next_string_special(text, pos);
        let Some(&b) = text.get(pos) else {
            return Err(EventError::new("unterminated string", text.len()));
        };
        match b {
            b'"' => return Ok((pos, escaped)),
            b'\\' => {
                escaped = true;
                match text.get(pos + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 2,
                    Some(b'u') => {
                        let hex = text.get(pos + 2..pos + 6);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(EventError::new("invalid \\u escape in string", pos));
                        }
                        pos += 6;
                    }
                    None => return Err(EventError::new("unterminated string", text.len())),
                    Some(_) => {
                        return Err(EventError::new(
                            format!("invalid escape {} in string", describe(text, pos + 1)),
                            pos,
                        ))
                    }
                }
            }
            b if b < 0x20 => {
                return Err(EventError::new(format!("control character 0x{b:02x} in string (it must be escaped)"), pos))
            }
            _ => pos += 1,
        }
    }
}

fn literal(text: &[u8], pos: usize, word: &[u8]) -> Result<usize, EventError> {
    if text.get(pos..pos + word.len()).is_some_and(|w| simd::bytes_eq(w, word)) {
        Ok(pos + word.len())
    } else {
        Err(unexpected(text, pos, "expected a value"))
    }
}

fn number(text: &[u8], pos: usize) -> Result<usize, EventError> {
    scan_number(text, pos).map_err(|(kind, at)| EventError::new(format!("invalid number ({kind})"), at))
}

/// Skips one complete value starting at `pos` (after whitespace), validating it; returns the
/// offset just past it. Tests are ordered by how often each token occurs in events (strings,
/// then containers, then scalars), which keeps the branches predictable.
fn skip_value(text: &[u8], mut pos: usize, stack: &mut Vec<u8>) -> Result<usize, EventError> {
    stack.clear();
    loop {
        // A value is expected at `pos`.
        pos = skip_ws(text, pos);
        let Some(&b) = text.get(pos) else {
            return Err(unexpected(text, pos, "expected a value"));
        };
        if b == b'"' {
            pos = string_end(text, pos + 1)?.0 + 1;
        } else if b == b'{' {
            pos = skip_ws(text, pos + 1);
            if text.get(pos) == Some(&b'}') {
                pos += 1;
            } else {
                stack.push(b'}');
                pos = skip_key(text, pos)?;
                continue;
            }
        } else if b == b'[' {
            let after = skip_ws(text, pos + 1);
            if text.get(after) == Some(&b']') {
                pos = after + 1;
            } else {
                stack.push(b']');
                pos += 1;
                continue;
            }
        } else if b == b'-' || b.is_ascii_digit() {
            pos = number(text, pos)?;
        } else if b == b't' {
            pos = literal(text, pos, b"true")?;
        } else if b == b'f' {
            pos = literal(text, pos, b"false")?;
        } else if b == b'n' {
            pos = literal(text, pos, b"null")?;
        } else {
            return Err(unexpected(text, pos, "expected a value"));
        }
        // A value ended: close containers until a comma asks for the next value.
        loop {
            let Some(&close) = stack.last() else {
                return Ok(pos);
            };
            pos = skip_ws(text, pos);
            match text.get(pos) {
                Some(b',') => {
                    pos += 1;
                    if close == b'}' {
                        pos = skip_key(text, skip_ws(text, pos))?;
                    }
                    break;
                }
                Some(&b) if b == close => {
                    stack.pop();
                    pos += 1;
                }
                _ => {
                    let expected = if close == b'}' { "expected ',' or '}'" } else { "expected ',' or ']'" };
                    return Err(unexpected(text, pos, expected));
                }
            }
        }
    }
}

/// Skips `"key"` and the colon after it.
#[allow(clippy::inline_always)] // on the path of every skipped member, as `string_end`
#[inline(always)]
fn skip_key(text: &[u8], pos: usize) -> Result<usize, EventError> {
    if text.get(pos) != Some(&b'"') {
        return Err(unexpected(text, pos, "expected a string key"));
    }
    let end = string_end(text, pos + 1)?.0;
    let colon = skip_ws(text, end + 1);
    if text.get(colon) != Some(&b':') {
        return Err(unexpected(text, colon, "expected ':' after the key"));
    }
    Ok(colon + 1)
}

/// UTF-8 validity of a short slice (keys, values): ASCII is checked word by word first.
#[inline]
fn utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Skips one value by structure only (brackets and strings), for [`Validation::Lazy`].
fn skip_value_lazy(text: &[u8], mut pos: usize) -> Result<usize, EventError> {
    let start = pos;
    match text.get(pos) {
        None => return Err(unexpected(text, pos, "expected a value")),
        Some(b'"') => return Ok(string_end(text, pos + 1)?.0 + 1),
        Some(b'{' | b'[') => {}
        Some(_) => {
            // A scalar: up to the next delimiter.
            while let Some(&b) = text.get(pos) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                pos += 1;
            }
            return Ok(pos);
        }
    }
    skip_container_lazy(text, start)
}

/// Bytes escaped by a backslash among 64 bytes: the byte after each backslash that is not
/// itself escaped. `carry` says the first byte is escaped (a backslash ended the previous
/// block) and is set when the last byte is an escaping backslash.
#[inline]
fn escaped_bytes(mut backslash: u64, carry: &mut bool) -> u64 {
    let mut escaped = 0u64;
    if *carry {
        escaped = 1;
        backslash &= !1;
    }
    *carry = false;
    while backslash != 0 {
        let i = backslash.trailing_zeros();
        if i == 63 {
            *carry = true;
            break;
        }
        escaped |= 2u64 << i;
        // This backslash and the byte it escapes (which may be a backslash) are done.
        backslash &= !(3u64 << i);
    }
    escaped
}

/// Bit `i` set when an odd number of bits `0..=i` of `x` are set: with `x` the unescaped
/// quotes, the bytes inside strings (opening quote included, closing quote excluded).
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Which bytes of a text read in 64-byte blocks lie inside strings, carried from block to
/// block: quotes escaped by an odd run of backslashes are dropped, then the bytes inside
/// strings are a prefix XOR of the remaining quotes.
#[derive(Debug, Default)]
pub(crate) struct StringBlocks {
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// The previous block ended with an escaping backslash.
    escape_carry: bool,
}

impl StringBlocks {
    /// The bytes inside strings among the next 64 (opening quote included, closing quote
    /// excluded), given their quote and backslash masks.
    #[inline]
    pub(crate) fn inside(&mut self, mut quote: u64, backslash: u64) -> u64 {
        if backslash != 0 || self.escape_carry {
            quote &= !escaped_bytes(backslash, &mut self.escape_carry);
        }
        let strings = prefix_xor(quote) ^ self.in_string;
        self.in_string = ((strings as i64) >> 63) as u64;
        strings
    }
}

/// Calls `f` on the 64 bytes at `pos`; past the end of `text` the block is padded with NUL
/// bytes (no quote, backslash, bracket or whitespace).
#[inline]
pub(crate) fn with_block<R>(text: &[u8], pos: usize, f: impl FnOnce(&[u8; 64]) -> R) -> R {
    match text.get(pos..pos + 64) {
        Some(chunk) => f(chunk.try_into().expect("64 bytes")),
        None => {
            let mut block = [0u8; 64];
            let rest = text.get(pos..).unwrap_or_default();
            block[..rest.len()].copy_from_slice(rest);
            f(&block)
        }
    }
}

/// Skips the array or object starting at `start` by its brackets and quotes only, 64 bytes
/// per step (a simdjson-style structural pass): quotes escaped by backslashes are dropped,
/// the bytes inside strings found with a prefix XOR of the quotes, and the brackets outside
/// strings counted; a block whose closing brackets cannot bring the depth to zero is passed
/// over with two population counts.
fn skip_container_lazy(text: &[u8], start: usize) -> Result<usize, EventError> {
    let mut pos = start;
    let mut depth: u64 = 0;
    let mut blocks = StringBlocks::default();
    while pos < text.len() {
        let masks = with_block(text, pos, simd::skip_masks);
        let strings = blocks.inside(masks.quote, masks.backslash);
        let open = masks.open & !strings;
        let close = masks.close & !strings;
        let closes = u64::from(close.count_ones());
        if depth > closes {
            depth = depth + u64::from(open.count_ones()) - closes;
        } else {
            let mut brackets = open | close;
            while brackets != 0 {
                let i = brackets.trailing_zeros();
                if open >> i & 1 == 1 {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(pos + i as usize + 1);
                    }
                }
                brackets &= brackets - 1;
            }
        }
        pos += 64;
    }
    // Reported where the input ends, like an unterminated string: that is where the value
    // is cut off (a reader tells a record cut by damaged data from a malformed one by it).
    Err(EventError::new(format!("unexpected end of input inside the array or object at byte {start}"), text.len()))
}

/// Skips one JSON value starting at `pos` by its brackets and quotes only (no grammar
/// check); returns the offset just past it. Used to split inputs into records quickly.
///
/// # Errors
///
/// An [`EventError`] if the value is cut off (unbalanced brackets, unterminated string).
///
/// # Example
///
/// ```
/// use trailmatch_core::json::scan::skip_structure;
///
/// assert_eq!(skip_structure(br#"{"a": ["}"]} tail"#, 0).unwrap(), 12);
/// assert!(skip_structure(br#"{"a": [1}"#, 0).is_err());
/// ```
pub fn skip_structure(text: &[u8], pos: usize) -> Result<usize, EventError> {
    skip_value_lazy(text, pos)
}

/// Calls `f(key, value_start, value_end)` for each member of the object starting at `pos`
/// (keys decoded), skipping values by structure, until `f` returns `false` or the object
/// ends. Returns where the walk stopped: just after the object's closing brace, or after the
/// value on which `f` returned `false`.
///
/// # Errors
///
/// An [`EventError`] if the object is malformed where it is read.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::scan::top_level_values;
///
/// let text = br#"{"a": {"x": 1}, "b": "y"} {"next": 2}"#;
/// let mut keys = Vec::new();
/// let end = top_level_values(text, 0, &mut |k, s, e| { keys.push((k.to_vec(), &text[s..e])); true }).unwrap();
/// assert_eq!(keys, vec![(b"a".to_vec(), &br#"{"x": 1}"#[..]), (b"b".to_vec(), &br#""y""#[..])]);
/// assert_eq!(&text[end..], br#" {"next": 2}"#);
/// ```
pub fn top_level_values(
    text: &[u8],
    pos: usize,
    f: &mut impl FnMut(&[u8], usize, usize) -> bool,
) -> Result<usize, EventError> {
    if text.get(pos) != Some(&b'{') {
        return Err(unexpected(text, pos, "expected a JSON object"));
    }
    let mut pos = skip_ws(text, pos + 1);
    if text.get(pos) == Some(&b'}') {
        return Ok(pos + 1);
    }
    let mut decoded = Vec::new();
    loop {
        if text.get(pos) != Some(&b'"') {
            return Err(unexpected(text, pos, "expected a string key"));
        }
        let (end, escaped) = string_end(text, pos + 1)?;
        let key: &[u8] = if escaped {
            decoded.clear();
            decode_string_body(text, pos + 1, &mut decoded)
                .map_err(|e| EventError::new(e.kind.to_string(), e.offset))?;
            &decoded
        } else {
            &text[pos + 1..end]
        };
        pos = skip_ws(text, end + 1);
        if text.get(pos) != Some(&b':') {
            return Err(unexpected(text, pos, "expected ':' after the key"));
        }
        let start = skip_ws(text, pos + 1);
        let value_end = skip_value_lazy(text, start)?;
        // A scalar holding a quote or an opening bracket (a damaged string or container) would
        // be read differently by a count of brackets and quotes: refused, so that a record's
        // end found by this walk is the one that count finds.
        if !matches!(text[start], b'"' | b'{' | b'[') {
            if let Some(i) = text[start..value_end].iter().position(|b| matches!(b, b'"' | b'{' | b'[')) {
                return Err(unexpected(text, start + i, "expected a value"));
            }
        }
        if !f(key, start, value_end) {
            return Ok(value_end);
        }
        pos = skip_ws(text, value_end);
        match text.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b'}') => return Ok(pos + 1),
            _ => return Err(unexpected(text, pos, "expected ',' or '}'")),
        }
    }
}

/// Sets a child's bit in the object frame at `index`. When that completes the frame (every
/// referenced key seen), the frame's own bit is set in the enclosing object, and so on up.
#[inline]
fn mark_seen(stack: &mut [Frame], mut index: usize, mut slot: u8, open: &mut usize) {
    loop {
        let Some(Frame::Object { seen, full, slot_in_parent, .. }) = stack.get_mut(index) else { return };
        if *full == 0 || *seen == *full {
            return;
        }
        *seen |= 1 << slot;
        if *seen != *full {
            return;
        }
        *open -= 1;
        if *slot_in_parent == NO_SLOT || index == 0 {
            return;
        }
        slot = *slot_in_parent;
        index -= 1;
    }
}

/// Pops the innermost object frame. Only a *complete* frame counts as seen in the enclosing
/// object (already done by [`mark_seen`]): an object that closes without some referenced key
/// did not cover that path, which a dotted key further up (`"a.b.c"`) may still supply.
#[inline]
fn close_object(stack: &mut Vec<Frame>, open: &mut usize) {
    if let Some(Frame::Object { seen, full, .. }) = stack.pop() {
        *open -= usize::from(full == 0 || seen != full);
    }
}

/// Scans one event, calling `sink(path, leaf, ctx)` for every leaf value on a referenced path.
///
/// The event must be a JSON object. `scratch.ctxs` holds the array contexts afterwards.
///
/// # Errors
///
/// An [`EventError`] with the byte offset of the first violation of UTF-8 or of the JSON
/// grammar, or if the top-level value is not an object.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::fields::FieldTree;
/// use trailmatch_core::json::scan::{scan, Leaf, ScanScratch};
///
/// let mut tree = FieldTree::new();
/// let name = tree.intern(b"detail.eventName");
/// let mut seen = Vec::new();
/// let event = br#"{"detail": {"big": [1, 2, {"x": 3}], "eventName": "Create\u0055ser"}}"#;
/// scan(event, &tree, &mut ScanScratch::default(), &mut |path, leaf, _ctx| {
///     if let Leaf::Str(s) = leaf {
///         seen.push((path, s.to_vec()));
///     }
/// })
/// .unwrap();
/// assert_eq!(seen, vec![(name, b"CreateUser".to_vec())]);
/// ```
pub fn scan(
    text: &[u8],
    tree: &FieldTree,
    scratch: &mut ScanScratch,
    sink: &mut impl FnMut(PathId, Leaf<'_>, u32),
) -> Result<(), EventError> {
    scan_with(text, tree, Validation::Full, scratch, sink)
}

/// [`scan`] with a choice of [`Validation`].
///
/// # Errors
///
/// See [`scan`]; with [`Validation::Lazy`] only what is read is checked.
pub fn scan_with(
    text: &[u8],
    tree: &FieldTree,
    validation: Validation,
    scratch: &mut ScanScratch,
    sink: &mut impl FnMut(PathId, Leaf<'_>, u32),
) -> Result<(), EventError> {
    scan_at(text, tree, FieldTree::ROOT, validation, scratch, sink)
}

/// [`scan_with`] for an object that sits at `start` in the field tree rather than at the top
/// of the event: paths are reported as if the object were the value of that node (a CloudTrail
/// record scanned as the `detail` of an EventBridge envelope that is never built).
///
/// # Errors
///
/// See [`scan`].
///
/// # Example
///
/// ```
/// use trailmatch_core::json::fields::FieldTree;
/// use trailmatch_core::json::scan::{scan_at, Validation, ScanScratch};
///
/// let mut tree = FieldTree::new();
/// let name = tree.intern(b"detail.eventName");
/// let detail = tree.child(FieldTree::ROOT, b"detail").unwrap();
/// let mut seen = Vec::new();
/// scan_at(br#"{"eventName": "CreateUser"}"#, &tree, detail, Validation::Full, &mut ScanScratch::default(),
///         &mut |path, _, _| seen.push(path)).unwrap();
/// assert_eq!(seen, vec![name]);
/// ```
pub fn scan_at(
    text: &[u8],
    tree: &FieldTree,
    start: FieldNode,
    validation: Validation,
    scratch: &mut ScanScratch,
    sink: &mut impl FnMut(PathId, Leaf<'_>, u32),
) -> Result<(), EventError> {
    let lazy = validation == Validation::Lazy;
    if !lazy {
        if let Err(e) = simdutf8::compat::from_utf8(text) {
            return Err(EventError::new("invalid UTF-8", e.valid_up_to()));
        }
    }
    scratch.stack.clear();
    scratch.ctxs.clear();
    scratch.ctxs.push(Ctx::ROOT);
    let containers = tree.is_exact();
    let mut next_array: u32 = 0;
    // Frames that may still contain a referenced field (lazy mode's early exit at zero).
    let mut open: usize = 0;
    // Most skipped values are strings: those are skipped inline, the same in both modes.
    // Most skipped values are strings: those are skipped inline, the same in both modes.
    // (A 64-byte-block validating skip of containers, like the lazy one, was measured slower
    // than `skip_value` on CloudTrail events: see docs/PERFORMANCE.md, round 3.)
    let skip = |text: &[u8], pos: usize, stack: &mut Vec<u8>| match text.get(pos) {
        Some(b'"') => Ok(string_end(text, pos + 1)?.0 + 1),
        _ if lazy => skip_value_lazy(text, pos),
        _ => skip_value(text, pos, stack),
    };

    let mut pos = skip_ws(text, 0);
    match text.get(pos) {
        Some(b'{') => {}
        None => return Err(EventError::new("empty input, expected a JSON object", pos)),
        Some(_) => {
            // Say what it is if it is valid JSON, so "not an object" is not mistaken for a
            // syntax error.
            return match skip_value(text, pos, &mut scratch.skip_stack) {
                Ok(_) => Err(EventError::new("the event must be a JSON object", pos)),
                Err(e) => Err(e),
            };
        }
    }
    pos += 1;
    open += 1;
    let full = tree.child_mask(start).unwrap_or(0);
    scratch.stack.push(Frame::Object { node: start, ctx: 0, seen: 0, full, slot_in_parent: NO_SLOT });
    // The parent bit an object value read next would set when it completes.
    let mut pending_slot;
    let mut state = State::ObjectStart;
    loop {
        // `target`: (field node or None to skip, context) of the value about to be read.
        let (target, ctx) = match state {
            State::ObjectStart => {
                pos = skip_ws(text, pos);
                if text.get(pos) == Some(&b'}') {
                    pos += 1;
                    close_object(&mut scratch.stack, &mut open);
                    state = State::AfterValue;
                    continue;
                }
                state = State::ObjectKey;
                continue;
            }
            State::ObjectKey => {
                pos = skip_ws(text, pos);
                if text.get(pos) != Some(&b'"') {
                    return Err(unexpected(text, pos, "expected a string key"));
                }
                let (end, escaped) = string_end(text, pos + 1)?;
                let Some(&Frame::Object { node, ctx, full, .. }) = scratch.stack.last() else {
                    unreachable!("keys are read only inside objects")
                };

                let key: &[u8] = if escaped {
                    scratch.key_buf.clear();
                    decode_string_body(text, pos + 1, &mut scratch.key_buf)
                        .map_err(|e| EventError::new(e.kind.to_string(), e.offset))?;
                    &scratch.key_buf
                } else {
                    &text[pos + 1..end]
                };
                if lazy && !utf8(key) {
                    return Err(EventError::new("invalid UTF-8 in a key", pos + 1));
                }
                let dotted = if escaped {
                    memchr::memchr(b'.', key).is_some()
                } else {
                    simd::contains(text, pos + 1, end, b'.')
                };
                let child = tree.lookup_key_dotted(node, key, dotted);
                pending_slot = NO_SLOT;
                if let Some(c) = child {
                    let slot = tree.slot(c);
                    // A dotted key may reach a node without covering the path to it: not "seen".
                    if slot != NO_SLOT && full != 0 && !dotted {
                        if tree.has_children(c) {
                            pending_slot = slot;
                        } else {
                            let top = scratch.stack.len() - 1;
                            mark_seen(&mut scratch.stack, top, slot, &mut open);
                        }
                    }
                }
                pos = skip_ws(text, end + 1);
                if text.get(pos) != Some(&b':') {
                    return Err(unexpected(text, pos, "expected ':' after the key"));
                }
                pos = skip_ws(text, pos + 1);
                (child, ctx)
            }
            State::ArrayStart => {
                pos = skip_ws(text, pos);
                if text.get(pos) == Some(&b']') {
                    pos += 1;
                    scratch.stack.pop();
                    open -= 1;
                    state = State::AfterValue;
                    continue;
                }
                state = State::ArrayElement;
                continue;
            }
            State::ArrayElement => {
                pos = skip_ws(text, pos);
                let Some(Frame::Array { node, parent_ctx, array, len }) = scratch.stack.last_mut() else {
                    unreachable!("elements are read only inside arrays")
                };
                let (node, parent, array, index) = (*node, *parent_ctx, *array, *len);
                *len += 1;
                let ctx = scratch.ctxs.len() as u32;
                scratch.ctxs.push(Ctx { parent, array, index, node });
                pending_slot = NO_SLOT;
                (Some(node), ctx)
            }
            State::AfterValue => {
                pos = skip_ws(text, pos);
                match scratch.stack.last() {
                    None => {
                        if pos < text.len() {
                            return Err(unexpected(text, pos, "expected end of input after the event object"));
                        }
                        return Ok(());
                    }
                    Some(Frame::Object { .. }) => {
                        if lazy && open == 0 {
                            // Every referenced key of every open object has been read.
                            return Ok(());
                        }
                        match text.get(pos) {
                            Some(b',') => {
                                pos += 1;
                                state = State::ObjectKey;
                            }
                            Some(b'}') => {
                                pos += 1;
                                close_object(&mut scratch.stack, &mut open);
                            }
                            _ => return Err(unexpected(text, pos, "expected ',' or '}'")),
                        }
                    }
                    Some(Frame::Array { .. }) => match text.get(pos) {
                        Some(b',') => {
                            pos += 1;
                            state = State::ArrayElement;
                        }
                        Some(b']') => {
                            pos += 1;
                            scratch.stack.pop();
                            open -= 1;
                        }
                        _ => return Err(unexpected(text, pos, "expected ',' or ']'")),
                    },
                }
                continue;
            }
        };

        // Read one value for `target`.
        let Some(node) = target else {
            // The value of a key no rule references (so inside an object): in compact text the
            // next key follows its comma directly, without the pass through `AfterValue`.
            pos = skip(text, pos, &mut scratch.skip_stack)?;
            state = if text.get(pos) == Some(&b',') && !(lazy && open == 0) {
                pos += 1;
                State::ObjectKey
            } else {
                State::AfterValue
            };
            continue;
        };
        let Some(&b) = text.get(pos) else {
            return Err(unexpected(text, pos, "expected a value"));
        };
        state = State::AfterValue;
        match b {
            b'{' => {
                if containers {
                    if let Some(path) = tree.path_at(node) {
                        sink(path, Leaf::Object, ctx);
                    }
                }
                if tree.has_children(node) {
                    // Open until all its referenced keys are seen; a node whose children
                    // cannot all be tracked (`full == 0`) stays open until it closes.
                    open += 1;
                    let full = tree.child_mask(node).unwrap_or(0);
                    scratch.stack.push(Frame::Object { node, ctx, seen: 0, full, slot_in_parent: pending_slot });
                    pos += 1;
                    state = State::ObjectStart;
                } else {
                    pos = skip(text, pos, &mut scratch.skip_stack)?;
                }
            }
            b'[' => {
                if containers {
                    if let Some(path) = tree.path_at(node) {
                        sink(path, Leaf::Array, ctx);
                    }
                }
                scratch.stack.push(Frame::Array { node, parent_ctx: ctx, array: next_array, len: 0 });
                open += 1;
                next_array += 1;
                pos += 1;
                state = State::ArrayStart;
            }
            b'"' => {
                let (end, escaped) = string_end(text, pos + 1)?;
                if let Some(path) = tree.path_at(node) {
                    if escaped {
                        scratch.value_buf.clear();
                        decode_string_body(text, pos + 1, &mut scratch.value_buf)
                            .map_err(|e| EventError::new(e.kind.to_string(), e.offset))?;
                        if lazy && !utf8(&scratch.value_buf) {
                            return Err(EventError::new("invalid UTF-8 in a string", pos + 1));
                        }
                        sink(path, Leaf::Str(&scratch.value_buf), ctx);
                    } else {
                        let value = &text[pos + 1..end];
                        if lazy && !utf8(value) {
                            return Err(EventError::new("invalid UTF-8 in a string", pos + 1));
                        }
                        sink(path, Leaf::Str(value), ctx);
                    }
                }
                pos = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = number(text, pos)?;
                if let Some(path) = tree.path_at(node) {
                    sink(path, Leaf::Num(&text[pos..end]), ctx);
                }
                pos = end;
            }
            b't' | b'f' | b'n' => {
                let (word, leaf): (&[u8], Leaf<'_>) = match b {
                    b't' => (b"true", Leaf::True),
                    b'f' => (b"false", Leaf::False),
                    _ => (b"null", Leaf::Null),
                };
                let end = literal(text, pos, word)?;
                if let Some(path) = tree.path_at(node) {
                    sink(path, leaf, ctx);
                }
                pos = end;
            }
            _ => return Err(unexpected(text, pos, "expected a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(tree: &FieldTree, text: &[u8]) -> Result<Vec<(PathId, String, u32)>, EventError> {
        let mut out = Vec::new();
        let mut scratch = ScanScratch::default();
        scan(text, tree, &mut scratch, &mut |p, leaf, ctx| {
            let s = match leaf {
                Leaf::Str(s) => format!("s:{}", String::from_utf8_lossy(s)),
                Leaf::Num(n) => format!("n:{}", String::from_utf8_lossy(n)),
                Leaf::True => "true".into(),
                Leaf::False => "false".into(),
                Leaf::Null => "null".into(),
                Leaf::Object => "{}".into(),
                Leaf::Array => "[]".into(),
            };
            out.push((p, s, ctx));
        })?;
        Ok(out)
    }

    fn tree(paths: &[&str]) -> FieldTree {
        let mut t = FieldTree::new();
        for p in paths {
            t.intern(p.as_bytes());
        }
        t
    }

    #[test]
    fn extracts_only_referenced_leaves() {
        let t = tree(&["a", "b.c"]);
        let got = collect(&t, br#"{"x": {"a": 1}, "a": [true, null, "s"], "b": {"c": -1.5e2, "d": [1]}}"#).unwrap();
        let got: Vec<String> = got.into_iter().map(|(_, s, _)| s).collect();
        assert_eq!(got, vec!["true", "null", "s:s", "n:-1.5e2"]);
    }

    #[test]
    fn escapes_and_surrogate_pairs_in_keys_and_values() {
        let t = tree(&["k\u{e9}y"]);
        let got = collect(&t, br#"{"k\u00e9y": "\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t \u0000"}"#).unwrap();
        assert_eq!(got[0].1, "s:\u{1F600} \"q\" \\ / \u{8}\u{c}\n\r\t \u{0}");
        // A lone surrogate is accepted (WTF-8), as in Java strings.
        let got = collect(&t, br#"{"k\u00e9y": "\ud800"}"#).unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn dotted_event_keys_reach_nested_paths() {
        let t = tree(&["a.b"]);
        let got = collect(&t, br#"{"a.b": "x", "a": {"b": "y"}}"#).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn array_contexts() {
        let t = tree(&["e.f", "e.l"]);
        let got = collect(&t, br#"{"e": [{"f": "A", "l": "B"}, {"f": "C"}]}"#).unwrap();
        assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), vec![1, 1, 2]);
        let mut scratch = ScanScratch::default();
        scan(br#"{"e": [[{"f": 1}], [{"f": 2}]]}"#, &t, &mut scratch, &mut |_, _, _| {}).unwrap();
        // root, outer[0], inner[0], outer[1], inner[0]
        assert_eq!(scratch.ctxs.len(), 5);
        assert_eq!(scratch.ctxs[2].parent, 1);
        assert_eq!(scratch.ctxs[4].parent, 3);
        assert_ne!(scratch.ctxs[1].array, scratch.ctxs[2].array);
    }

    #[test]
    fn exact_trees_report_containers_indices_and_ignore_dotted_keys() {
        let mut t = FieldTree::exact();
        t.intern(b"a.b");
        t.intern(b"c");
        let mut scratch = ScanScratch::default();
        let mut got = Vec::new();
        let event = br#"{"a.b": 1, "a": [{"b": "x"}, {"b": [2, 3]}], "c": {"d": 1}}"#;
        scan(event, &t, &mut scratch, &mut |p, leaf, ctx| got.push((p, format!("{leaf:?}"), ctx))).unwrap();
        let leaves: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
        assert_eq!(leaves, vec!["Str([120])", "Array", "Num([50])", "Num([51])", "Object"]);
        // "x" is in a[0]; 2 and 3 are elements 0 and 1 of the array at a[1].b.
        let x = scratch.ctxs[got[0].2 as usize];
        assert_eq!((x.index, x.parent), (0, 0));
        let three = scratch.ctxs[got[3].2 as usize];
        assert_eq!(three.index, 1);
        assert_eq!(scratch.ctxs[three.parent as usize].index, 1);
        assert_ne!(three.node, scratch.ctxs[three.parent as usize].node);
        // Ordinary trees report neither containers nor dotted keys differently.
        assert_eq!(collect(&tree(&["c"]), br#"{"c": {"d": 1}}"#).unwrap(), vec![]);
    }

    #[test]
    fn malformed_input_names_offsets() {
        let t = tree(&["a"]);
        let cases: &[(&[u8], usize)] = &[
            (b"", 0),
            (b"[1]", 0),
            (b"{\"a\": 1,}", 8),
            (b"{\"a\" 1}", 5),
            (b"{\"a\": tru}", 6),
            (b"{\"a\": \"x}", 9),
            (b"{\"a\": \"\x01\"}", 7),
            (b"{\"a\": \"\\q\"}", 7),
            (b"{\"a\": 01}", 6),
            (b"{\"a\": 1} x", 9),
            (b"{\"z\": [1, 2}", 11),
            (b"{\"z\": {\"y\": }}", 12),
            (b"{\"a\": \"\xff\"}", 7),
            (b"{\"z\": [\"\\u12g4\"]}", 8),
            (b"{\"a\": 1", 7),
            (b"{\"a\": 1}\x00", 8),
        ];
        for (text, offset) in cases {
            let err = collect(&t, text).unwrap_err();
            assert_eq!(err.offset(), *offset, "{:?}: {err}", String::from_utf8_lossy(text));
        }
        assert!(collect(&t, b"[1]").unwrap_err().message().contains("must be a JSON object"));
    }

    #[test]
    fn deep_nesting_and_huge_arrays_are_linear() {
        let t = tree(&["a"]);
        let depth = 200_000;
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
        let got = collect(&t, deep.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        let skipped = format!("{{\"z\": {}1{}, \"a\": 2}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(collect(&t, skipped.as_bytes()).unwrap().len(), 1);
        let objs = format!("{{\"z\": {}{}}}", "{\"k\":".repeat(depth), "}".repeat(depth));
        assert!(collect(&t, objs.as_bytes()).unwrap_err().message().contains("expected a value"));
        let big = format!("{{\"a\": [{}0]}}", "1,".repeat(100_000));
        assert_eq!(collect(&t, big.as_bytes()).unwrap().len(), 100_001);
    }

    fn collect_lazy(tree: &FieldTree, text: &[u8]) -> Result<Vec<String>, EventError> {
        let mut out = Vec::new();
        scan_with(text, tree, Validation::Lazy, &mut ScanScratch::default(), &mut |_, leaf, _| {
            out.push(format!("{leaf:?}"));
        })?;
        Ok(out)
    }

    #[test]
    fn lazy_mode_stops_once_every_referenced_key_is_seen() {
        let t = tree(&["a", "d.e"]);
        // Everything after d.e is never read: garbage there is not reported.
        let text = br#"{"a": 1, "d": {"e": "x"} , "z": tru"#;
        assert_eq!(collect_lazy(&t, text).unwrap().len(), 2);
        assert!(collect(&t, text).is_err());
        // Inside d, once e is seen the rest of d is not read either.
        let text = br#"{"a": 1, "d": {"e": "x", "f": [1, 2"#;
        assert_eq!(collect_lazy(&t, text).unwrap().len(), 2);
        // While a referenced key is missing the scan goes on, and sees the error.
        assert!(collect_lazy(&t, br#"{"d": {"e": "x"}, "z": tru"#).unwrap_err().message().contains("end of input"));
    }

    #[test]
    fn lazy_mode_waits_for_the_subtree_of_an_intermediate_node() {
        // "a" is a referenced leaf *and* has a referenced child "a.b": a scalar "a" does not
        // cover "a.b", which may still come as a dotted key or an object.
        let t = tree(&["a", "a.b"]);
        assert_eq!(collect_lazy(&t, br#"{"a": "", "a.b": ""}"#).unwrap().len(), 2);
        assert_eq!(collect_lazy(&t, br#"{"a": "", "a": {"b": 1}}"#).unwrap().len(), 2);
        // An object value covers it: once it closes, nothing referenced can follow.
        assert_eq!(collect_lazy(&t, br#"{"a": {"b": 1}, "z": tru"#).unwrap().len(), 1);
    }

    #[test]
    fn lazy_mode_reads_on_when_a_nested_object_lacks_a_referenced_key() {
        // a.a closes without a.a.a.b, which then comes as a dotted key at the top.
        let t = tree(&["a.a.a", "a.a.a.b"]);
        let got = collect_lazy(&t, br#"{"a": {"a": {"a": ""}}, "a.a.a.b": ""}"#).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn lazy_mode_reads_arrays_and_duplicates_to_the_end_of_their_object() {
        let t = tree(&["a.b"]);
        let got = collect_lazy(&t, br#"{"a": [{"b": 1}, {"b": 2}], "x": 3}"#).unwrap();
        assert_eq!(got.len(), 2);
        // The object holding `b` is complete after the first `b`: a later duplicate is not read.
        let got = collect_lazy(&t, br#"{"a": {"b": 1, "b": 2}}"#).unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn lazy_mode_validates_what_it_reads() {
        let t = tree(&["a"]);
        assert!(collect_lazy(&t, br#"{"a": tru}"#).is_err());
        assert!(collect_lazy(&t, b"{\"a\": \"\xff\"}").is_err());
        assert!(collect_lazy(&t, br#"{"z": {"q": [1, "]"]}, "a": "x"}"#).unwrap() == vec!["Str([120])"]);
        assert!(collect_lazy(&t, br#"{"z": {"q": [1, 2}"#).is_err());
        assert!(collect_lazy(&t, b"[1]").is_err());
    }

    #[test]
    fn lazy_and_full_agree_on_valid_json() {
        let t = tree(&["a", "b.c", "d", "e.f.g"]);
        let docs: &[&[u8]] = &[
            br#"{"a": 1, "b": {"c": [1, {"x": 2}, "s"]}, "q": {"w": [[], {}]}, "d": null}"#,
            br#"{"e": {"f": {"g": true, "h": "x\"y"}}, "a": "\u00e9", "a": 2}"#,
            br#"{"b.c": 1, "b": {"c": 2}, "e": [{"f": [{"g": 1}, {"g": 2}]}]}"#,
            b"{}",
        ];
        for doc in docs {
            let full: Vec<String> = collect(&t, doc).unwrap().into_iter().map(|x| x.1).collect();
            let lazy = collect_lazy(&t, doc).unwrap();
            assert_eq!(full.len(), lazy.len(), "{}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn next_special_byte_at_every_offset_and_length() {
        // A target byte at every offset of texts of every length around the 16-byte blocks,
        // found from every starting offset; none at all gives the end of the text.
        for len in 0..40 {
            for at in 0..=len {
                for target in [b'"', b'\\', 0x1f] {
                    let mut text = vec![b'a'; len];
                    if at < len {
                        text[at] = target;
                    }
                    for from in 0..=len {
                        let want = if at < len && at >= from { at } else { len };
                        assert_eq!(next_string_special(&text, from).min(len), want, "{text:?} from {from}");
                    }
                }
            }
        }
        // Past the end (a string opened on the last byte).
        assert!(next_string_special(b"ab", 3) >= 2);
    }

    /// Byte-by-byte reference for [`skip_container_lazy`]: a quote after an odd run of
    /// backslashes is no quote (wherever it is: outside strings the input is invalid JSON
    /// anyway), bytes between quotes are inside a string, brackets outside strings count.
    fn skip_reference(text: &[u8], start: usize) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (pos, &b) in text.iter().enumerate().skip(start) {
            let was_escaped = escaped;
            escaped = b == b'\\' && !was_escaped;
            match b {
                b'"' if !was_escaped => in_string = !in_string,
                b'{' | b'[' if !in_string => depth += 1,
                b'}' | b']' if !in_string => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(pos + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn block_skipping_agrees_with_a_byte_by_byte_skip() {
        // Seeded pseudo-random texts over the bytes that matter, across block boundaries:
        // runs of backslashes, quotes, brackets inside and outside strings.
        let alphabet = b"{}[]\"\\\\ab";
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let mut text = vec![b'{'];
            text.extend((0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]));
            let got = skip_container_lazy(&text, 0).ok();
            assert_eq!(got, skip_reference(&text, 0), "{:?}", String::from_utf8_lossy(&text));
        }
        // Escapes straddling a block boundary, and a string that hides brackets across blocks.
        for pad in 0..70 {
            let text = format!(r#"{{"{}\\\"]}}", "x": [1]}}"#, "a".repeat(pad));
            assert_eq!(skip_container_lazy(text.as_bytes(), 0).ok(), skip_reference(text.as_bytes(), 0), "{text}");
            assert_eq!(skip_container_lazy(text.as_bytes(), 0).ok(), Some(text.len()), "{text}");
        }
    }
}
