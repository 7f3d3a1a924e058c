//! A small JSON document model with byte positions, for patterns and for `explain`.
//!
//! The hot path never builds a document (see [`crate::json::scan`]); this parser exists for
//! inputs that are small or where positions matter more than speed: event patterns (every
//! validation error names a JSON path and byte offset) and the explanation of one match.
//!
//! Nodes live in one arena ([`Document::nodes`]), so nesting depth costs neither native stack
//! when parsing nor when dropping: a 100,000-deep array parses and frees in linear time.
//! Strings are decoded to UTF-8. A lone surrogate escape such as `\ud800` becomes `?`, which is
//! what event-ruler's Java strings turn into when encoded as UTF-8, so `"\ud800"` and `"?"` are
//! the same value there and here.
//!
//! Syntax errors carry Jackson's wording (EventBridge parses patterns with Jackson and returns
//! its message as the reason), see [`SyntaxError`].

use std::fmt::{self, Write as _};

/// Index of a node in [`Document::nodes`].
pub type NodeId = u32;

/// One JSON value with the byte range it occupies in the source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Byte offset of the first character of the value.
    pub start: usize,
    /// Byte offset just past the value.
    pub end: usize,
}

/// An object member: decoded key, key offset, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The decoded key.
    pub key: Vec<u8>,
    /// Byte offset of the key's opening quote.
    pub key_offset: usize,
    /// The member's value.
    pub value: NodeId,
}

/// The kinds of JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The literal text of the number, exactly as written.
    Number(Box<str>),
    /// Decoded string content (UTF-8; lone surrogates become `?`).
    String(Vec<u8>),
    /// The elements, in order.
    Array(Vec<NodeId>),
    /// The members, in order (duplicates kept).
    Object(Vec<Member>),
}

impl Value {
    /// Short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

/// A parsed JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Every node; children refer to each other by index.
    pub nodes: Vec<Node>,
    /// The top-level value.
    pub root: NodeId,
}

impl Document {
    /// The node with the given id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The root value.
    pub fn root(&self) -> &Node {
        self.node(self.root)
    }
}

/// What went wrong while parsing, in Jackson's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    /// `Unexpected character ('x' (code 120)): <expectation>`
    UnexpectedChar {
        /// The character found.
        ch: char,
        /// What was expected instead.
        expected: &'static str,
    },
    /// `Unexpected character ('x' (code 120)) in numeric value: <what>`
    NumberChar {
        /// The character found.
        ch: char,
        /// What is wrong with the number.
        what: &'static str,
    },
    /// `Unrecognized token 'foo': was expecting (JSON String, Number, ...)`
    UnrecognizedToken(String),
    /// `Unexpected end-of-input<what>`; `what` starts with `:` or ` in`.
    UnexpectedEof(&'static str),
    /// End of input inside an array or object that started at byte `start`.
    Unclosed {
        /// `Array` or `Object`.
        container: &'static str,
        /// Byte offset of its opening bracket.
        start: usize,
    },
    /// A closing bracket of the wrong kind; `start` is where the open container began (`None`
    /// at the top level).
    MismatchedClose {
        /// The bracket found.
        found: char,
        /// The bracket that would close the open container.
        expected: char,
        /// `Array`, `Object` or `root`.
        container: &'static str,
        /// Byte offset of the open container's bracket.
        start: Option<usize>,
    },
    /// A control character inside a string.
    IllegalControlChar {
        /// The character.
        ch: char,
        /// In a key (Jackson says "name") rather than a string value.
        in_name: bool,
    },
    /// `\q` inside a string.
    BadEscape(char),
    /// `\u12` followed by a non-hex character.
    BadUnicodeEscape(char),
    /// `Invalid numeric value: <what>` (leading zeros).
    BadNumber(&'static str),
    /// `NaN`, `Infinity`, `-Infinity`.
    NonStandardNumber(String),
    /// Text after the root value.
    TrailingContent(char),
    /// Invalid UTF-8 in the input.
    InvalidUtf8,
    /// Nesting deeper than the parser's limit.
    TooDeep(usize),
}

/// A JSON syntax error with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub kind: SyntaxErrorKind,
    /// Byte offset of the problem.
    pub offset: usize,
}

