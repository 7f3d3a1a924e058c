//! The filter-pattern language: text to syntax tree, with AWS's rules and our decisions
//! (reference §1–5). Error positions are byte offsets here; [`super::FilterSet::add`] turns
//! them into character indices.

use super::error::{hints, FilterError};
use super::regex::{self, FilterRegex};
use super::value::{parse_number, Glob, Literal, Number, Op};

/// Most characters in a filter pattern (PutMetricFilter / TestMetricFilter `filterPattern`).
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Most `%…%` expressions in one pattern.
pub const MAX_REGEXES: usize = 2;

/// One step of a JSON selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    Key(Box<str>),
    Index(u32),
}

/// `$.a.b[0]`: the steps after `$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Selector {
    pub steps: Vec<Step>,
}

impl Selector {
    /// The canonical text, `$.a[0].b`.
    pub fn text(&self) -> String {
        let mut out = String::from("$");
        for step in &self.steps {
            match step {
                Step::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// The test of one JSON condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare(Op, Literal),
    IsNull,
    IsTrue,
    IsFalse,
    NotExists,
}

/// A node of a boolean expression in postfix order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rpn {
    /// Operand `i` (a condition, a term, …).
    Atom(usize),
    And,
    Or,
}

/// One term of a term pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    pub negated: bool,
    pub kind: TermKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TermKind {
    /// A substring; empty for `" "`, which matches everything.
    Literal(Box<[u8]>),
    /// Index into the pattern's regexes.
    Regex(usize),
}

/// One slot of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Slot {
    Ellipsis,
    Empty,
    /// A named field with conditions (postfix over `conditions`; empty program = no test).
    Named {
        name: Box<str>,
        conditions: Vec<(Op, Literal)>,
        program: Vec<Rpn>,
    },
}

/// A parsed pattern.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// Matches every event.
    Empty,
    /// OR over alternatives of AND over terms (reference §2.2, CDK grouping).
    Terms {
        alternatives: Vec<Vec<Term>>,
    },
    Json {
        conditions: Vec<(Selector, Test)>,
        program: Vec<Rpn>,
    },
    Delimited {
        slots: Vec<Slot>,
    },
}

/// A parsed pattern and its regular expressions.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub pattern: Pattern,
    pub regexes: Vec<FilterRegex>,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Parses a filter pattern. Error positions are byte offsets into `text`.
pub(crate) fn parse(text: &str, strict: bool) -> Result<Parsed, FilterError> {
    if text.chars().count() > MAX_PATTERN_CHARS {
        let at = text.char_indices().nth(MAX_PATTERN_CHARS).map_or(text.len(), |(i, _)| i);
        return Err(FilterError::new(format!("the pattern is longer than {MAX_PATTERN_CHARS} characters"), at)
            .with_hint(hints::LENGTH));
    }
    let mut p = Parser { text, s: text.as_bytes(), pos: 0, regexes: Vec::new(), strict };
    let start = p.s.iter().position(|&b| !is_ws(b)).unwrap_or(p.s.len());
    let end = p.s.iter().rposition(|&b| !is_ws(b)).map_or(start, |i| i + 1);
    p.s = &p.s[..end];
    p.pos = start;
    let pattern = match p.s.get(start) {
        None => Pattern::Empty,
        Some(b'{') => p.json()?,
        Some(b'[') => p.delimited()?,
        Some(_) => p.terms()?,
    };
    Ok(Parsed { pattern, regexes: p.regexes })
}

/// Parses a JSON selector on its own (`$.a.b[0]`), as a metric value or dimension names one.
/// Error positions are byte offsets into `text`.
pub(crate) fn parse_selector(text: &str) -> Result<Selector, FilterError> {
    let mut p = Parser { text, s: text.as_bytes(), pos: 0, regexes: Vec::new(), strict: false };
    if p.peek() != Some(b'$') {
        return Err(FilterError::new("a selector starts with '$.', like $.latency", 0));
    }
    let selector = p.selector()?;
    if !p.at_end() {
        return Err(FilterError::new(format!("unexpected {} after the selector", p.describe(p.pos)), p.pos));
    }
    Ok(selector)
}

