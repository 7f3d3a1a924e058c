//! IP addresses: EventBridge's `cidr` operator and the address interpretation of IP-looking
//! exact strings.
//!
//! An exact string pattern that *looks like* an IP address is an address match, so
//! `"10.0.0.1"` matches the event string `"10.0.0.01"`. "Looks like": IPv4 is four runs of
//! decimal digits separated by dots (octets with leading zeros are decimal, as in Java);
//! IPv6 is hex digits and colons with at least one colon. A string that looks like an address
//! but does not parse (`"1.2.3.256"`) stays a plain string. As in event-ruler (Java's
//! `InetAddress`), an IPv4-mapped IPv6 address (`::ffff:a00:1`) is the IPv4 address.

/// A parsed address. IPv4 and IPv6 are separate spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ip {
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4(u32),
    /// An IPv6 address.
    V6(u128),
}

/// An inclusive address range of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpRange {
    /// First and last IPv4 address.
    V4(u32, u32),
    /// First and last IPv6 address.
    V6(u128, u128),
}

impl IpRange {
    /// The one-address range of `ip`.
    pub fn single(ip: Ip) -> IpRange {
        match ip {
            Ip::V4(a) => IpRange::V4(a, a),
            Ip::V6(a) => IpRange::V6(a, a),
        }
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: Ip) -> bool {
        match (*self, ip) {
            (IpRange::V4(lo, hi), Ip::V4(a)) => lo <= a && a <= hi,
            (IpRange::V6(lo, hi), Ip::V6(a)) => lo <= a && a <= hi,
            _ => false,
        }
    }
}

/// True if `s` has the shape of an IPv4 address (`[0-9]+(\.[0-9]+){3}`).
pub fn looks_like_ipv4(s: &[u8]) -> bool {
    let mut dots = 0;
    let mut run = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => run += 1,
            b'.' if run > 0 => {
                dots += 1;
                run = 0;
            }
            _ => return false,
        }
    }
    dots == 3 && run > 0
}

/// True if `s` has the shape of an IPv6 address (hex digits and colons, at least one colon).
pub fn looks_like_ipv6(s: &[u8]) -> bool {
    s.contains(&b':') && s.iter().all(|b| b.is_ascii_hexdigit() || *b == b':')
}

/// Parses an IP-looking string; `None` if it does not look like an address or is invalid.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::ip::{parse, Ip};
///
/// assert_eq!(parse(b"10.0.0.01"), Some(Ip::V4(0x0a00_0001)));
/// assert_eq!(parse(b"::ffff:a00:1"), Some(Ip::V4(0x0a00_0001)));
/// assert_eq!(parse(b"2001:db8::1"), parse(b"2001:0db8:0000:0000:0000:0000:0000:0001"));
/// assert_eq!(parse(b"1.2.3.256"), None);
/// assert_eq!(parse(b"host.example"), None);
/// ```
pub fn parse(s: &[u8]) -> Option<Ip> {
    // IPv4 in one pass (the shape check and the value together): source addresses are read
    // from every event a `cidr` rule watches.
    let (mut out, mut octet, mut run, mut dots, mut over) = (0u32, 0u32, 0usize, 0u32, false);
    for &b in s {
        match b {
            b'0'..=b'9' => {
                // Leading zeros are decimal; anything above 255 stays above it, unoverflowed.
                octet = (octet * 10 + u32::from(b - b'0')).min(256);
                over |= octet > 255;
                run += 1;
            }
            b'.' if run > 0 && dots < 3 => {
                out = out << 8 | octet;
                (octet, run, dots) = (0, 0, dots + 1);
            }
            _ => return parse_v6_shaped(s),
        }
    }
    if dots == 3 && run > 0 {
        return (!over).then_some(Ip::V4(out << 8 | octet));
    }
    // Digits and dots, not four octets: not an address (IPv6 needs a colon).
    None
}

/// [`parse`] of a string that is not IPv4-shaped.
fn parse_v6_shaped(s: &[u8]) -> Option<Ip> {
    if looks_like_ipv6(s) {
        let v6 = parse_v6(s)?;
        // IPv4-mapped (::ffff:0:0/96) is IPv4, as Java's InetAddress makes it.
        if v6 >> 32 == 0xffff {
            Some(Ip::V4(v6 as u32))
        } else {
            Some(Ip::V6(v6))
        }
    } else {
        None
    }
}