fn char_desc(ch: char) -> String {
    let code = ch as u32;
    if ch.is_control() {
        format!("(CTRL-CHAR, code {code})")
    } else if code > 255 {
        format!("'{ch}' (code {code} / 0x{code:x})")
    } else {
        format!("'{ch}' (code {code})")
    }
}

const VALID_VALUES: &str = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";
const EXPECTED_VALID_VALUE: &str =
    "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

/// Jackson's location text for byte `offset` of `text`:
/// `[Source: (String)"<text>"; line: L, column: C]`.
///
/// The source is cut at 500 characters as Jackson does, and control characters other than
/// CR and LF are shown as `\uXXXX`.
pub fn jackson_location(text: &[u8], offset: usize, column_base: usize) -> String {
    let s = String::from_utf8_lossy(text);
    let mut shown = String::new();
    let total = s.chars().count();
    for c in s.chars().take(500) {
        if (c as u32) < 0x20 && c != '\r' && c != '\n' {
            let _ = write!(shown, "\\u{:04X}", c as u32);
        } else {
            shown.push(c);
        }
    }
    let truncated = if total > 500 { format!("[truncated {} chars]", total - 500) } else { String::new() };
    let before = String::from_utf8_lossy(&text[..offset.min(text.len())]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + column_base;
    format!("[Source: (String)\"{shown}\"{truncated}; line: {line}, column: {column}]")
}

impl SyntaxErrorKind {
    /// The message, with positions inside it rendered as Jackson renders them for `text`.
    pub fn jackson_message(&self, text: &[u8]) -> String {
        match self {
            SyntaxErrorKind::Unclosed { container, start } => format!(
                "Unexpected end-of-input: expected close marker for {container} (start marker at {})",
                jackson_location(text, *start, 1)
            ),
            SyntaxErrorKind::MismatchedClose { found, expected, container, start } => match start {
                Some(start) => format!(
                    "Unexpected close marker '{found}': expected '{expected}' (for {container} starting at {})",
                    jackson_location(text, *start, 1)
                ),
                None => format!(
                    "Unexpected close marker '{found}': expected '{expected}' (for root starting at {})",
                    jackson_location(text, 0, 0)
                ),
            },
            other => other.to_string(),
        }
    }
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxErrorKind::UnexpectedChar { ch, expected } => {
                write!(f, "Unexpected character ({}): {expected}", char_desc(*ch))
            }
            SyntaxErrorKind::NumberChar { ch, what } => {
                write!(f, "Unexpected character ({}) in numeric value: {what}", char_desc(*ch))
            }
            SyntaxErrorKind::UnrecognizedToken(tok) => {
                write!(f, "Unrecognized token '{tok}': was expecting {VALID_VALUES}")
            }
            SyntaxErrorKind::UnexpectedEof(what) => write!(f, "Unexpected end-of-input{what}"),
            SyntaxErrorKind::Unclosed { container, start } => write!(
                f,
                "Unexpected end-of-input: expected close marker for {container} (start marker at byte {start})"
            ),
            SyntaxErrorKind::MismatchedClose { found, expected, container, start } => match start {
                Some(start) => write!(
                    f,
                    "Unexpected close marker '{found}': expected '{expected}' (for {container} starting at byte {start})"
                ),
                None => write!(f, "Unexpected close marker '{found}': expected '{expected}'"),
            },
            SyntaxErrorKind::IllegalControlChar { ch, in_name } => write!(
                f,
                "Illegal unquoted character ({}): has to be escaped using backslash to be included in {}",
                char_desc(*ch),
                if *in_name { "name" } else { "string value" }
            ),
            SyntaxErrorKind::BadEscape(ch) => {
                write!(f, "Unrecognized character escape {}", char_desc(*ch))
            }
            SyntaxErrorKind::BadUnicodeEscape(ch) => write!(
                f,
                "Unexpected character ({}): expected a hex-digit for character escape sequence",
                char_desc(*ch)
            ),
            SyntaxErrorKind::BadNumber(what) => write!(f, "Invalid numeric value: {what}"),
            SyntaxErrorKind::NonStandardNumber(tok) => write!(
                f,
                "Non-standard token '{tok}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
            ),
            SyntaxErrorKind::TrailingContent(ch) => write!(
                f,
                "Unexpected character ({}): expected end-of-input after the JSON value",
                char_desc(*ch)
            ),
            SyntaxErrorKind::InvalidUtf8 => f.write_str("Invalid UTF-8 start byte"),
            SyntaxErrorKind::TooDeep(limit) => {
                write!(f, "Document nesting depth exceeds the maximum allowed ({limit})")
            }
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses one JSON value (surrounded by optional whitespace) into a [`Document`].
///
/// `max_depth` bounds the nesting of arrays and objects.
///
/// # Errors
///
/// A [`SyntaxError`] naming the byte offset of the first problem.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::dom::{parse, Value};
///
/// let doc = parse(br#"{"a": [1, "\u0078"]}"#, 64).unwrap();
/// let Value::Object(members) = &doc.root().value else { unreachable!() };
/// assert_eq!(members[0].key, b"a");
/// let Value::Array(items) = &doc.node(members[0].value).value else { unreachable!() };
/// assert_eq!(doc.node(items[1]).value, Value::String(b"x".to_vec()));
/// ```
pub fn parse(text: &[u8], max_depth: usize) -> Result<Document, SyntaxError> {
    if let Err(e) = simdutf8::compat::from_utf8(text) {
        return Err(SyntaxError { kind: SyntaxErrorKind::InvalidUtf8, offset: e.valid_up_to() });
    }
    let mut p = Parser { text, pos: 0, nodes: Vec::new(), max_depth };
    let root = p.parse_root()?;
    Ok(Document { nodes: p.nodes, root })
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
    max_depth: usize,
}

/// A container being filled while parsing iteratively.
enum Open {
    Array { id: NodeId, items: Vec<NodeId> },
    Object { id: NodeId, members: Vec<Member>, key: Vec<u8>, key_offset: usize },
}

impl Open {
    fn id(&self) -> NodeId {
        match self {
            Open::Array { id, .. } | Open::Object { id, .. } => *id,
        }
    }
}

const COMMENT: &str =
    "maybe a (non-standard) comment? (not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)";
const PLUS: &str = "JSON spec does not allow numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow";

impl Parser<'_> {
    #[allow(clippy::unused_self)] // reads better at call sites than a free function
    fn err<T>(&self, kind: SyntaxErrorKind, offset: usize) -> Result<T, SyntaxError> {
        Err(SyntaxError { kind, offset })
    }

    fn char_at(&self, pos: usize) -> char {
        let end = (pos + 4).min(self.text.len());
        String::from_utf8_lossy(&self.text[pos..end]).chars().next().unwrap_or('\u{fffd}')
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.text.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn push(&mut self, value: Value, start: usize) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node { value, start, end: self.pos });
        id
    }

    /// The error for end of input inside the innermost open container.
    fn unclosed<T>(&self, stack: &[Open]) -> Result<T, SyntaxError> {
        match stack.last() {
            Some(open) => {
                let container = if matches!(open, Open::Array { .. }) { "Array" } else { "Object" };
                let start = self.nodes[open.id() as usize].start;
                self.err(SyntaxErrorKind::Unclosed { container, start }, self.pos)
            }
            None => self.err(SyntaxErrorKind::UnexpectedEof(": no content to map due to end-of-input"), self.pos),
        }
    }

    fn parse_root(&mut self) -> Result<NodeId, SyntaxError> {
        let mut stack: Vec<Open> = Vec::new();
        // `pending` is the value just completed, to be attached to the innermost container.
        let mut pending: NodeId;
        'value: loop {
            self.skip_ws();
            let start = self.pos;
            let Some(&b) = self.text.get(self.pos) else {
                return self.unclosed(&stack);
            };
            match b {
                b'{' | b'[' => {
                    if stack.len() >= self.max_depth {
                        return self.err(SyntaxErrorKind::TooDeep(self.max_depth), start);
                    }
                    self.pos += 1;
                    let id = self.push(Value::Null, start);
                    self.skip_ws();
                    if b == b'[' {
                        if self.text.get(self.pos) == Some(&b']') {
                            self.pos += 1;
                            self.nodes[id as usize].value = Value::Array(Vec::new());
                            self.nodes[id as usize].end = self.pos;
                            pending = id;
                        } else {
                            stack.push(Open::Array { id, items: Vec::new() });
                            continue 'value;
                        }
                    } else if self.text.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        self.nodes[id as usize].value = Value::Object(Vec::new());
                        self.nodes[id as usize].end = self.pos;
                        pending = id;
                    } else {
                        stack.push(Open::Object { id, members: Vec::new(), key: Vec::new(), key_offset: 0 });
                        let (key, key_offset) = self.parse_key(&stack)?;
                        if let Some(Open::Object { key: k, key_offset: o, .. }) = stack.last_mut() {
                            *k = key;
                            *o = key_offset;
                        }
                        continue 'value;
                    }
                }
                b'"' => {
                    let s = self.parse_string(false)?;
                    pending = self.push(Value::String(s), start);
                }
                b'-' | b'0'..=b'9' => {
                    let raw = self.parse_number()?;
                    pending = self.push(Value::Number(raw.into()), start);
                }
                b'}' if stack.is_empty() => {
                    return self.err(
                        SyntaxErrorKind::MismatchedClose { found: '}', expected: ']', container: "root", start: None },
                        start,
                    )
                }
                b']' if stack.is_empty() => {
                    return self.err(
                        SyntaxErrorKind::MismatchedClose { found: ']', expected: '}', container: "root", start: None },
                        start,
                    )
                }
                b'}' => {
                    return self.err(SyntaxErrorKind::UnexpectedChar { ch: '}', expected: "expected a value" }, start)
                }
                b'/' => return self.err(SyntaxErrorKind::UnexpectedChar { ch: '/', expected: COMMENT }, start),
                b'+' => return self.err(SyntaxErrorKind::NumberChar { ch: '+', what: PLUS }, start),
                _ if b.is_ascii_alphabetic() || b >= 0x80 => {
                    let word = self.word();
                    let value = match word.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        "NaN" | "Infinity" => return self.err(SyntaxErrorKind::NonStandardNumber(word), start),
                        _ if word.is_empty() => {
                            let ch = self.char_at(start);
                            return self
                                .err(SyntaxErrorKind::UnexpectedChar { ch, expected: EXPECTED_VALID_VALUE }, start);
                        }
                        _ => return self.err(SyntaxErrorKind::UnrecognizedToken(word), start),
                    };
                    pending = self.push(value, start);
                }
                _ => {
                    let ch = self.char_at(start);
                    return self.err(SyntaxErrorKind::UnexpectedChar { ch, expected: EXPECTED_VALID_VALUE }, start);
                }
            }
            // Attach `pending` to enclosing containers, closing those that end here.
            loop {
                self.skip_ws();
                let at = self.pos;
                let next = self.text.get(at).copied();
                let Some(top) = stack.last_mut() else {
                    if let Some(b) = next {
                        let kind = if b == b'/' {
                            SyntaxErrorKind::UnexpectedChar { ch: '/', expected: COMMENT }
                        } else {
                            SyntaxErrorKind::TrailingContent(self.char_at(at))
                        };
                        return self.err(kind, at);
                    }
                    return Ok(pending);
                };
                let is_array = matches!(top, Open::Array { .. });
                match top {
                    Open::Array { items, .. } => items.push(pending),
                    Open::Object { members, key, key_offset, .. } => {
                        members.push(Member { key: std::mem::take(key), key_offset: *key_offset, value: pending });
                    }
                }
                let top_start = self.nodes[top.id() as usize].start;
                let (close, container, other) = if is_array { (b']', "Array", b'}') } else { (b'}', "Object", b']') };
                match next {
                    Some(b',') => {
                        self.pos += 1;
                        if !is_array {
                            let (k, off) = self.parse_key(&stack)?;
                            if let Some(Open::Object { key, key_offset, .. }) = stack.last_mut() {
                                *key = k;
                                *key_offset = off;
                            }
                        }
                        continue 'value;
                    }
                    Some(c) if c == close => self.pos += 1,
                    Some(c) if c == other => {
                        return self.err(
                            SyntaxErrorKind::MismatchedClose {
                                found: c as char,
                                expected: close as char,
                                container,
                                start: Some(top_start),
                            },
                            at,
                        )
                    }
                    Some(b'/') => return self.err(SyntaxErrorKind::UnexpectedChar { ch: '/', expected: COMMENT }, at),
                    Some(_) => {
                        let ch = self.char_at(at);
                        let expected = if is_array {
                            "was expecting comma to separate Array entries"
                        } else {
                            "was expecting comma to separate Object entries"
                        };
                        return self.err(SyntaxErrorKind::UnexpectedChar { ch, expected }, at);
                    }
                    None => return self.unclosed(&stack),
                }
                // The innermost container closed: it becomes the pending value.
                let closed = stack.pop().expect("stack is non-empty here");
                let (id, value) = match closed {
                    Open::Array { id, items } => (id, Value::Array(items)),
                    Open::Object { id, members, .. } => (id, Value::Object(members)),
                };
                let node = &mut self.nodes[id as usize];
                node.value = value;
                node.end = self.pos;
                pending = id;
            }
        }
    }

    /// Parses `"key"` and the following colon; positions after the colon.
    fn parse_key(&mut self, stack: &[Open]) -> Result<(Vec<u8>, usize), SyntaxError> {
        self.skip_ws();
        let offset = self.pos;
        match self.text.get(self.pos) {
            Some(b'"') => {}
            Some(b'/') => return self.err(SyntaxErrorKind::UnexpectedChar { ch: '/', expected: COMMENT }, offset),
            Some(_) => {
                let ch = self.char_at(self.pos);
                return self.err(
                    SyntaxErrorKind::UnexpectedChar { ch, expected: "was expecting double-quote to start field name" },
                    offset,
                );
            }
            None => return self.unclosed(stack),
        }
        let key = self.parse_string(true)?;
        self.skip_ws();
        match self.text.get(self.pos) {
            Some(b':') => {
                self.pos += 1;
                Ok((key, offset))
            }
            Some(_) => {
                let ch = self.char_at(self.pos);
                self.err(
                    SyntaxErrorKind::UnexpectedChar {
                        ch,
                        expected: "was expecting a colon to separate field name and value",
                    },
                    self.pos,
                )
            }
            None => self.err(SyntaxErrorKind::UnexpectedEof(" within/between Object entries"), self.pos),
        }
    }

    /// A run of word characters, for error messages about bare tokens.
    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(&b) = self.text.get(self.pos) {
            if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
                self.pos += 1;
            } else {
                break;
            }
        }
        // Only whole UTF-8 characters were consumed: the input is valid UTF-8 and the loop
        // consumes every continuation byte of a multi-byte character.
        String::from_utf8_lossy(&self.text[start..self.pos]).into_owned()
    }

    /// Parses a string starting at the opening quote; returns the decoded content.
    fn parse_string(&mut self, is_name: bool) -> Result<Vec<u8>, SyntaxError> {
        debug_assert_eq!(self.text[self.pos], b'"');
        let mut out = Vec::new();
        self.pos += 1;
        let end = decode_string_body(self.text, self.pos, &mut out).map_err(|mut e| {
            if is_name {
                match &mut e.kind {
                    SyntaxErrorKind::IllegalControlChar { in_name, .. } => *in_name = true,
                    SyntaxErrorKind::UnexpectedEof(what) => {
                        *what = ": was expecting closing '\"' for name";
                    }
                    _ => {}
                }
            }
            e
        })?;
        self.pos = end;
        Ok(out)
    }

    fn parse_number(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let end = scan_number(self.text, start).map_err(|(kind, offset)| SyntaxError { kind, offset })?;
        self.pos = end;
        Ok(String::from_utf8_lossy(&self.text[start..end]).into_owned())
    }
}

