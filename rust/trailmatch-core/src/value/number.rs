//! JSON numbers as EventBridge compares them.
//!
//! A number literal is *comparable* iff it is finite as an `f64` and Java's `Double.toString`
//! of that `f64` has the same decimal value as the literal (event-ruler:
//! `BigDecimal.valueOf(double).compareTo(original) == 0`). Since JDK 19 `Double.toString` is
//! the shortest round-trip decimal, except that it always renders at least two significant
//! digits: when the shortest has one, it takes the closest decimal of at most two digits
//! (`Double.MIN_VALUE` prints as `4.9E-324`, not `5E-324`). Comparable numbers are compared by
//! value (`300` = `3e2` = `300.0`); other literals (`9007199254740993`, `1e400`) only equal the
//! identical literal text, and take part in no range comparison.
//!
//! Comparable values are keyed by [`order_key`], a `u64` that sorts like the numbers, so equality
//! is a hash lookup and ranges are integer intervals.

use std::io::Write as _;

/// Order-preserving key of a finite `f64`; `-0.0` and `0.0` share a key.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::number::order_key;
///
/// assert!(order_key(-2.5) < order_key(-0.0));
/// assert_eq!(order_key(-0.0), order_key(0.0));
/// assert!(order_key(0.0) < order_key(f64::MIN_POSITIVE));
/// assert!(order_key(1e307) < order_key(1e308));
/// ```
pub fn order_key(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The `f64` value of a JSON number literal if it is comparable (see the module docs).
///
/// `text` must be a JSON number (as produced by a JSON parser); anything else yields `None`.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::number::comparable;
///
/// assert_eq!(comparable(b"3e2"), Some(300.0));
/// assert_eq!(comparable(b"0.10"), Some(0.1));
/// assert_eq!(comparable(b"9007199254740992"), Some(9007199254740992.0));
/// assert_eq!(comparable(b"9007199254740993"), None);
/// assert_eq!(comparable(b"1.0000000000000001"), None);
/// assert_eq!(comparable(b"1e400"), None);
/// ```
pub fn comparable(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let value: f64 = s.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let dec = Decimal::parse(text)?;
    // Fast path: at most 15 significant digits in the normal range always round-trips
    // (DBL_DIG = 15), so the shortest representation has the same value.
    if dec.len <= 15 {
        if dec.len == 0 {
            return Some(value);
        }
        let magnitude = dec.exp + dec.len as i64 - 1;
        if (-300..=300).contains(&magnitude) {
            return Some(value);
        }
    }
    (java_repr(value)? == dec).then_some(value)
}

/// Java's `Double.toString(value)` as a canonical decimal (see the module docs).
fn java_repr(value: f64) -> Option<Decimal> {
    let mut buf = [0u8; 48];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{value:e}").ok()?;
    let len = cursor.position() as usize;
    let shortest = Decimal::parse(&buf[..len])?;
    if shortest.len != 1 {
        return Some(shortest);
    }
    // One significant digit: Java picks the closest decimal of length ≤ 2, which is the
    // correctly rounded two-digit form when that still rounds back to `value`.
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{value:.1e}").ok()?;
    let len = cursor.position() as usize;
    let two: f64 = std::str::from_utf8(&buf[..len]).ok()?.parse().ok()?;
    if two == value {
        Decimal::parse(&buf[..len])
    } else {
        Some(shortest)
    }
}

/// Most significant digits a canonical [`Decimal`] holds. A double's shortest representation
/// has at most 17, so a literal with more can never equal one.
const MAX_DIGITS: usize = 20;

/// A decimal number in canonical form: `digits × 10^exp`, digits without leading or trailing
/// zeros (none for zero, whose sign is dropped). Stored inline: parsing never allocates.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: [u8; MAX_DIGITS],
    len: usize,
    exp: i64,
}

