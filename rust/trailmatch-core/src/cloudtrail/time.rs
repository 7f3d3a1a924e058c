//! Log event times: CloudTrail's `eventTime` (and an EventBridge event's `time`) as Unix
//! seconds, for metric filters, which aggregate per minute of event time.

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = bytes.get(at..at + n)?;
    part.iter().try_fold(0i64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0')))
}

/// Parses an ISO 8601 / RFC 3339 timestamp (`2023-12-21T11:35:14Z`, with optional fractional
/// seconds and a `Z` or `±HH:MM` offset) into Unix seconds, rounded down. `None` if `text` is
/// not such a timestamp.
///
/// Also accepted, as log pipelines rewrite CloudTrail's times so (Athena, Panther, SIEM
/// exports): a space instead of `T`, and no offset at all, read as UTC.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::time::unix_seconds;
///
/// assert_eq!(unix_seconds("1970-01-01T00:01:00Z"), Some(60));
/// assert_eq!(unix_seconds("2023-12-21T11:35:14Z"), Some(1_703_158_514));
/// assert_eq!(unix_seconds("2023-12-21T20:35:14.999+09:00"), Some(1_703_158_514));
/// assert_eq!(unix_seconds("2023-12-21 11:35:14.000000000"), Some(1_703_158_514));
/// assert_eq!(unix_seconds("21/12/2023"), None);
/// ```
pub fn unix_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let offset = match b.get(at) {
        None => 0,
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() && b[at + 3] == b':' => {
            let (oh, om) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(unix_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix_seconds("2024-12-31T23:59:59Z"), Some(1_735_689_599));
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(unix_seconds("2024-01-01T09:00:00+09:00"), Some(1_704_067_200));
        assert_eq!(unix_seconds("2023-12-31T19:00:00-05:00"), Some(1_704_067_200));
        assert_eq!(unix_seconds("2024-01-01 00:00:00.5Z"), Some(1_704_067_200));
        assert_eq!(unix_seconds("2024-01-01T00:00:00"), Some(1_704_067_200));
        assert_eq!(unix_seconds("2024-01-01 00:00:00.123456789"), Some(1_704_067_200));
    }

    #[test]
    fn not_timestamps() {
        for text in [
            "",
            "2024",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+0900",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(unix_seconds(text), None, "{text}");
        }
    }
}
