//! Error types: what was wrong, and where.
//!
//! [`PatternError`] is raised when a pattern is added; its [`Display`](std::fmt::Display) is
//! exactly EventBridge's `Event pattern is not valid. Reason: <reason>` so callers that compare
//! against AWS output can do so, while [`PatternError::path`] and [`PatternError::offset`] locate
//! the offending part precisely. [`EventError`] is raised for an event that is not a UTF-8 JSON
//! object and names the byte offset.

use std::fmt;

/// An invalid event pattern.
///
/// # Example
///
/// ```
/// use trailmatch_core::Ruleset;
///
/// let mut rules = Ruleset::new();
/// let err = rules.add("r", r#"{"detail": {"eventName": "CreateUser"}}"#).unwrap_err();
/// assert_eq!(err.reason(), r#""eventName" must be an object or an array"#);
/// assert_eq!(err.path(), "$.detail.eventName");
/// assert_eq!(
///     err.to_string(),
///     r#"Event pattern is not valid. Reason: "eventName" must be an object or an array"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    reason: String,
    path: String,
    offset: Option<usize>,
    hint: Option<&'static str>,
}

impl PatternError {
    pub(crate) fn new(reason: impl Into<String>, path: impl Into<String>, offset: Option<usize>) -> Self {
        Self { reason: reason.into(), path: path.into(), offset, hint: None }
    }

    pub(crate) fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// The reason text, identical to EventBridge's where EventBridge has one.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// JSONPath-like location of the offending part of the pattern (`$` for the whole pattern),
    /// e.g. `$.detail.eventName[1].prefix`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Byte offset in the pattern text, when the error has a single position.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// A suggestion for fixing a common mistake, if this is one.
    pub fn hint(&self) -> Option<&'static str> {
        self.hint
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event pattern is not valid. Reason: {}", self.reason)
    }
}

impl std::error::Error for PatternError {}

/// An event that cannot be matched because it is not a UTF-8 JSON object.
///
/// # Example
///
/// ```
/// use trailmatch_core::Ruleset;
///
/// let mut rules = Ruleset::new();
/// rules.add("r", r#"{"a": ["x"]}"#).unwrap();
/// let err = rules.matches(br#"{"a": "x",}"#).unwrap_err();
/// assert_eq!(err.offset(), 10);
/// assert!(err.to_string().contains("byte 10"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    message: String,
    offset: usize,
}

impl EventError {
    pub(crate) fn new(message: impl Into<String>, offset: usize) -> Self {
        Self { message: message.into(), offset }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the event at which the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event is not valid JSON: {} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for EventError {}

/// Formats a JSON path step for a key: `.name` for plain names, `["a.b"]` otherwise.
pub(crate) fn push_path_key(path: &mut String, key: &[u8]) {
    let text = String::from_utf8_lossy(key);
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
        && !text.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        path.push('.');
        path.push_str(&text);
    } else {
        path.push('[');
        crate::json::push_string(key, path);
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keys_are_quoted_only_when_needed() {
        let mut p = String::from("$");
        push_path_key(&mut p, b"detail-type");
        push_path_key(&mut p, b"a.b");
        push_path_key(&mut p, b"");
        push_path_key(&mut p, b"9x");
        assert_eq!(p, r#"$.detail-type["a.b"][""]["9x"]"#);
    }
}