/// Decodes a JSON string body starting just after the opening quote into `out` (UTF-8);
/// returns the offset just past the closing quote.
pub(crate) fn decode_string_body(text: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<usize, SyntaxError> {
    loop {
        let Some(rel) = memchr::memchr2(b'"', b'\\', &text[pos..]) else {
            return Err(SyntaxError {
                kind: SyntaxErrorKind::UnexpectedEof(": was expecting closing quote for a string value"),
                offset: text.len(),
            });
        };
        let chunk = &text[pos..pos + rel];
        if let Some(c) = chunk.iter().position(|&b| b < 0x20) {
            return Err(SyntaxError {
                kind: SyntaxErrorKind::IllegalControlChar { ch: chunk[c] as char, in_name: false },
                offset: pos + c,
            });
        }
        out.extend_from_slice(chunk);
        pos += rel;
        if text[pos] == b'"' {
            return Ok(pos + 1);
        }
        // Backslash escape.
        let Some(&e) = text.get(pos + 1) else {
            return Err(SyntaxError {
                kind: SyntaxErrorKind::UnexpectedEof(": was expecting closing quote for a string value"),
                offset: text.len(),
            });
        };
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            pos += 2;
            continue;
        }
        if e != b'u' {
            let ch = std::str::from_utf8(&text[pos + 1..]).ok().and_then(|s| s.chars().next()).unwrap_or(e as char);
            return Err(SyntaxError { kind: SyntaxErrorKind::BadEscape(ch), offset: pos });
        }
        let unit = read_hex4(text, pos + 2)?;
        pos += 6;
        let mut code = u32::from(unit);
        if (0xD800..0xDC00).contains(&unit) && text.get(pos) == Some(&b'\\') && text.get(pos + 1) == Some(&b'u') {
            // A high surrogate followed by an escape: combine if it is a low surrogate.
            let low = read_hex4(text, pos + 2)?;
            if (0xDC00..0xE000).contains(&low) {
                code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                pos += 6;
            }
        }
        match char::from_u32(code) {
            Some(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            // An unpaired surrogate: Java encodes it as '?'.
            None => out.push(b'?'),
        }
    }
}

fn read_hex4(text: &[u8], at: usize) -> Result<u16, SyntaxError> {
    let mut v: u16 = 0;
    for i in 0..4 {
        let Some(&b) = text.get(at + i) else {
            return Err(SyntaxError {
                kind: SyntaxErrorKind::UnexpectedEof(": was expecting closing quote for a string value"),
                offset: text.len(),
            });
        };
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                let ch = std::str::from_utf8(&text[at + i..]).ok().and_then(|s| s.chars().next()).unwrap_or(b as char);
                return Err(SyntaxError { kind: SyntaxErrorKind::BadUnicodeEscape(ch), offset: at + i });
            }
        };
        v = (v << 4) | u16::from(d);
    }
    Ok(v)
}