fn parse_v6(s: &[u8]) -> Option<u128> {
    if s.len() > 39 + 2 {
        return None;
    }
    let (head, tail) = match find_double_colon(s) {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let mut groups: [u16; 8] = [0; 8];
    let (head_groups, heads) = parse_groups(head)?;
    match tail {
        None => {
            if heads != 8 {
                return None;
            }
            groups = head_groups;
        }
        Some(tail) => {
            if find_double_colon(tail).is_some() {
                return None;
            }
            let (tail_groups, tails) = parse_groups(tail)?;
            if heads + tails > 7 {
                return None;
            }
            groups[..heads].copy_from_slice(&head_groups[..heads]);
            groups[8 - tails..].copy_from_slice(&tail_groups[..tails]);
        }
    }
    Some(groups.iter().fold(0u128, |acc, &g| (acc << 16) | u128::from(g)))
}

fn find_double_colon(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"::")
}

/// Parses `g(:g)*` (or the empty string) into 16-bit groups of 1–4 hex digits: the groups
/// and how many there are.
fn parse_groups(s: &[u8]) -> Option<([u16; 8], usize)> {
    let mut out = [0u16; 8];
    if s.is_empty() {
        return Some((out, 0));
    }
    let mut n = 0;
    for part in s.split(|&b| b == b':') {
        if part.is_empty() || part.len() > 4 || n == 8 {
            return None;
        }
        let mut v: u16 = 0;
        for &d in part {
            let digit = (d as char).to_digit(16)? as u16;
            v = (v << 4) | digit;
        }
        out[n] = v;
        n += 1;
    }
    Some((out, n))
}

/// Why a `cidr` operand was rejected; `Display` gives event-ruler's reason text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not exactly one `/`.
    OneSlashRequired,
    /// The mask is not an integer.
    MaskNotInteger,
    /// The mask is negative.
    MaskNegative,
    /// An IPv4 mask of 32 or more.
    V4MaskTooLarge,
    /// An IPv6 mask of 128 or more.
    V6MaskTooLarge,
    /// The address has neither IPv4 nor IPv6 shape.
    Nonstandard(String),
    /// The address has an address's shape but is invalid.
    Invalid(String),
}

impl std::fmt::Display for CidrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CidrError::OneSlashRequired => f.write_str("Malformed CIDR, one '/' required"),
            CidrError::MaskNotInteger => f.write_str("Malformed CIDR, mask bits must be an integer"),
            CidrError::MaskNegative => f.write_str("Malformed CIDR, mask bits must not be negative"),
            CidrError::V4MaskTooLarge => f.write_str("IPv4 mask bits must be < 32"),
            CidrError::V6MaskTooLarge => f.write_str("IPv6 mask bits must be < 128"),
            CidrError::Nonstandard(ip) => write!(f, "Nonstandard IP address: {ip}"),
            CidrError::Invalid(ip) => write!(f, "Invalid IP address: {ip}"),
        }
    }
}

