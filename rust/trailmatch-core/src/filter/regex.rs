//! CloudWatch Logs regular expressions (`%…%`): AWS's restricted syntax, checked and compiled.
//!
//! AWS allows letters, digits, the symbols `_ # = @ / ; , - :` and the operators
//! `^ $ ? [ ] { } | \ * + .`; no `(` or `)` (no groups), no other character (space included).
//! Escapes are whitelisted: `\d \D \s \S \w \W`, and a backslash before an allowed symbol or
//! operator (decision, reference §3).
//!
//! The checked expression is translated to the `regex` syntax with the JVM's default meanings,
//! since CloudWatch Logs runs on the JVM: `\d`, `\w`, `\s` are ASCII classes, `.` does not match
//! a line terminator, and `$` also matches before a line terminator that ends the text. The
//! result compiles with `regex-automata` (finite automata: linear time, no backtracking; the
//! restricted syntax cannot express back-references or look-around anyway).

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternID, PatternSet};

use super::error::{hints, FilterError};

/// Bound on the compiled size of one expression (`\d{1000}{1000}` is rejected, not built).
const SIZE_LIMIT: usize = 1 << 20;

const LINE_TERMINATORS: &str = r"\n\r\x{85}\x{2028}\x{2029}";

/// One checked and compiled `%…%` expression.
#[derive(Debug, Clone)]
pub(crate) struct FilterRegex {
    /// The expression as written, between the `%` signs.
    pub source: Box<str>,
    /// Its translation to `regex` syntax.
    pub translated: Box<str>,
    pub regex: Regex,
}

impl FilterRegex {
    /// Unanchored search, like AWS.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        self.regex.is_match(Input::new(haystack))
    }
}

fn allowed_symbol(c: char) -> bool {
    matches!(c, '_' | '#' | '=' | '@' | '/' | ';' | ',' | '-' | ':')
}

fn allowed_operator(c: char) -> bool {
    matches!(c, '^' | '$' | '?' | '[' | ']' | '{' | '}' | '|' | '\\' | '*' | '+' | '.')
}

fn class_escape(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        's' => r"[\t\n\x0B\x0C\r ]",
        'S' => r"[^\t\n\x0B\x0C\r ]",
        _ => return None,
    })
}

fn push_hex(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = write!(out, "\\x{{{:X}}}", c as u32);
}

