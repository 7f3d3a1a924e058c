//! Space-delimited messages: splitting a message into fields (reference §5.2) and matching a
//! `[slot, slot, …]` pattern against them (§5.3).

use super::syntax::{evaluate, Slot};
use super::value::{holds, Literal, Node, Op};

/// The fields of one message, decoded into a reusable buffer.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    text: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl Fields {
    /// Splits `message`: runs of spaces and tabs separate fields; text between `"…"` or `[…]`
    /// belongs to one field, the quotes or outer brackets stripped. An unclosed quote or
    /// bracket runs to the end of the message. Brackets nest inside brackets; quotes inside
    /// brackets and brackets inside quotes are ordinary characters.
    pub fn split(&mut self, message: &[u8]) {
        self.text.clear();
        self.spans.clear();
        let mut i = 0;
        let n = message.len();
        while i < n {
            while i < n && matches!(message[i], b' ' | b'\t') {
                i += 1;
            }
            if i >= n {
                break;
            }
            let start = self.text.len() as u32;
            while i < n && !matches!(message[i], b' ' | b'\t') {
                match message[i] {
                    b'"' => {
                        let body = i + 1;
                        let end = memchr::memchr(b'"', &message[body..]).map_or(n, |k| body + k);
                        self.text.extend_from_slice(&message[body..end]);
                        i = (end + 1).min(n);
                    }
                    b'[' => {
                        let body = i + 1;
                        let mut depth = 1usize;
                        let mut j = body;
                        while j < n {
                            match message[j] {
                                b'[' => depth += 1,
                                b']' => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                                _ => {}
                            }
                            j += 1;
                        }
                        self.text.extend_from_slice(&message[body..j]);
                        i = (j + 1).min(n);
                    }
                    b => {
                        self.text.push(b);
                        i += 1;
                    }
                }
            }
            self.spans.push((start, self.text.len() as u32));
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` (0-based); empty past the last field.
    pub fn get(&self, i: usize) -> &[u8] {
        self.spans.get(i).and_then(|&(s, e)| self.text.get(s as usize..e as usize)).unwrap_or_default()
    }
}

/// A compiled space-delimited pattern.
#[derive(Debug, Clone)]
pub(crate) struct Delimited {
    pub slots: Vec<Slot>,
    /// Index of the `...` slot.
    pub ellipsis: Option<usize>,
}

impl Delimited {
    pub fn new(slots: Vec<Slot>) -> Self {
        let ellipsis = slots.iter().position(|s| *s == Slot::Ellipsis);
        Delimited { slots, ellipsis }
    }

    /// Fields a message needs: exactly this many without `...`, at least this many with it.
    pub fn fixed_slots(&self) -> usize {
        self.slots.len() - usize::from(self.ellipsis.is_some())
    }

    /// The field index slot `slot` covers in a message of `n` fields (for `...`: its first).
    fn field_of(&self, slot: usize, n: usize) -> usize {
        match self.ellipsis {
            Some(e) if slot > e => n.saturating_sub(self.slots.len() - slot),
            _ => slot,
        }
    }

    /// Whether the pattern matches `fields`. `regex(i, text)` searches the pattern's
    /// expression `i`.
    pub fn matches(
        &self,
        fields: &Fields,
        stack: &mut Vec<bool>,
        regex: &mut impl FnMut(usize, &[u8]) -> bool,
    ) -> bool {
        let n = fields.len();
        let fixed = self.fixed_slots();
        let count_fits = if self.ellipsis.is_some() { n >= fixed } else { n == fixed };
        if !count_fits {
            return false;
        }
        for (i, slot) in self.slots.iter().enumerate() {
            let Slot::Named { conditions, program, .. } = slot else { continue };
            if program.is_empty() {
                continue;
            }
            let text = fields.get(self.field_of(i, n));
            let node = Node::Str(text);
            let number = node.number();
            if !evaluate(program, stack, |c| {
                let (op, literal): &(Op, Literal) = &conditions[c];
                holds(*op, literal, node, number, regex)
            }) {
                return false;
            }
        }
        true
    }

    /// Calls `out(key, field index)` for each extracted value, in field order: `$name` for a
    /// named slot, `$<1-based position>` for an empty slot and each field `...` covers.
    pub fn extracted<'a>(&'a self, n: usize, mut out: impl FnMut(Key<'a>, usize)) {
        for (i, slot) in self.slots.iter().enumerate() {
            let field = self.field_of(i, n);
            match slot {
                Slot::Named { name, .. } => out(Key::Name(name), field),
                Slot::Empty => out(Key::Position(field + 1), field),
                Slot::Ellipsis => {
                    for f in field..field + (n + 1).saturating_sub(self.slots.len()) {
                        out(Key::Position(f + 1), f);
                    }
                }
            }
        }
    }

    /// The field index slot `slot` covers in a message of `n` fields.
    pub fn field_index(&self, slot: usize, n: usize) -> usize {
        self.field_of(slot, n)
    }
}

/// The key of an extracted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    /// `$name`
    Name(&'a str),
    /// `$7`
    Position(usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::syntax::{parse, Pattern};

    fn split(message: &str) -> Vec<String> {
        let mut f = Fields::default();
        f.split(message.as_bytes());
        (0..f.len()).map(|i| String::from_utf8_lossy(f.get(i)).into_owned()).collect()
    }

    #[test]
    fn tokenizer() {
        assert_eq!(
            split(r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#),
            vec!["127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /index.html HTTP/1.0", "404", "1534"]
        );
        assert_eq!(split("  a \t\t b  "), vec!["a", "b"]);
        assert_eq!(split(r#"a "" b"#), vec!["a", "", "b"]);
        assert_eq!(split(r#"key="a b" c"#), vec!["key=a b", "c"]);
        assert_eq!(split(r#"[a [b] c] "x"#), vec!["a [b] c", "x"]);
        assert_eq!(split(r#"[a "b] c"#), vec![r#"a "b"#, "c"]);
        assert!(split("").is_empty());
        assert!(split(" \t ").is_empty());
    }

    fn delimited(pattern: &str) -> Delimited {
        let Pattern::Delimited { slots } = parse(pattern, false).unwrap().pattern else { panic!() };
        Delimited::new(slots)
    }

    fn matches(pattern: &str, message: &str) -> bool {
        let d = delimited(pattern);
        let mut f = Fields::default();
        f.split(message.as_bytes());
        d.matches(&f, &mut Vec::new(), &mut |_, _| false)
    }

    #[test]
    fn slot_counts_and_ellipsis() {
        assert!(matches("[w1=ERROR, w2]", "ERROR message"));
        assert!(!matches("[w1=ERROR, w2]", "ERROR WARN message"));
        assert!(matches("[w1=ERROR, ...]", "ERROR"));
        assert!(matches("[..., last=x]", "a b x"));
        assert!(!matches("[..., last=x]", "a x b"));
        assert!(matches("[first, ..., last=x]", "a x"));
        assert!(!matches("[first, ..., last=x]", "x"));
        assert!(matches("[w1!=ERROR && w1!=WARNING, w2]", "INFO x"));
        assert!(!matches("[w1!=ERROR && w1!=WARNING, w2]", "WARNING x"));
        assert!(matches("[a, status_code = 404 || status_code = 410]", "x 410"));
        assert!(matches("[a, bytes > 1000]", "x 1534"));
        assert!(!matches("[a, bytes > 1000]", "x abc"));
    }

    #[test]
    fn extracted_keys() {
        let d = delimited("[..., request=*.html*, status_code=4*,]");
        let mut got = Vec::new();
        d.extracted(7, |k, f| got.push((k, f)));
        assert_eq!(
            got,
            vec![
                (Key::Position(1), 0),
                (Key::Position(2), 1),
                (Key::Position(3), 2),
                (Key::Position(4), 3),
                (Key::Name("request"), 4),
                (Key::Name("status_code"), 5),
                (Key::Position(7), 6)
            ]
        );
    }
}