/// Parses a CIDR block such as `10.0.0.0/24` or `2001:db8::/32` into its address range.
///
/// # Errors
///
/// A [`CidrError`] whose text is event-ruler's reason.
///
/// # Example
///
/// ```
/// use trailmatch_core::value::ip::{parse_cidr, IpRange};
///
/// assert_eq!(parse_cidr("10.0.0.0/24"), Ok(IpRange::V4(0x0a00_0000, 0x0a00_00ff)));
/// assert_eq!(parse_cidr("10.0.0.0").unwrap_err().to_string(), "Malformed CIDR, one '/' required");
/// ```
pub fn parse_cidr(text: &str) -> Result<IpRange, CidrError> {
    let mut parts = text.split('/');
    let (Some(addr), Some(mask), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CidrError::OneSlashRequired);
    };
    let mask: i64 = match mask.parse::<i64>() {
        Ok(m) if !mask.starts_with('+') => m,
        _ => return Err(CidrError::MaskNotInteger),
    };
    if mask < 0 {
        return Err(CidrError::MaskNegative);
    }
    let bytes = addr.as_bytes();
    if looks_like_ipv4(bytes) {
        let Some(Ip::V4(a)) = parse(bytes) else {
            return Err(CidrError::Invalid(addr.to_owned()));
        };
        if mask >= 32 {
            return Err(CidrError::V4MaskTooLarge);
        }
        let host = if mask == 0 { u32::MAX } else { u32::MAX >> mask };
        Ok(IpRange::V4(a & !host, a | host))
    } else if looks_like_ipv6(bytes) {
        let Some(a) = parse_v6(bytes) else {
            return Err(CidrError::Invalid(addr.to_owned()));
        };
        if mask >= 128 {
            return Err(CidrError::V6MaskTooLarge);
        }
        let host = if mask == 0 { u128::MAX } else { u128::MAX >> mask };
        let (lo, hi) = (a & !host, a | host);
        // A block inside ::ffff:0:0/96 is the corresponding IPv4 block.
        if lo >> 32 == 0xffff && hi >> 32 == 0xffff {
            Ok(IpRange::V4(lo as u32, hi as u32))
        } else {
            Ok(IpRange::V6(lo, hi))
        }
    } else {
        Err(CidrError::Nonstandard(addr.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(looks_like_ipv4(b"1.2.3.4"));
        assert!(!looks_like_ipv4(b"1.2.3"));
        assert!(!looks_like_ipv4(b"1..2.3"));
        assert!(!looks_like_ipv4(b"1.2.3.4."));
        assert!(looks_like_ipv6(b"::"));
        assert!(!looks_like_ipv6(b"::ffff:1.2.3.4"));
        assert!(!looks_like_ipv6(b"abc"));
    }

    /// The definition [`parse`] implements in one pass for IPv4.
    fn parse_by_shape(s: &[u8]) -> Option<Ip> {
        if looks_like_ipv4(s) {
            let mut out = 0u32;
            for part in s.split(|&b| b == b'.') {
                let v = part.iter().try_fold(0u32, |v, &d| Some(v * 10 + u32::from(d - b'0')).filter(|v| *v <= 255))?;
                out = out << 8 | v;
            }
            Some(Ip::V4(out))
        } else {
            parse_v6_shaped(s)
        }
    }

    #[test]
    fn one_pass_ipv4_agrees_with_shape_then_value() {
        let mut next = crate::testing::xorshift(0x1b4);
        let alphabet = b"0123456789....:af x";
        for case in 0..200_000 {
            let len = (next() % 18) as usize;
            let s: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            assert_eq!(parse(&s), parse_by_shape(&s), "case {case}: {:?}", String::from_utf8_lossy(&s));
        }
        for s in [&b"10.0.0.01"[..], b"255.255.255.255", b"256.0.0.1", b"1.2.3.0000000000255", b"1.2.3.99999999999999"]
        {
            assert_eq!(parse(s), parse_by_shape(s), "{:?}", String::from_utf8_lossy(s));
        }
        assert_eq!(parse(b"1.2.3.0000000000255"), Some(Ip::V4(0x0102_03ff)));
    }

    #[test]
    fn v6_forms() {
        assert_eq!(parse(b"::"), Some(Ip::V6(0)));
        assert_eq!(parse(b"::1"), Some(Ip::V6(1)));
        assert_eq!(parse(b"1::"), Some(Ip::V6(1 << 112)));
        assert_eq!(parse(b"1:2:3:4:5:6:7:8"), Some(Ip::V6(0x0001_0002_0003_0004_0005_0006_0007_0008)));
        assert_eq!(parse(b"1:2:3:4:5:6:7:8:9"), None);
        assert_eq!(parse(b"1::2::3"), None);
        assert_eq!(parse(b":1:2:3:4:5:6:7"), None);
        assert_eq!(parse(b"12345::"), None);
        assert_eq!(parse(b"1:2:3:4:5:6:7::"), Some(Ip::V6(0x0001_0002_0003_0004_0005_0006_0007_0000)));
        assert_eq!(parse(b"1:2:3:4::5:6:7:8"), None);
    }

    #[test]
    fn cidr_errors() {
        assert_eq!(parse_cidr("10.0.0.0/x").unwrap_err(), CidrError::MaskNotInteger);
        assert_eq!(parse_cidr("10.0.0.0/-1").unwrap_err(), CidrError::MaskNegative);
        assert_eq!(parse_cidr("300.0.0.0/8").unwrap_err().to_string(), "Invalid IP address: 300.0.0.0");
        assert_eq!(parse_cidr("abc/8").unwrap_err().to_string(), "Nonstandard IP address: abc");
        assert_eq!(parse_cidr("10.0.0.0/1/2").unwrap_err(), CidrError::OneSlashRequired);
        assert_eq!(
            parse_cidr("2001:db8::/32"),
            Ok(IpRange::V6(0x2001_0db8 << 96, (0x2001_0db8 << 96) | (u128::MAX >> 32)))
        );
        assert_eq!(parse_cidr("0.0.0.0/0"), Ok(IpRange::V4(0, u32::MAX)));
    }
}