/// Checks `body` (the text between the `%` signs, starting at byte `base` of the pattern) and
/// translates it to `regex` syntax. Error positions are byte offsets into the pattern.
pub(crate) fn translate(body: &str, base: usize) -> Result<String, FilterError> {
    if body.is_empty() {
        return Err(FilterError::new("empty regular expression", base.saturating_sub(1))
            .with_hint("write the expression between the % signs, e.g. %[Ee]rror%"));
    }
    let mut out = String::with_capacity(body.len() * 2);
    // Depth of character classes ([a[bc]] nests, as in Java and `regex`).
    let mut depth = 0usize;
    // True right after `[` or `[^`: a `]` here is a literal.
    let mut class_start = false;
    let mut prev_dash = false;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let pos = base + i;
        let was_class_start = std::mem::take(&mut class_start);
        let was_dash = std::mem::take(&mut prev_dash);
        if c == '(' || c == ')' {
            return Err(FilterError::new(format!("'{c}' is not allowed in a regular expression"), pos)
                .with_hint(hints::REGEX_GROUPS));
        }
        if !(c.is_ascii_alphanumeric() || allowed_symbol(c) || allowed_operator(c)) {
            let what = if c == ' ' || c == '\t' {
                "a space is not allowed in a regular expression".to_owned()
            } else if c.is_ascii_graphic() {
                format!("'{c}' is not allowed in a regular expression")
            } else {
                format!("character {c:?} is not allowed in a regular expression")
            };
            return Err(FilterError::new(what, pos).with_hint(hints::REGEX_CHARSET));
        }
        match c {
            '\\' => {
                let Some((_, next)) = chars.next() else {
                    return Err(FilterError::new("a regular expression cannot end with '\\'", pos)
                        .with_hint(hints::REGEX_ESCAPE));
                };
                if let Some(class) = class_escape(next) {
                    out.push_str(class);
                } else if !next.is_ascii_alphanumeric() && (allowed_symbol(next) || allowed_operator(next)) {
                    push_hex(&mut out, next);
                } else {
                    let hint = if next == '(' || next == ')' { hints::REGEX_GROUPS } else { hints::REGEX_ESCAPE };
                    return Err(FilterError::new(format!("escape '\\{next}' is not supported"), pos).with_hint(hint));
                }
            }
            '[' => {
                depth += 1;
                out.push('[');
                if let Some(&(_, '^')) = chars.peek() {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            ']' if depth > 0 && !was_class_start => {
                depth -= 1;
                out.push(']');
            }
            ']' => push_hex(&mut out, ']'),
            '.' if depth == 0 => {
                out.push_str("[^");
                out.push_str(LINE_TERMINATORS);
                out.push(']');
            }
            '$' if depth == 0 => {
                out.push_str(r"(?:\r\n|[");
                out.push_str(LINE_TERMINATORS);
                out.push_str(r"])?\z");
            }
            // Inside a class: `--` is a set operation in `regex` (a literal in Java), `[:` would
            // open a POSIX class; write those characters as escapes.
            '-' if depth > 0 && was_dash => push_hex(&mut out, '-'),
            ':' if depth > 0 => push_hex(&mut out, ':'),
            '-' if depth > 0 => {
                out.push('-');
                prev_dash = true;
            }
            // Only meaningful inside classes in `regex`'s verbose mode; never special here.
            '#' => push_hex(&mut out, '#'),
            _ => out.push(c),
        }
    }
    Ok(out)
}

fn syntax_message(err: &meta::BuildError) -> String {
    if let Some(e) = err.syntax_error() {
        let kind = match e {
            regex_syntax::Error::Parse(p) => p.kind().to_string(),
            regex_syntax::Error::Translate(t) => t.kind().to_string(),
            other => other.to_string(),
        };
        return format!("invalid regular expression: {kind}");
    }
    if err.size_limit().is_some() {
        return "regular expression is too large".to_owned();
    }
    format!("invalid regular expression: {err}")
}

fn builder(kind: MatchKind) -> meta::Builder {
    let mut b = Regex::builder();
    b.configure(Regex::config().match_kind(kind).nfa_size_limit(Some(SIZE_LIMIT))).syntax(syntax::Config::new());
    b
}

/// Checks, translates and compiles one expression; `base` is the byte offset of `body` in the
/// pattern (errors point there).
pub(crate) fn compile(body: &str, base: usize) -> Result<FilterRegex, FilterError> {
    let translated = translate(body, base)?;
    let regex = builder(MatchKind::LeftmostFirst)
        .build(&translated)
        .map_err(|e| FilterError::new(syntax_message(&e), base.saturating_sub(1)))?;
    Ok(FilterRegex { source: body.into(), translated: translated.into(), regex })
}

/// Several expressions searched together: which of them occur in a text.
///
/// One multi-pattern automaton when it builds; otherwise (a combined size limit) each
/// expression on its own.
#[derive(Debug, Clone)]
pub(crate) struct RegexGroup {
    members: Vec<Regex>,
    combined: Option<Regex>,
}

impl RegexGroup {
    pub fn new(regexes: &[&FilterRegex]) -> Self {
        let members: Vec<Regex> = regexes.iter().map(|r| r.regex.clone()).collect();
        let combined = if regexes.len() > 1 {
            let sources: Vec<&str> = regexes.iter().map(|r| &*r.translated).collect();
            builder(MatchKind::All).build_many(&sources).ok()
        } else {
            None
        };
        RegexGroup { members, combined }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Fills `set` (cleared first) with the members found in `haystack`. `set` must have a
    /// capacity of at least [`len`](Self::len) (members beyond it are dropped, never a panic).
    pub fn fill(&self, haystack: &[u8], set: &mut PatternSet) {
        set.clear();
        match &self.combined {
            Some(re) => re.which_overlapping_matches(&Input::new(haystack), set),
            None => {
                for (i, re) in self.members.iter().enumerate() {
                    if re.is_match(Input::new(haystack)) {
                        if let Ok(p) = PatternID::new(i) {
                            let _ = set.try_insert(p);
                        }
                    }
                }
            }
        }
    }
}

/// Whether member `i` is in `set`.
#[inline]
pub(crate) fn found(set: &PatternSet, i: usize) -> bool {
    PatternID::new(i).is_ok_and(|p| set.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds(re: &str, text: &str) -> bool {
        compile(re, 1).unwrap().is_match(text.as_bytes())
    }

    fn error(re: &str) -> FilterError {
        compile(re, 1).unwrap_err()
    }

    #[test]
    fn aws_examples() {
        assert!(finds("AUTHORIZED", "UNAUTHORIZED REQUEST"));
        assert!(finds(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "from 10.0.0.1 port"));
        assert!(!finds(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "from 10.0.0 port"));
        assert!(finds("[Ee]rror|[Ff]ail", "it failed"));
        assert!(finds("[Ee]rror|[Ff]ail", "Error: x"));
        assert!(!finds("[Ee]rror|[Ff]ail", "ERROR"));
        assert!(finds("colou?r", "color"));
        assert!(finds("colou?r", "colour"));
    }

    #[test]
    fn anchors_and_alternation_split_the_whole_expression() {
        assert!(finds("^abc|xyz$", "abc..."));
        assert!(finds("^abc|xyz$", "...xyz"));
        assert!(!finds("^abc|xyz$", ".abc.xyz."));
        // `$` also matches before a final line terminator, as in Java.
        assert!(finds("end$", "the end\n"));
        assert!(!finds("end$", "the end\nx"));
    }

    #[test]
    fn classes_are_ascii_and_dot_stops_at_line_ends() {
        assert!(!finds(r"\d", "٣"));
        assert!(!finds(r"^\w$", "é"));
        assert!(finds(r"a\sb", "a\tb"));
        assert!(!finds("a.b", "a\nb"));
        assert!(finds("a.b", "a-b"));
        assert!(finds(r"[\d_]x", "_x"));
        assert!(finds(r"[^\D]", "5"));
        assert!(!finds(r"[^\D]", "x"));
        assert!(finds("[a.]", "."));
        assert!(!finds("[.]", "x"));
    }

    #[test]
    fn literal_symbols_and_escapes() {
        assert!(finds("a=b;c,d@e/f#g:h-i_j", "a=b;c,d@e/f#g:h-i_j"));
        assert!(finds(r"\.\*\+\?\[\]\{\}\|\\\^\$", r".*+?[]{}|\^$"));
        assert!(finds(r"\#\:\-", "#:-"));
        assert!(finds("[:a]", ":"));
        assert!(!finds("[[:alpha:]]", "b"), "Java reads [:alpha:] as a set of characters");
        assert!(finds("[a-]", "-"));
        assert!(finds("[-a]", "-"));
        assert!(finds("x]", "x]"));
        assert!(finds("[]a]", "]"));
    }

    #[test]
    fn rejections_point_at_the_character() {
        let e = error("a(b)");
        assert_eq!((e.position(), e.hint()), (2, Some(hints::REGEX_GROUPS)));
        assert_eq!(error("a b").position(), 2);
        assert!(error("a b").message().contains("space"));
        assert_eq!(error("ab!").position(), 3);
        assert_eq!(error("é").hint(), Some(hints::REGEX_CHARSET));
        let e = error(r"a\bc");
        assert_eq!((e.position(), e.hint()), (2, Some(hints::REGEX_ESCAPE)));
        assert_eq!(error(r"\(").hint(), Some(hints::REGEX_GROUPS));
        assert!(error(r"abc\").message().contains("end with"));
        assert!(error("").message().contains("empty"));
        assert!(error("a{").message().starts_with("invalid regular expression"));
        assert!(error("[a").message().starts_with("invalid regular expression"));
        assert!(error("*a").message().starts_with("invalid regular expression"));
        assert_eq!(error(r"\d{1000}{1000}").message(), "regular expression is too large");
    }

    #[test]
    fn groups_report_every_member_found() {
        let a = compile("ab", 1).unwrap();
        let b = compile("^x", 1).unwrap();
        let c = compile("b$", 1).unwrap();
        let group = RegexGroup::new(&[&a, &b, &c]);
        let mut set = PatternSet::new(group.len());
        group.fill(b"xab", &mut set);
        assert_eq!((0..3).filter(|&i| found(&set, i)).collect::<Vec<_>>(), vec![0, 1, 2]);
        group.fill(b"yb", &mut set);
        assert_eq!((0..3).filter(|&i| found(&set, i)).collect::<Vec<_>>(), vec![2]);
        // A set too small drops members rather than panicking.
        let mut small = PatternSet::new(1);
        group.fill(b"xab", &mut small);
        assert!(found(&small, 0) && !found(&small, 2));
    }
}