impl Decimal {
    /// Parses `-?digits(.digits)?([eE][+-]?digits)?` (also Rust's `{:e}` output); `None` if it
    /// is not of that form or has more than [`MAX_DIGITS`] significant digits.
    fn parse(text: &[u8]) -> Option<Decimal> {
        let negative = text.first() == Some(&b'-');
        let body = if negative { &text[1..] } else { text };
        let mantissa_end = body.iter().position(|&b| b == b'e' || b == b'E').unwrap_or(body.len());
        let (mantissa, exponent) = body.split_at(mantissa_end);
        let mut exp: i64 = 0;
        if !exponent.is_empty() {
            let (exp_negative, digits) = match exponent.get(1) {
                Some(b'-') => (true, &exponent[2..]),
                Some(b'+') => (false, &exponent[2..]),
                _ => (false, &exponent[1..]),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for &d in digits {
                exp = exp.saturating_mul(10).saturating_add(i64::from(d - b'0'));
            }
            if exp_negative {
                exp = -exp;
            }
        }
        let point = mantissa.iter().position(|&b| b == b'.');
        let digit_count = mantissa.len() - usize::from(point.is_some());
        if digit_count == 0 || mantissa.iter().enumerate().any(|(i, b)| !b.is_ascii_digit() && Some(i) != point) {
            return None;
        }
        // Digits in order (skipping the point), with their index among digits.
        let digits = || mantissa.iter().filter(|&&b| b != b'.');
        let frac_len = point.map_or(0, |p| mantissa.len() - p - 1) as i64;
        let Some(first) = digits().position(|&d| d != b'0') else {
            return Some(Decimal { negative: false, digits: [0; MAX_DIGITS], len: 0, exp: 0 });
        };
        let last = digit_count - 1 - digits().rev().position(|&d| d != b'0').expect("a nonzero digit exists");
        let len = last - first + 1;
        if len > MAX_DIGITS {
            return None;
        }
        let mut out = [0u8; MAX_DIGITS];
        for (slot, &d) in out.iter_mut().zip(digits().skip(first).take(len)) {
            *slot = d;
        }
        // value = digits[first..=last] × 10^(exp − frac_len + trailing zeros)
        let trailing = (digit_count - 1 - last) as i64;
        Some(Decimal { negative, digits: out, len, exp: exp.saturating_sub(frac_len).saturating_add(trailing) })
    }
}

/// A pattern number: either a comparable value or literal text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NumberLiteral {
    /// Compared by value; the payload is the [`order_key`].
    Value(u64),
    /// Matched only by identical literal text.
    Text(Box<[u8]>),
}

impl NumberLiteral {
    /// Classifies a JSON number literal.
    pub fn new(text: &[u8]) -> NumberLiteral {
        match comparable(text) {
            Some(v) => NumberLiteral::Value(order_key(v)),
            None => NumberLiteral::Text(text.into()),
        }
    }
}

/// The `f64` whose [`order_key`] is `key` (inverse of `order_key` on finite values).
pub fn from_order_key(key: u64) -> f64 {
    let bits = if key >> 63 == 1 { key & !(1 << 63) } else { !key };
    f64::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_numbers() {
        let mut xs = [-1e308, -3.5, -1.0, -f64::MIN_POSITIVE, 0.0, 5e-324, 1.0, 2.5, 1e308];
        let keys: Vec<u64> = xs.iter().map(|&x| order_key(x)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for x in &mut xs {
            assert_eq!(from_order_key(order_key(*x)), *x);
        }
    }

    #[test]
    fn comparability_follows_shortest_round_trip() {
        for ok in [
            "0",
            "-0",
            "5",
            "5.0",
            "3.018e2",
            "1E2",
            "100e-2",
            "0.1",
            "1e308",
            "-1e-300",
            "123456789012345",
            "1.7976931348623157e308",
            "4.9e-324",
            "1E-320",
        ] {
            assert!(comparable(ok.as_bytes()).is_some(), "{ok}");
        }
        // Java prints Double.MIN_VALUE as 4.9E-324, so the one-digit form is not comparable.
        for no in [
            "5e-324",
            "123456789012345678901",
            "9007199254740993",
            "1e400",
            "1.0000000000000001",
            "1e-400",
            "1E-325",
            "0.30000000000000001",
            "1E309",
        ] {
            assert!(comparable(no.as_bytes()).is_none(), "{no}");
        }
        assert_eq!(comparable(b"0.30000000000000004"), Some(0.1 + 0.2));
        assert_eq!(comparable(b"1.000000000000000000000"), Some(1.0));
    }

    #[test]
    fn literals_classify() {
        assert_eq!(NumberLiteral::new(b"300"), NumberLiteral::new(b"3e2"));
        assert_eq!(NumberLiteral::new(b"-0"), NumberLiteral::new(b"0"));
        assert_eq!(NumberLiteral::new(b"1e400"), NumberLiteral::Text(b"1e400".to_vec().into()));
    }
}