struct Parser<'a> {
    text: &'a str,
    /// The pattern up to its last non-blank byte.
    s: &'a [u8],
    pos: usize,
    regexes: Vec<FilterRegex>,
    strict: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.s.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Describes the character at `at` for messages.
    fn describe(&self, at: usize) -> String {
        match self.text.get(at..).and_then(|t| t.chars().next()) {
            None => "end of pattern".to_owned(),
            Some(c) if at >= self.s.len() => format!("'{c}'"),
            Some(c) => format!("'{c}'"),
        }
    }

    fn read_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        // Only ASCII bytes or whole characters (bytes >= 0x80 are never a boundary inside a
        // UTF-8 sequence when `f` accepts all of them) are consumed.
        self.text.get(start..self.pos).unwrap_or("")
    }

    /// A quoted string starting at the opening quote; returns its unescaped bytes.
    fn quoted(&mut self) -> Result<Vec<u8>, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(FilterError::new("unterminated quoted string", open).with_hint(hints::QUOTES));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    // A backslash takes the next character literally (CDK escapes `\` and `"`).
                    match self.peek_at(1) {
                        None => {
                            return Err(FilterError::new("unterminated quoted string", open).with_hint(hints::QUOTES));
                        }
                        Some(b) => {
                            out.push(b);
                            self.pos += 2;
                        }
                    }
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// A `%…%` expression starting at the opening `%`; returns its index.
    fn regex(&mut self) -> Result<usize, FilterError> {
        let open = self.pos;
        let body_start = open + 1;
        let Some(len) = self.s[body_start..].iter().position(|&b| b == b'%') else {
            return Err(FilterError::new("unterminated regular expression: no closing '%'", open)
                .with_hint("write regular expressions between % signs: %[Ee]rror%"));
        };
        if self.regexes.len() >= MAX_REGEXES {
            return Err(FilterError::new(format!("more than {MAX_REGEXES} regular expressions in one pattern"), open)
                .with_hint(hints::REGEX_LIMIT));
        }
        let body = self.text.get(body_start..body_start + len).unwrap_or("");
        let compiled = regex::compile(body, body_start)?;
        self.pos = body_start + len + 1;
        self.regexes.push(compiled);
        Ok(self.regexes.len() - 1)
    }

    // --- term patterns -------------------------------------------------------------------

    fn terms(&mut self) -> Result<Pattern, FilterError> {
        if self.s[self.pos..].starts_with(b"$.") || self.s[self.pos..].starts_with(b"($") {
            return Err(FilterError::new("a JSON selector outside braces", self.pos).with_hint(hints::JSON_BRACES));
        }
        let mut alternatives: Vec<Vec<Term>> = Vec::new();
        let mut current: Vec<Term> = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() {
                break;
            }
            let start = self.pos;
            let mut optional = false;
            let mut negated = false;
            if let Some(prefix @ (b'?' | b'-')) = self.peek() {
                if self.peek_at(1).is_none_or(is_ws) {
                    return Err(FilterError::new(
                        format!("'{}' must be directly followed by a term", prefix as char),
                        start,
                    )
                    .with_hint("write ?WARN or -DEBUG, without a space after ? or -"));
                }
                optional = prefix == b'?';
                negated = prefix == b'-';
                self.pos += 1;
            }
            let kind = match self.peek() {
                Some(b'"') => {
                    let lit = self.quoted()?;
                    // `" "` matches everything (doc-2022): a blank quoted term is the empty term.
                    let lit = if lit.iter().all(|&b| is_ws(b)) { Vec::new() } else { lit };
                    TermKind::Literal(lit.into())
                }
                Some(b'%') => TermKind::Regex(self.regex()?),
                Some(b @ (b'[' | b'{')) => {
                    return Err(FilterError::new(
                        format!("a term starting with '{}' must be quoted", b as char),
                        self.pos,
                    )
                    .with_hint("quote it: \"[ERROR]\""));
                }
                _ => {
                    let word_start = self.pos;
                    let word = self.read_while(|b| !is_ws(b));
                    if let Some(q) = word.find('"') {
                        return Err(FilterError::new("a quote inside an unquoted term", word_start + q)
                            .with_hint(hints::QUOTES));
                    }
                    if word == "&&" || word == "||" {
                        return Err(FilterError::new(
                            format!("'{word}' is not an operator in a term pattern"),
                            word_start,
                        )
                        .with_hint(hints::TERM_AND_OR));
                    }
                    if self.strict {
                        if let Some(i) = word.bytes().position(|b| !(b.is_ascii_alphanumeric() || b == b'_')) {
                            return Err(FilterError::new(
                                format!("unquoted term '{word}' contains {}", self.describe(word_start + i)),
                                word_start + i,
                            )
                            .with_hint(hints::QUOTE_TERM));
                        }
                    }
                    TermKind::Literal(word.as_bytes().into())
                }
            };
            if !self.at_end() && !self.peek().is_some_and(is_ws) {
                return Err(FilterError::new(format!("expected a space before {}", self.describe(self.pos)), self.pos)
                    .with_hint(hints::QUOTES));
            }
            // CDK grouping: each `?` term opens an alternative; later plain and `-` terms join it.
            if optional && !current.is_empty() {
                alternatives.push(std::mem::take(&mut current));
            }
            current.push(Term { negated, kind });
        }
        if !current.is_empty() {
            alternatives.push(current);
        }
        Ok(Pattern::Terms { alternatives })
    }

    // --- values after an operator ------------------------------------------------------

    /// The value after `op`; `delimited` stops bare values at `,` and brackets too.
    fn value(&mut self, op: Op, op_pos: usize, delimited: bool) -> Result<Literal, FilterError> {
        self.skip_ws();
        let at = self.pos;
        let literal = match self.peek() {
            Some(b'%') => Literal::Regex(self.regex()?),
            Some(b'"') => {
                let s = self.quoted()?;
                match Glob::parse(&s) {
                    Some(g) => Literal::Glob(g),
                    None => Literal::Str(s.into()),
                }
            }
            _ => {
                let bare = self.read_while(|b| {
                    !(is_ws(b)
                        || matches!(b, b'(' | b')' | b'{' | b'}' | b'"' | b'&' | b'|' | b'=' | b'!' | b'<' | b'>')
                        || (delimited && matches!(b, b',' | b'[' | b']')))
                });
                if bare.is_empty() {
                    let mut e = FilterError::new(
                        format!("expected a value after '{}', found {}", op.text(), self.describe(at)),
                        at,
                    );
                    if self.peek() == Some(b'=') && op == Op::Eq {
                        e = FilterError::new("'==' is not an operator", op_pos).with_hint(hints::DOUBLE_EQUALS);
                    }
                    return Err(e);
                }
                if let Some(value) = parse_number(bare.as_bytes()) {
                    Literal::Num(Number { raw: bare.into(), value })
                } else if let Some(g) = Glob::parse(bare.as_bytes()) {
                    Literal::Glob(g)
                } else {
                    Literal::Str(bare.as_bytes().into())
                }
            }
        };
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(literal, Literal::Num(_)) {
            return Err(FilterError::new(format!("'{}' needs a number, not a string", op.text()), at)
                .with_hint(hints::NUMERIC_OPERATOR));
        }
        Ok(literal)
    }

    /// A comparison operator at the cursor, if there is one.
    fn operator(&mut self) -> Result<Option<Op>, FilterError> {
        let at = self.pos;
        let (op, len) = match (self.peek(), self.peek_at(1)) {
            (Some(b'='), Some(b'=')) => {
                return Err(FilterError::new("'==' is not an operator", at).with_hint(hints::DOUBLE_EQUALS));
            }
            (Some(b'='), _) => (Op::Eq, 1),
            (Some(b'!'), Some(b'=')) => (Op::Ne, 2),
            (Some(b'!'), _) => {
                return Err(FilterError::new("expected '!='", at).with_hint(hints::UNARY_NOT));
            }
            (Some(b'<'), Some(b'=')) => (Op::Le, 2),
            (Some(b'<'), Some(b'>')) => {
                return Err(FilterError::new("'<>' is not an operator", at).with_hint("write != for 'not equal'"));
            }
            (Some(b'<'), _) => (Op::Lt, 1),
            (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
            (Some(b'>'), _) => (Op::Gt, 1),
            _ => return Ok(None),
        };
        self.pos += len;
        Ok(Some(op))
    }

    // --- JSON patterns -----------------------------------------------------------------

    fn json(&mut self) -> Result<Pattern, FilterError> {
        let open_brace = self.pos;
        self.pos += 1;
        let mut conditions = Vec::new();
        let mut program = Vec::new();
        // Operator stack: `(` with its position, `&&`, `||`.
        let mut stack: Vec<(u8, usize)> = Vec::new();
        let mut expect_operand = true;
        let mut last_op: Option<(&'static str, usize)> = None;
        loop {
            self.skip_ws();
            let at = self.pos;
            if expect_operand {
                match self.peek() {
                    Some(b'(') => {
                        stack.push((b'(', at));
                        self.pos += 1;
                    }
                    Some(b'$') => {
                        conditions.push(self.condition()?);
                        program.push(Rpn::Atom(conditions.len() - 1));
                        expect_operand = false;
                    }
                    Some(b'!') => {
                        return Err(FilterError::new("'!' cannot negate a condition", at).with_hint(hints::UNARY_NOT));
                    }
                    Some(b')') if stack.last().is_some_and(|&(op, _)| op == b'(') => {
                        return Err(FilterError::new("empty parentheses: expected a condition", at));
                    }
                    None | Some(b'}') if conditions.is_empty() && last_op.is_none() && stack.is_empty() => {
                        return Err(FilterError::new("expected a condition such as $.eventName = \"CreateUser\"", at)
                            .with_hint("an empty pattern (no braces) matches every event"));
                    }
                    _ => {
                        let mut message = format!("expected a condition, found {}", self.describe(at));
                        if let Some((op, _)) = last_op {
                            message = format!("expected a condition after '{op}', found {}", self.describe(at));
                        }
                        let mut e = FilterError::new(message, at);
                        if self.s[at..].starts_with(b"NOT") || self.s[at..].starts_with(b"not") {
                            e = e.with_hint(hints::UNARY_NOT);
                        } else if self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                            e = e.with_hint("selectors start with '$.': $.eventName");
                        }
                        return Err(e);
                    }
                }
                continue;
            }
            match (self.peek(), self.peek_at(1)) {
                (Some(b'&'), Some(b'&')) => {
                    while let Some(&(b'&', _)) = stack.last() {
                        stack.pop();
                        program.push(Rpn::And);
                    }
                    stack.push((b'&', at));
                    self.pos += 2;
                    expect_operand = true;
                    last_op = Some(("&&", at));
                }
                (Some(b'|'), Some(b'|')) => {
                    while let Some(&(op @ (b'&' | b'|'), _)) = stack.last() {
                        stack.pop();
                        program.push(if op == b'&' { Rpn::And } else { Rpn::Or });
                    }
                    stack.push((b'|', at));
                    self.pos += 2;
                    expect_operand = true;
                    last_op = Some(("||", at));
                }
                (Some(b')'), _) => {
                    loop {
                        match stack.pop() {
                            Some((b'(', _)) => break,
                            Some((op, _)) => program.push(if op == b'&' { Rpn::And } else { Rpn::Or }),
                            None => {
                                return Err(
                                    FilterError::new("')' without a matching '('", at).with_hint(hints::PARENTHESES)
                                );
                            }
                        }
                    }
                    self.pos += 1;
                }
                (Some(b'}'), _) => {
                    while let Some((op, op_at)) = stack.pop() {
                        if op == b'(' {
                            return Err(FilterError::new("'(' is never closed", op_at).with_hint(hints::PARENTHESES));
                        }
                        program.push(if op == b'&' { Rpn::And } else { Rpn::Or });
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if !self.at_end() {
                        return Err(FilterError::new(
                            format!("unexpected {} after the closing '}}'", self.describe(self.pos)),
                            self.pos,
                        ));
                    }
                    return Ok(Pattern::Json { conditions, program });
                }
                (None, _) => {
                    if let Some(&(_, op_at)) = stack.iter().find(|&&(op, _)| op == b'(') {
                        return Err(FilterError::new("'(' is never closed", op_at).with_hint(hints::PARENTHESES));
                    }
                    return Err(FilterError::new("missing the closing '}' of the JSON pattern", at)
                        .with_hint("a JSON pattern is { conditions }; every '{' needs a matching '}'"));
                }
                (Some(b'&' | b'|'), _) => {
                    return Err(FilterError::new(format!("expected '&&' or '||', found {}", self.describe(at)), at)
                        .with_hint(hints::AND_OR));
                }
                (Some(b), _) => {
                    let word = self.s[at..].iter().take_while(|b| b.is_ascii_alphabetic()).count();
                    let word = self.text.get(at..at + word).unwrap_or("");
                    let mut e =
                        FilterError::new(format!("expected '&&', '||', ')' or '}}', found {}", self.describe(at)), at);
                    if matches!(word.to_ascii_uppercase().as_str(), "AND" | "OR") {
                        e = e.with_hint(hints::AND_OR);
                    } else if matches!(word, "IS" | "NOT" | "is" | "not") {
                        e = e.with_hint(hints::KEYWORD_CASE);
                    } else if b != b'$' {
                        e = e.with_hint(
                            "a value with spaces or any of ( ) { } \" & | = ! < > must be quoted: \"two words\"",
                        );
                    }
                    let _ = open_brace;
                    return Err(e);
                }
            }
        }
    }

    fn selector(&mut self) -> Result<Selector, FilterError> {
        let start = self.pos;
        self.pos += 1; // `$`
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.pos += 1;
                    let at = self.pos;
                    let name = self.read_while(is_name_char);
                    if name.is_empty() {
                        let e = FilterError::new(format!("expected a key after '.', found {}", self.describe(at)), at);
                        return Err(match self.peek() {
                            Some(b'*') => e.with_hint(hints::WILDCARD_SELECTOR),
                            Some(b'[' | b'\'' | b'"') => {
                                e.with_hint("bracketed or quoted keys are not supported; keys are [A-Za-z0-9_-]")
                            }
                            _ => e.with_hint(hints::SELECTOR_KEY),
                        });
                    }
                    steps.push(Step::Key(name.into()));
                }
                Some(b'[') if !steps.is_empty() => {
                    self.pos += 1;
                    let at = self.pos;
                    let digits = self.read_while(|b| b.is_ascii_digit());
                    if digits.is_empty() {
                        let e = FilterError::new(format!("expected an array index, found {}", self.describe(at)), at);
                        return Err(if self.peek() == Some(b'*') { e.with_hint(hints::WILDCARD_SELECTOR) } else { e });
                    }
                    let Ok(index) = digits.parse::<u32>() else {
                        return Err(FilterError::new("array index too large", at));
                    };
                    if self.peek() != Some(b']') {
                        return Err(FilterError::new(
                            format!("expected ']', found {}", self.describe(self.pos)),
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                    steps.push(Step::Index(index));
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            let e = FilterError::new("a selector starts with '$.' and a key, like $.eventName", start);
            return Err(if self.peek() == Some(b'[') {
                e.with_hint("indexing the top level ($[0]) is not supported")
            } else {
                e
            });
        }
        if let Some(b) = self.peek() {
            if !(is_ws(b) || matches!(b, b'=' | b'!' | b'<' | b'>' | b')' | b'}' | b'&' | b'|')) {
                let e = FilterError::new(format!("unexpected {} in the selector", self.describe(self.pos)), self.pos);
                return Err(if b == b'*' {
                    e.with_hint(hints::WILDCARD_SELECTOR)
                } else {
                    e.with_hint(hints::SELECTOR_KEY)
                });
            }
        }
        Ok(Selector { steps })
    }

    fn word(&mut self) -> (&'a str, usize) {
        let at = self.pos;
        (self.read_while(|b| b.is_ascii_alphabetic()), at)
    }

    fn condition(&mut self) -> Result<(Selector, Test), FilterError> {
        let selector = self.selector()?;
        let spaced = self.skip_ws();
        let op_at = self.pos;
        if let Some(op) = self.operator()? {
            let literal = self.value(op, op_at, false)?;
            return Ok((selector, Test::Compare(op, literal)));
        }
        let (word, at) = self.word();
        let test = match word {
            "IS" | "NOT" if !spaced => {
                return Err(FilterError::new(format!("expected a space before '{word}'"), at));
            }
            "IS" => {
                if !self.skip_ws() {
                    return Err(FilterError::new("expected a space after IS", self.pos));
                }
                let (what, what_at) = self.word();
                match what {
                    "NULL" => Test::IsNull,
                    "TRUE" => Test::IsTrue,
                    "FALSE" => Test::IsFalse,
                    "NOT" => return Err(FilterError::new("IS NOT is not supported", at).with_hint(hints::IS_NOT)),
                    w if matches!(w.to_ascii_uppercase().as_str(), "NULL" | "TRUE" | "FALSE" | "NOT") => {
                        return Err(FilterError::new(format!("'{w}' must be written in upper case"), what_at)
                            .with_hint(hints::KEYWORD_CASE));
                    }
                    _ => {
                        return Err(FilterError::new(
                            format!("expected NULL, TRUE or FALSE after IS, found {}", self.describe(what_at)),
                            what_at,
                        ));
                    }
                }
            }
            "NOT" => {
                if !self.skip_ws() {
                    return Err(FilterError::new("expected a space after NOT", self.pos));
                }
                let (what, what_at) = self.word();
                match what {
                    "EXISTS" => Test::NotExists,
                    w if w.eq_ignore_ascii_case("EXISTS") => {
                        return Err(FilterError::new(format!("'{w}' must be written in upper case"), what_at)
                            .with_hint(hints::KEYWORD_CASE));
                    }
                    _ => {
                        return Err(FilterError::new(
                            format!("expected EXISTS after NOT, found {}", self.describe(what_at)),
                            what_at,
                        ));
                    }
                }
            }
            "EXISTS" => return Err(FilterError::new("EXISTS is not supported", at).with_hint(hints::EXISTS)),
            w if w.eq_ignore_ascii_case("IS") || w.eq_ignore_ascii_case("NOT") => {
                return Err(
                    FilterError::new(format!("'{w}' must be written in upper case"), at).with_hint(hints::KEYWORD_CASE)
                );
            }
            w if w.eq_ignore_ascii_case("EXISTS") => {
                return Err(FilterError::new("EXISTS is not supported", at).with_hint(hints::EXISTS));
            }
            _ => {
                return Err(FilterError::new(
                    format!(
                        "expected an operator (= != < <= > >=), IS or NOT EXISTS after the selector, found {}",
                        self.describe(at)
                    ),
                    at,
                ));
            }
        };
        Ok((selector, test))
    }

    // --- space-delimited patterns ------------------------------------------------------

    fn delimited(&mut self) -> Result<Pattern, FilterError> {
        self.pos += 1; // `[`
        let mut slots = Vec::new();
        let mut ellipsis: Option<usize> = None;
        let mut names: Vec<(Box<str>, usize)> = Vec::new();
        loop {
            self.skip_ws();
            let at = self.pos;
            if self.s[at..].starts_with(b"...") {
                if ellipsis.is_some() {
                    return Err(FilterError::new("a second '...'", at).with_hint(hints::ELLIPSIS));
                }
                ellipsis = Some(at);
                self.pos += 3;
                slots.push(Slot::Ellipsis);
            } else if matches!(self.peek(), Some(b',' | b']') | None) {
                slots.push(Slot::Empty);
            } else {
                let slot = self.slot()?;
                if let Slot::Named { name, .. } = &slot {
                    if names.iter().any(|(n, _)| n == name) {
                        return Err(FilterError::new(format!("field name '{name}' is used by two slots"), at)
                            .with_hint("give every slot its own name (its extracted value is $name)"));
                    }
                    names.push((name.clone(), at));
                }
                slots.push(slot);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.skip_ws();
                    if !self.at_end() {
                        return Err(FilterError::new(
                            format!("unexpected {} after the closing ']'", self.describe(self.pos)),
                            self.pos,
                        ));
                    }
                    return Ok(Pattern::Delimited { slots });
                }
                None => {
                    return Err(FilterError::new("missing the closing ']' of the space-delimited pattern", self.pos)
                        .with_hint("a space-delimited pattern is [field, field, ...]; every '[' needs a ']'"));
                }
                Some(b'(' | b')') => {
                    return Err(FilterError::new(
                        "parentheses are not supported in space-delimited patterns",
                        self.pos,
                    ));
                }
                Some(_) => {
                    return Err(FilterError::new(
                        format!("expected ',' or ']', found {}", self.describe(self.pos)),
                        self.pos,
                    )
                    .with_hint("a value with spaces or any of , [ ] ( ) { } \" & | = ! < > must be quoted"));
                }
            }
        }
    }

    fn field_name(&mut self) -> Result<&'a str, FilterError> {
        let at = self.pos;
        let name = self.read_while(is_name_char);
        if name.is_empty() {
            let e = FilterError::new(format!("expected a field name, '...' or ',', found {}", self.describe(at)), at);
            return Err(match self.peek() {
                Some(b'$') => e.with_hint("slots are named without '$': [ip, user, status_code = 404]"),
                Some(b'(' | b')') => e.with_hint("parentheses are not supported in space-delimited patterns"),
                _ => e.with_hint("field names may contain only letters, digits, '_' and '-'"),
            });
        }
        Ok(name)
    }

    fn slot(&mut self) -> Result<Slot, FilterError> {
        let name = self.field_name()?;
        let mut conditions = Vec::new();
        let mut program = Vec::new();
        let mut stack: Vec<u8> = Vec::new();
        self.skip_ws();
        loop {
            let op_at = self.pos;
            let Some(op) = self.operator()? else {
                if conditions.is_empty() {
                    // A bare field name: no condition.
                    return Ok(Slot::Named { name: name.into(), conditions, program });
                }
                return Err(FilterError::new(format!("expected an operator, found {}", self.describe(op_at)), op_at));
            };
            let literal = self.value(op, op_at, true)?;
            conditions.push((op, literal));
            program.push(Rpn::Atom(conditions.len() - 1));
            self.skip_ws();
            let combinator = match (self.peek(), self.peek_at(1)) {
                (Some(b'&'), Some(b'&')) => b'&',
                (Some(b'|'), Some(b'|')) => b'|',
                _ => break,
            };
            while let Some(&top) = stack.last() {
                if top == b'&' || combinator == b'|' {
                    stack.pop();
                    program.push(if top == b'&' { Rpn::And } else { Rpn::Or });
                } else {
                    break;
                }
            }
            stack.push(combinator);
            self.pos += 2;
            self.skip_ws();
            let other_at = self.pos;
            let other = self.field_name()?;
            if other != name {
                return Err(FilterError::new(
                    format!("a condition on '{other}' inside the slot of '{name}'"),
                    other_at,
                )
                .with_hint(hints::SLOT_FIELD));
            }
            self.skip_ws();
        }
        while let Some(top) = stack.pop() {
            program.push(if top == b'&' { Rpn::And } else { Rpn::Or });
        }
        Ok(Slot::Named { name: name.into(), conditions, program })
    }
}

/// Evaluates a postfix program; `atom(i)` is operand `i`. `stack` is scratch space.
pub(crate) fn evaluate(program: &[Rpn], stack: &mut Vec<bool>, mut atom: impl FnMut(usize) -> bool) -> bool {
    stack.clear();
    for op in program {
        match *op {
            Rpn::Atom(i) => stack.push(atom(i)),
            Rpn::And | Rpn::Or => {
                let b = stack.pop().unwrap_or(false);
                let a = stack.pop().unwrap_or(false);
                stack.push(if *op == Rpn::And { a && b } else { a || b });
            }
        }
    }
    stack.pop().unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Pattern {
        parse(text, false).unwrap_or_else(|e| panic!("{text}: {e}")).pattern
    }

    fn err(text: &str) -> FilterError {
        match parse(text, false) {
            Ok(p) => panic!("{text}: accepted as {:?}", p.pattern),
            Err(e) => e,
        }
    }

    #[test]
    fn kinds() {
        assert!(matches!(ok(""), Pattern::Empty));
        assert!(matches!(ok("  \t"), Pattern::Empty));
        assert!(matches!(ok("ERROR"), Pattern::Terms { .. }));
        assert!(matches!(ok(" { $.a = 1 } "), Pattern::Json { .. }));
        assert!(matches!(ok("[a, b]"), Pattern::Delimited { .. }));
        assert!(matches!(ok("%ab%"), Pattern::Terms { .. }));
    }

    #[test]
    fn term_grouping_follows_the_cdk() {
        let Pattern::Terms { alternatives } = ok(r#"?"a" "b" ?"c""#) else { panic!() };
        assert_eq!(alternatives.len(), 2);
        assert_eq!(alternatives[0].len(), 2);
        let Pattern::Terms { alternatives } = ok("ERROR -ARGUMENTS") else { panic!() };
        assert_eq!(alternatives.len(), 1);
        assert!(alternatives[0][1].negated);
        let Pattern::Terms { alternatives } = ok("x ?a ?b") else { panic!() };
        assert_eq!(alternatives.len(), 3);
    }

    #[test]
    fn json_precedence() {
        let Pattern::Json { program, .. } = ok("{ $.a = 1 || $.b = 2 && $.c = 3 }") else { panic!() };
        assert_eq!(program, vec![Rpn::Atom(0), Rpn::Atom(1), Rpn::Atom(2), Rpn::And, Rpn::Or]);
        let Pattern::Json { program, .. } = ok("{ ($.a = 1 || $.b = 2) && $.c = 3 }") else { panic!() };
        assert_eq!(program, vec![Rpn::Atom(0), Rpn::Atom(1), Rpn::Or, Rpn::Atom(2), Rpn::And]);
    }

    #[test]
    fn json_values() {
        let Pattern::Json { conditions, .. } =
            ok(r#"{$.a=kms.amazonaws.com && $.b = "x y" && $.c = 1e-3 && $.d = 123.123.* && $.e="*" && $.f = -1}"#)
        else {
            panic!()
        };
        assert_eq!(conditions[0].1, Test::Compare(Op::Eq, Literal::Str(b"kms.amazonaws.com".as_slice().into())));
        assert_eq!(conditions[1].1, Test::Compare(Op::Eq, Literal::Str(b"x y".as_slice().into())));
        assert!(matches!(&conditions[2].1, Test::Compare(Op::Eq, Literal::Num(n)) if n.value == 0.001));
        assert!(matches!(&conditions[3].1, Test::Compare(Op::Eq, Literal::Glob(g)) if &*g.core == b"123.123."));
        assert!(matches!(&conditions[4].1, Test::Compare(Op::Eq, Literal::Glob(g)) if g.matches_all()));
        assert!(matches!(&conditions[5].1, Test::Compare(Op::Eq, Literal::Num(n)) if n.value == -1.0));
        assert_eq!(conditions[0].0.text(), "$.a");
    }

    #[test]
    fn selectors() {
        let Pattern::Json { conditions, .. } = ok("{ $.a[0][12].b-c_d IS NULL }") else { panic!() };
        assert_eq!(conditions[0].0.text(), "$.a[0][12].b-c_d");
        assert_eq!(conditions[0].1, Test::IsNull);
    }

    #[test]
    fn errors_point_where_they_should() {
        let cases: &[(&str, usize, &str)] = &[
            ("$.a = 1", 0, hints::JSON_BRACES),
            ("{ $.a is null }", 6, hints::KEYWORD_CASE),
            ("{ $.a IS NOT NULL }", 6, hints::IS_NOT),
            ("{ $.a > abc }", 8, hints::NUMERIC_OPERATOR),
            ("{ $.a[*] = 1 }", 6, hints::WILDCARD_SELECTOR),
            ("{ $.* = 1 }", 4, hints::WILDCARD_SELECTOR),
            ("{ ($.a = 1 }", 2, hints::PARENTHESES),
            ("{ $.a = 1) }", 9, hints::PARENTHESES),
            ("{ $.a = \"x }", 8, hints::QUOTES),
            ("%a% %b% %c%", 8, hints::REGEX_LIMIT),
            ("%a(b)%", 2, hints::REGEX_GROUPS),
            ("[..., a, ...]", 9, hints::ELLIPSIS),
            ("[a = 4* && b > 1000]", 11, hints::SLOT_FIELD),
            ("{ $.a == 1 }", 6, hints::DOUBLE_EQUALS),
            ("{ $.a = 1 AND $.b = 2 }", 10, hints::AND_OR),
            ("{ $.@timestamp = 1 }", 4, hints::SELECTOR_KEY),
            ("{ $.aws:SourceIp = 1 }", 7, hints::SELECTOR_KEY),
            ("{ $.a EXISTS }", 6, hints::EXISTS),
            ("ERROR || WARN", 6, hints::TERM_AND_OR),
        ];
        for &(text, position, hint) in cases {
            let e = err(text);
            assert_eq!((e.position(), e.hint()), (position, Some(hint)), "{text}: {e}");
        }
        assert!(err("{ $.a = 1").message().contains("closing '}'"));
        assert!(err("{ }").message().contains("expected a condition"));
        assert!(err("{ () }").message().contains("empty parentheses"));
        assert!(err("{ $.a = 1 } x").message().contains("after the closing"));
        assert!(err("{ $.a = }").message().contains("expected a value"));
        assert!(err("{ $[0] = 1 }").message().contains("starts with '$.'"));
        assert!(err("ERROR - x").message().contains("directly followed"));
        assert_eq!(err("a [b]").position(), 2);
        assert_eq!(err(&"a".repeat(1025)).position(), 1024);
        assert!(parse(&"a".repeat(1024), false).is_ok());
    }

    #[test]
    fn strict_mode_wants_quotes() {
        assert!(parse("foo-bar", false).is_ok());
        let e = parse("ok foo-bar", true).unwrap_err();
        assert_eq!((e.position(), e.hint()), (6, Some(hints::QUOTE_TERM)));
        assert!(parse(r#"ok "foo-bar""#, true).is_ok());
    }

    #[test]
    fn delimited_slots() {
        let Pattern::Delimited { slots } = ok("[..., request=*.html*, status_code=4*,]") else { panic!() };
        assert_eq!(slots.len(), 4);
        assert_eq!(slots[0], Slot::Ellipsis);
        assert_eq!(slots[3], Slot::Empty);
        let Pattern::Delimited { slots } = ok("[w1!=ERROR && w1!=WARNING, w2]") else { panic!() };
        assert!(
            matches!(&slots[0], Slot::Named { conditions, program, .. } if conditions.len() == 2 && program.len() == 3)
        );
        assert!(matches!(ok("[]"), Pattern::Delimited { slots } if slots == vec![Slot::Empty]));
        assert_eq!(err("[a, a]").position(), 4);
        assert_eq!(err("[a").position(), 2);
    }

    #[test]
    fn evaluation_of_postfix_programs() {
        let mut stack = Vec::new();
        let p = [Rpn::Atom(0), Rpn::Atom(1), Rpn::Atom(2), Rpn::And, Rpn::Or];
        assert!(evaluate(&p, &mut stack, |i| i == 0));
        assert!(!evaluate(&p, &mut stack, |i| i == 1));
        assert!(evaluate(&p, &mut stack, |i| i != 0));
        assert!(evaluate(&[], &mut stack, |_| false));
    }
}
