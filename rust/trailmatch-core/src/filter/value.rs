//! Values after a comparison operator and the semantics of a comparison (reference §4.3).
//!
//! Shared by JSON patterns (tested on the value node a selector reaches) and space-delimited
//! patterns (tested on a field of the message, always a string).

use crate::value::number::order_key;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }
}

/// A string with `*` at its start and/or end: prefix, suffix or substring test. A `*` anywhere
/// else is a literal character (doc-2018: "Ev*ent will only match the actual string Ev*ent").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Glob {
    pub core: Box<[u8]>,
    pub leading: bool,
    pub trailing: bool,
}

impl Glob {
    /// The glob for `text` if it starts or ends with `*`.
    pub fn parse(text: &[u8]) -> Option<Glob> {
        let leading = text.first() == Some(&b'*');
        let rest = if leading { &text[1..] } else { text };
        let trailing = rest.last() == Some(&b'*');
        let core = if trailing { &rest[..rest.len() - 1] } else { rest };
        (leading || trailing).then(|| Glob { core: core.into(), leading, trailing })
    }

    /// True for `*` (and `**`): every string.
    pub fn matches_all(&self) -> bool {
        self.core.is_empty()
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        match (self.leading, self.trailing) {
            (true, true) => self.core.is_empty() || memchr::memmem::find(s, &self.core).is_some(),
            (true, false) => s.ends_with(&self.core),
            _ => s.starts_with(&self.core),
        }
    }
}

/// A number literal: its text as written and its `f64` value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number {
    pub raw: Box<str>,
    pub value: f64,
}