/// Scans a JSON number starting at `start`; returns the end offset.
pub(crate) fn scan_number(text: &[u8], start: usize) -> Result<usize, (SyntaxErrorKind, usize)> {
    let bad = |i: usize, what: &'static str| -> (SyntaxErrorKind, usize) {
        match text.get(i) {
            None => (SyntaxErrorKind::UnexpectedEof(" in a Number value"), i),
            Some(&b) => {
                let end = (i + 4).min(text.len());
                let ch = String::from_utf8_lossy(&text[i..end]).chars().next().unwrap_or(b as char);
                (SyntaxErrorKind::NumberChar { ch, what }, i)
            }
        }
    };
    let mut i = start;
    if text.get(i) == Some(&b'-') {
        i += 1;
        match text.get(i) {
            Some(b'0'..=b'9') => {}
            Some(b'I') if text[i..].starts_with(b"Infinity") => {
                return Err((SyntaxErrorKind::NonStandardNumber("-Infinity".into()), start))
            }
            _ => return Err(bad(i, "expected digit (0-9) to follow minus sign, for valid numeric value")),
        }
    }
    if text.get(i) == Some(&b'0') {
        i += 1;
        if matches!(text.get(i), Some(b'0'..=b'9')) {
            return Err((SyntaxErrorKind::BadNumber("Leading zeroes not allowed"), start));
        }
    } else {
        while matches!(text.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        let digits = i;
        while matches!(text.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == digits {
            return Err(bad(i, "Decimal point not followed by a digit"));
        }
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits = i;
        while matches!(text.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == digits {
            return Err(bad(i, "Exponent indicator not followed by a digit"));
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text.as_bytes(), 100).unwrap_err().kind.to_string()
    }

    #[test]
    fn parses_nested_values_with_positions() {
        let doc = parse(br#" {"a": [true, null, -1.5e3, "x\ny"], "b": {}} "#, 10).unwrap();
        let Value::Object(m) = &doc.root().value else { panic!() };
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].key_offset, 2);
        let Value::Array(items) = &doc.node(m[0].value).value else { panic!() };
        assert_eq!(doc.node(items[0]).value, Value::Bool(true));
        assert_eq!(doc.node(items[1]).value, Value::Null);
        assert_eq!(doc.node(items[2]).value, Value::Number("-1.5e3".into()));
        assert_eq!(doc.node(items[3]).value, Value::String(b"x\ny".to_vec()));
        assert_eq!(doc.node(m[1].value).value, Value::Object(vec![]));
        assert_eq!(doc.root().start, 1);
    }

    #[test]
    fn surrogate_pairs_combine_and_lone_surrogates_become_question_marks() {
        let doc = parse(br#""\ud83d\ude00 \ud800 \udc00\ud800 \u00e9""#, 4).unwrap();
        let Value::String(s) = &doc.root().value else { panic!() };
        assert_eq!(String::from_utf8(s.clone()).unwrap(), "😀 ? ?? é");
    }

    #[test]
    fn jackson_messages() {
        assert_eq!(
            err("foo"),
            "Unrecognized token 'foo': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        );
        assert_eq!(
            err("{'a': 1}"),
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name"
        );
        assert_eq!(
            err(r#"{"a" 1}"#),
            "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value"
        );
        assert_eq!(
            err(r#"{"a": 1 "b": 2}"#),
            "Unexpected character ('\"' (code 34)): was expecting comma to separate Object entries"
        );
        assert_eq!(
            err(r"[1 2]"),
            "Unexpected character ('2' (code 50)): was expecting comma to separate Array entries"
        );
        assert_eq!(err(r"[01]"), "Invalid numeric value: Leading zeroes not allowed");
        assert_eq!(err(r#""a\qb""#), "Unrecognized character escape 'q' (code 113)");
        assert!(err("\"a\nb\"").starts_with("Illegal unquoted character ((CTRL-CHAR, code 10))"));
        assert!(err("{\"a\nb\": 1}").ends_with("to be included in name"));
        assert_eq!(err(r"[1,]"), "Unexpected character (']' (code 93)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')");
        assert_eq!(err(r#"{"a":}"#), "Unexpected character ('}' (code 125)): expected a value");
        assert_eq!(err(r"[+1]"), "Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow");
        assert_eq!(
            err(r"[1.]"),
            "Unexpected character (']' (code 93)) in numeric value: Decimal point not followed by a digit"
        );
        assert_eq!(
            err(r"[1e]"),
            "Unexpected character (']' (code 93)) in numeric value: Exponent indicator not followed by a digit"
        );
        assert_eq!(
            err(r"[NaN]"),
            "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
        );
        assert_eq!(err(r#"{"a":["x]}"#), "Unexpected end-of-input: was expecting closing quote for a string value");
        assert!(err(r"[/* c */]").starts_with("Unexpected character ('/' (code 47)): maybe a (non-standard) comment?"));
    }

    #[test]
    fn close_markers_name_the_container_start() {
        let text = br#"{"a":["x"]"#;
        let e = parse(text, 10).unwrap_err();
        assert_eq!(
            e.kind.jackson_message(text),
            r#"Unexpected end-of-input: expected close marker for Object (start marker at [Source: (String)"{"a":["x"]"; line: 1, column: 1])"#
        );
        let text = br#"{"a":["x"}"#;
        let e = parse(text, 10).unwrap_err();
        assert_eq!(
            e.kind.jackson_message(text),
            r#"Unexpected close marker '}': expected ']' (for Array starting at [Source: (String)"{"a":["x"}"; line: 1, column: 6])"#
        );
        let long = format!("{{\"a\":[\"{}\"]", "x".repeat(600));
        let e = parse(long.as_bytes(), 10).unwrap_err();
        assert!(e.kind.jackson_message(long.as_bytes()).contains("[truncated 109 chars]; line: 1, column: 1]"));
    }

    #[test]
    fn deep_nesting_is_bounded_and_linear() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(matches!(parse(deep.as_bytes(), 1000).unwrap_err().kind, SyntaxErrorKind::TooDeep(1000)));
        let doc = parse(deep.as_bytes(), 200_000).unwrap();
        assert_eq!(doc.nodes.len(), 100_000);
    }

    #[test]
    fn rejects_invalid_utf8_and_trailing_content() {
        assert_eq!(parse(b"\"\xff\"", 4).unwrap_err().offset, 1);
        assert!(matches!(parse(b"{} x", 4).unwrap_err().kind, SyntaxErrorKind::TrailingContent('x')));
    }
}
