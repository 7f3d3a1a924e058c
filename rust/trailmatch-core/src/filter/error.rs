//! [`FilterError`]: an invalid filter pattern, with the character where it goes wrong.

use std::fmt;

/// An invalid CloudWatch Logs filter pattern (AWS answers `InvalidParameterException: Invalid
/// filter pattern`).
///
/// [`position`](Self::position) is the 0-based index, in characters (not bytes), of the
/// offending part of the pattern as given (before trimming), so a caller can point at it.
/// [`hint`](Self::hint) says how to fix a common mistake.
///
/// # Example
///
/// ```
/// use trailmatch_core::filter::FilterSet;
///
/// let err = FilterSet::new().add("{ $.errorCode IS NOT NULL }").unwrap_err();
/// assert_eq!(err.position(), 14);
/// assert_eq!(
///     err.to_string(),
///     "Invalid filter pattern: IS NOT is not supported at character 14"
/// );
/// assert!(err.hint().unwrap().contains("= *"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    message: String,
    position: usize,
    hint: Option<&'static str>,
}

impl FilterError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        FilterError { message: message.into(), position, hint: None }
    }

    pub(crate) fn with_hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// What is wrong, without the position (e.g. `expected a value after '='`).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 0-based character index of the problem in the pattern text.
    pub fn position(&self) -> usize {
        self.position
    }

    /// How to fix a common mistake, if this is one.
    pub fn hint(&self) -> Option<&'static str> {
        self.hint
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid filter pattern: {} at character {}", self.message, self.position)
    }
}

impl std::error::Error for FilterError {}

/// Hints shared by several parsers.
pub(crate) mod hints {
    pub const QUOTE_TERM: &str =
        "terms other than letters, digits and '_' must be quoted: write \"foo-bar\" rather than foo-bar";
    pub const JSON_BRACES: &str = "JSON patterns are enclosed in braces: write { $.eventName = \"CreateUser\" }";
    pub const KEYWORD_CASE: &str = "keywords are upper case: IS NULL, IS TRUE, IS FALSE, NOT EXISTS";
    pub const IS_NOT: &str = "there is no IS NOT: `$.x = *` matches any string, number or boolean value, \
                              `$.x NOT EXISTS` matches a missing field, `$.x != \"v\"` a different value";
    pub const EXISTS: &str = "there is no EXISTS test: `$.x = *` matches when x holds a string, number or \
                              boolean; `$.x NOT EXISTS` when it is missing";
    pub const NUMERIC_OPERATOR: &str = "< <= > >= compare numbers; strings can only be compared with = and !=";
    pub const WILDCARD_SELECTOR: &str =
        "selectors have no wildcards: write one condition per index ($.a[0].b = \"x\" || $.a[1].b = \"x\")";
    pub const SELECTOR_KEY: &str = "selector keys may contain only letters, digits, '_' and '-'";
    pub const PARENTHESES: &str = "every '(' needs a matching ')'";
    pub const QUOTES: &str = "every '\"' needs a matching '\"'; write \\\" for a quote inside a quoted string";
    pub const REGEX_LIMIT: &str = "a filter pattern may contain at most 2 regular expressions (%...%)";
    pub const REGEX_GROUPS: &str = "CloudWatch Logs regular expressions have no groups: '(' and ')' are not \
                                    allowed; | already splits the whole expression";
    pub const REGEX_CHARSET: &str = "regular expressions may contain letters, digits, _ # = @ / ; , - : and the \
                                     operators ^ $ ? [ ] { } | \\ * + . (use \\s for a space)";
    pub const REGEX_ESCAPE: &str =
        "supported escapes: \\d \\D \\s \\S \\w \\W and a backslash before an allowed symbol or operator";
    pub const LENGTH: &str = "filter patterns are limited to 1,024 characters";
    pub const ELLIPSIS: &str = "a space-delimited pattern may contain '...' only once";
    pub const SLOT_FIELD: &str = "every condition in a slot must test that slot's field: write \
                                  [..., status_code = 4*, bytes > 1000] rather than [..., status_code = 4* && bytes > 1000]";
    pub const AND_OR: &str = "combine conditions with && and ||";
    pub const TERM_AND_OR: &str =
        "term patterns are combined by spaces (all terms) and ?term (any term); && and || work only inside { } and [ ]";
    pub const DOUBLE_EQUALS: &str = "the equality operator is a single '='";
    pub const UNARY_NOT: &str =
        "there is no unary NOT: use != for a different value and NOT EXISTS for a missing field";
}