/// The value after an operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// A string compared whole (quotes stripped, escapes processed).
    Str(Box<[u8]>),
    /// A string with a leading and/or trailing `*`.
    Glob(Glob),
    /// A bare literal that lexes as a number.
    Num(Number),
    /// `%…%`: index of the expression among the pattern's regexes.
    Regex(usize),
}

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` completely, else `None` (reference §4.1).
///
/// The value is the nearest `f64` (`1e-3` and `0.001` are equal; digits beyond `f64`
/// precision are rounded, an exponent too large gives an infinity).
pub(crate) fn parse_number(text: &[u8]) -> Option<f64> {
    let mut i = 0;
    if matches!(text.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while text.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != text.len() {
        return None;
    }
    // ASCII by construction; Rust's float parser accepts exactly this grammar (and more).
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Hash key of a number for equality lookups: equal `f64`s share a key (`-0` = `0`).
pub(crate) fn number_key(value: f64) -> u64 {
    order_key(value)
}

/// What a selector reaches (JSON) or a field holds (space-delimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node<'a> {
    Str(&'a [u8]),
    /// A JSON number: its literal text.
    Num(&'a [u8]),
    Bool(bool),
    Null,
    /// An object or an array: never a value node.
    Container,
}

impl Node<'_> {
    /// The text the string tests see: a string's value, a number's literal text.
    pub fn text(&self) -> Option<&[u8]> {
        match self {
            Node::Str(s) | Node::Num(s) => Some(s),
            _ => None,
        }
    }

    /// The numeric value: a number's, or a string's if it lexes as a number.
    pub fn number(&self) -> Option<f64> {
        match self {
            Node::Str(s) | Node::Num(s) => parse_number(s),
            _ => None,
        }
    }
}

/// Whether `node op literal` holds (reference §4.3). `regex(i)` searches expression `i` in a
/// text. `number` is `node.number()`, passed in so callers that test many conditions on one
/// node parse it once.
pub(crate) fn holds(
    op: Op,
    literal: &Literal,
    node: Node<'_>,
    number: Option<f64>,
    regex: &mut impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    match literal {
        Literal::Str(lit) => match (node.text(), op) {
            (Some(text), Op::Eq) => text == &**lit,
            (Some(text), Op::Ne) => text != &**lit,
            // Booleans, null and containers never compare with a string; `<` with a string
            // literal is a parse error.
            _ => false,
        },
        Literal::Glob(glob) => match node {
            Node::Str(text) | Node::Num(text) => match op {
                Op::Eq => glob.matches(text),
                Op::Ne => !glob.matches(text),
                _ => false,
            },
            // `= *` holds for every value node; every other glob test is false on booleans.
            Node::Bool(_) => op == Op::Eq && glob.matches_all(),
            Node::Null | Node::Container => false,
        },
        Literal::Num(n) => match (node, number) {
            (Node::Str(_) | Node::Num(_), Some(x)) => op.holds(x, n.value),
            // A string that is not a number differs from every number literal (reference §8 #1:
            // text equality, which cannot hold since the literal is a number).
            (Node::Str(_), None) => op == Op::Ne,
            _ => false,
        },
        Literal::Regex(i) => match (node.text(), op) {
            (Some(text), Op::Eq) => regex(*i, text),
            (Some(text), Op::Ne) => !regex(*i, text),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(raw: &str) -> Literal {
        Literal::Num(Number { raw: raw.into(), value: parse_number(raw.as_bytes()).unwrap() })
    }

    fn check(op: Op, lit: &Literal, node: Node<'_>) -> bool {
        holds(op, lit, node, node.number(), &mut |_, _| panic!("no regex"))
    }

    #[test]
    fn numbers_lex_strictly() {
        for ok in ["0", "-1", "+1", "1.5", "1e3", "1E-3", "-0.0e+0", "007"] {
            assert!(parse_number(ok.as_bytes()).is_some(), "{ok}");
        }
        for no in ["", "-", "1.", ".5", "1e", "1e+", "0x10", "inf", "NaN", "1 ", "1_000", "--1"] {
            assert!(parse_number(no.as_bytes()).is_none(), "{no}");
        }
        assert_eq!(parse_number(b"1e-3"), parse_number(b"0.001"));
        assert_eq!(parse_number(b"1e999"), Some(f64::INFINITY));
        assert_eq!(number_key(-0.0), number_key(0.0));
    }

    #[test]
    fn globs() {
        let g = |s: &str| Glob::parse(s.as_bytes()).unwrap();
        assert!(Glob::parse(b"abc").is_none());
        assert!(Glob::parse(b"a*c").is_none());
        assert!(g("Access*").matches(b"AccessDenied"));
        assert!(g("*Operation").matches(b"Client.UnauthorizedOperation"));
        assert!(g("*.html*").matches(b"GET /index.html HTTP/1.0"));
        assert!(!g("*.html*").matches(b"GET /index.htm"));
        assert!(g("*").matches_all() && g("**").matches_all() && !g("*a").matches_all());
        assert!(g("*").matches(b""));
        assert!(g("a*b*").matches(b"a*bc"));
        assert!(!g("a*b*").matches(b"axbc"));
    }

    #[test]
    fn the_semantics_table() {
        let s = Literal::Str(b"abc".as_slice().into());
        assert!(check(Op::Eq, &s, Node::Str(b"abc")));
        assert!(!check(Op::Eq, &s, Node::Str(b"ABC")));
        assert!(check(Op::Ne, &s, Node::Str(b"abd")));
        for node in [Node::Null, Node::Container, Node::Bool(true)] {
            assert!(!check(Op::Eq, &s, node) && !check(Op::Ne, &s, node));
        }
        // String literal vs number: raw text.
        let s404 = Literal::Str(b"404".as_slice().into());
        assert!(check(Op::Eq, &s404, Node::Num(b"404")));
        assert!(!check(Op::Eq, &s404, Node::Num(b"404.0")));
        // Number literal vs string: numeric when the string is a number.
        let n = num("1e-3");
        assert!(check(Op::Eq, &n, Node::Str(b"0.001")));
        assert!(check(Op::Eq, &n, Node::Num(b"0.001")));
        assert!(!check(Op::Eq, &n, Node::Str(b"x")));
        assert!(check(Op::Ne, &n, Node::Str(b"x")));
        assert!(!check(Op::Lt, &n, Node::Str(b"x")));
        assert!(check(Op::Lt, &num("5"), Node::Str(b"4.5")));
        assert!(!check(Op::Eq, &n, Node::Bool(false)) && !check(Op::Ne, &n, Node::Bool(false)));
        // Wildcards.
        let all = Literal::Glob(Glob::parse(b"*").unwrap());
        for node in [Node::Str(b""), Node::Num(b"1"), Node::Bool(false)] {
            assert!(check(Op::Eq, &all, node));
            assert!(!check(Op::Ne, &all, node));
        }
        assert!(!check(Op::Eq, &all, Node::Null) && !check(Op::Eq, &all, Node::Container));
        let four = Literal::Glob(Glob::parse(b"4*").unwrap());
        assert!(check(Op::Eq, &four, Node::Num(b"404")));
        assert!(check(Op::Ne, &four, Node::Num(b"500")));
        assert!(!check(Op::Eq, &four, Node::Bool(true)) && !check(Op::Ne, &four, Node::Bool(true)));
    }
}
