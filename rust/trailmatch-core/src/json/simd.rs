//! Byte classification sixteen bytes at a time, for the scanner's inner loops.
//!
//! Each function returns a 16-bit mask, bit `i` set when byte `i` of the block belongs to the
//! class. On x86-64 they are SSE2 (one compare per class and a `pmovmskb`); elsewhere a
//! portable SWAR version over two 64-bit words gives the same masks.
//!
//! A block is always a full `[u8; 16]`: callers read the last, partial block of a text through
//! [`tail_block`], which pads with NUL bytes. NUL is a control character, so a padded block
//! stops every string scan at the end of the text, exactly where a truncated string must be
//! reported.

/// Sixteen bytes.
pub type Block = [u8; 16];

/// The block starting at `pos`, padded with NUL bytes past the end of `text`.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::tail_block;
///
/// assert_eq!(&tail_block(b"abc", 1)[..3], b"bc\0");
/// ```
#[inline]
pub fn tail_block(text: &[u8], pos: usize) -> Block {
    let mut block = [0u8; 16];
    let rest = text.get(pos..).unwrap_or_default();
    let n = rest.len().min(16);
    block[..n].copy_from_slice(&rest[..n]);
    block
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    // The intrinsics are safe functions that require the `sse2` target feature in the calling
    // context; the functions below enable it, and calling them is then `unsafe` in contexts
    // that do not declare it. See the SAFETY comments at each call.
    #![allow(unsafe_code)]

    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    };

    use super::Block;

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(block: &Block) -> __m128i {
        let (lo, hi) = block.split_at(8);
        let word = |b: &[u8]| i64::from_le_bytes(b.try_into().expect("8 bytes"));
        _mm_set_epi64x(word(hi), word(lo))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn eq(v: __m128i, byte: u8) -> __m128i {
        _mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn string_special_sse2(block: &Block) -> u32 {
        let v = load(block);
        // Control characters: max(v, 0x1f) == 0x1f exactly when v <= 0x1f (unsigned).
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        let m = _mm_or_si128(_mm_or_si128(eq(v, b'"'), eq(v, b'\\')), control);
        _mm_movemask_epi8(m) as u32
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn byte_mask_sse2(block: &Block, byte: u8) -> u32 {
        _mm_movemask_epi8(eq(load(block), byte)) as u32
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn skip_masks_sse2(block: &Block) -> [u32; 4] {
        let v = load(block);
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        [
            _mm_movemask_epi8(eq(v, b'"')) as u32,
            _mm_movemask_epi8(eq(v, b'\\')) as u32,
            _mm_movemask_epi8(eq(folded, b'{')) as u32,
            _mm_movemask_epi8(eq(folded, b'}')) as u32,
        ]
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn whitespace_sse2(block: &Block) -> u32 {
        let v = load(block);
        let ws = _mm_or_si128(_mm_or_si128(eq(v, b' '), eq(v, b'\t')), _mm_or_si128(eq(v, b'\n'), eq(v, b'\r')));
        _mm_movemask_epi8(ws) as u32
    }

    #[inline]
    pub fn whitespace(block: &Block) -> u32 {
        // SAFETY: as in `string_special`: `sse2` is statically enabled (the module's `cfg`).
        unsafe { whitespace_sse2(block) }
    }

    #[inline]
    pub fn skip_masks(block: &Block) -> [u32; 4] {
        // SAFETY: as in `string_special`: `sse2` is statically enabled (the module's `cfg`).
        unsafe { skip_masks_sse2(block) }
    }

    #[inline]
    pub fn byte_mask(block: &Block, byte: u8) -> u32 {
        // SAFETY: as in `string_special`: `sse2` is statically enabled (the module's `cfg`).
        unsafe { byte_mask_sse2(block, byte) }
    }

    #[inline]
    pub fn string_special(block: &Block) -> u32 {
        // SAFETY: this module is compiled only when `sse2` is statically enabled for the target
        // (the `cfg` above; it is part of the x86-64 baseline), so every CPU this code runs on
        // has the feature the callee requires. The callee takes a reference and reads no memory
        // through pointers.
        unsafe { string_special_sse2(block) }
    }
}

// Compiled everywhere so that its tests run on x86-64 too.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod portable {
    use super::Block;

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;

    /// High bit of each byte of `w` equal to `byte`, exactly (no false positives above a
    /// match: the classic test is exact only for the lowest match, so it is corrected here).
    #[inline]
    fn eq(w: u64, byte: u8) -> u64 {
        let x = w ^ (ONES * u64::from(byte));
        // A byte is zero exactly when adding 0x7f to its low seven bits does not carry into
        // bit 7 and its own bit 7 is clear.
        !(((x & !HIGHS) + !HIGHS) | x) & HIGHS
    }

    /// Gathers the high bits of the eight bytes into the low eight bits.
    #[inline]
    fn gather(m: u64) -> u32 {
        ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }

    #[inline]
    fn words(block: &Block) -> [u64; 2] {
        let (lo, hi) = block.split_at(8);
        [u64::from_le_bytes(lo.try_into().expect("8 bytes")), u64::from_le_bytes(hi.try_into().expect("8 bytes"))]
    }

    #[inline]
    pub fn string_special(block: &Block) -> u32 {
        let [a, b] = words(block);
        let one = |w: u64| {
            // Control characters: bytes below 0x20, i.e. with bits 5–7 clear.
            let control = !(((w & !HIGHS) + (ONES * 0x60)) | w) & HIGHS;
            gather(eq(w, b'"') | eq(w, b'\\') | control)
        };
        one(a) | (one(b) << 8)
    }

    #[inline]
    pub fn skip_masks(block: &Block) -> [u32; 4] {
        let [a, b] = words(block);
        let one = |w: u64| {
            let folded = w | (ONES * 0x20);
            [gather(eq(w, b'"')), gather(eq(w, b'\\')), gather(eq(folded, b'{')), gather(eq(folded, b'}'))]
        };
        let (x, y) = (one(a), one(b));
        [x[0] | (y[0] << 8), x[1] | (y[1] << 8), x[2] | (y[2] << 8), x[3] | (y[3] << 8)]
    }

    #[inline]
    pub fn whitespace(block: &Block) -> u32 {
        let [a, b] = words(block);
        let one = |w: u64| gather(eq(w, b' ') | eq(w, b'\t') | eq(w, b'\n') | eq(w, b'\r'));
        one(a) | (one(b) << 8)
    }

    #[inline]
    pub fn byte_mask(block: &Block, byte: u8) -> u32 {
        let [a, b] = words(block);
        gather(eq(a, byte)) | (gather(eq(b, byte)) << 8)
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use sse2 as imp;

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use portable as imp;

/// Bytes that end or interrupt a run of plain string content: `"`, `\` and the control
/// characters (below 0x20).
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::string_special;
///
/// assert_eq!(string_special(b"ab\"c\\d\nef......."), 0b1010100);
/// ```
#[inline]
pub fn string_special(block: &Block) -> u32 {
    imp::string_special(block)
}

/// Bytes equal to `byte`.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::byte_mask;
///
/// assert_eq!(byte_mask(b"a.b.............", b'.') & 0b111, 0b010);
/// ```
#[inline]
pub fn byte_mask(block: &Block, byte: u8) -> u32 {
    imp::byte_mask(block, byte)
}

/// True if `text[start..end]` contains `byte`; one block compare when the range is at most
/// sixteen bytes and the text extends sixteen bytes from `start`.
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::contains;
///
/// let text = br#"{"a.b": 1, "c": 2, "d": "e.f"}"#;
/// assert!(contains(text, 2, 5, b'.'));
/// assert!(!contains(text, 12, 13, b'.'));
/// ```
#[inline]
pub fn contains(text: &[u8], start: usize, end: usize, byte: u8) -> bool {
    let len = end - start;
    if len <= 16 {
        if let Some(chunk) = text.get(start..start + 16) {
            let mask = byte_mask(chunk.try_into().expect("16 bytes"), byte);
            return mask & ((1u32 << len) - 1) != 0;
        }
    }
    memchr::memchr(byte, &text[start..end]).is_some()
}

/// The masks of 64 bytes that skipping a value by its structure needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkipMasks {
    /// `"`.
    pub quote: u64,
    /// `\`.
    pub backslash: u64,
    /// `{` and `[`.
    pub open: u64,
    /// `}` and `]`.
    pub close: u64,
}

/// Classifies 64 bytes at once (bit `i` for byte `i`).
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::skip_masks;
///
/// let mut block = [b' '; 64];
/// block[..12].copy_from_slice(br#"{"a":["\"]"]"#);
/// let m = skip_masks(&block);
/// assert_eq!((m.quote, m.backslash, m.open, m.close), (0b101_0100_1010, 0b1000_0000, 0b10_0001, 0b1010_0000_0000));
/// ```
#[inline]
pub fn skip_masks(block: &[u8; 64]) -> SkipMasks {
    let mut m = SkipMasks { quote: 0, backslash: 0, open: 0, close: 0 };
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        let [q, b, o, c] = imp::skip_masks(chunk.try_into().expect("16 bytes"));
        let shift = 16 * i;
        m.quote |= u64::from(q) << shift;
        m.backslash |= u64::from(b) << shift;
        m.open |= u64::from(o) << shift;
        m.close |= u64::from(c) << shift;
    }
    m
}

/// JSON whitespace among 64 bytes: space, tab, line feed, carriage return (bit `i` for byte
/// `i`).
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::whitespace64;
///
/// let mut block = [b'x'; 64];
/// block[1] = b' ';
/// block[63] = b'\n';
/// assert_eq!(whitespace64(&block), (1 << 63) | 0b10);
/// ```
#[inline]
pub fn whitespace64(block: &[u8; 64]) -> u64 {
    let mut m = 0;
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        m |= u64::from(imp::whitespace(chunk.try_into().expect("16 bytes"))) << (16 * i);
    }
    m
}

/// Byte-string equality without a call to `memcmp`: keys and values compared on the hot path
/// are short, and for them two overlapping word loads per side decide it without the library
/// call's size dispatch (which mispredicts as lengths vary from key to key).
///
/// # Example
///
/// ```
/// use trailmatch_core::json::simd::bytes_eq;
///
/// assert!(bytes_eq(b"eventName", b"eventName"));
/// assert!(!bytes_eq(b"eventName", b"eventname"));
/// assert!(!bytes_eq(b"ab", b"abc"));
/// ```
#[inline]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        // Bytes 0, n/2 and n-1 cover all of one to three bytes.
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(block: &Block, class: impl Fn(u8) -> bool) -> u32 {
        block.iter().enumerate().filter(|(_, &b)| class(b)).fold(0, |m, (i, _)| m | (1 << i))
    }

    #[test]
    fn masks_agree_with_a_byte_by_byte_classification_for_every_byte() {
        // Every byte value in every position, next to every other class.
        for b in 0..=255u8 {
            for pos in 0..16 {
                for filler in [b'a', b'"', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'{', b'\\'] {
                    let mut block = [filler; 16];
                    block[pos] = b;
                    let special = reference(&block, |c| c == b'"' || c == b'\\' || c < 0x20);
                    assert_eq!(string_special(&block), special, "{block:?}");
                    assert_eq!(portable::string_special(&block), special, "{block:?}");
                    let masks = [
                        reference(&block, |c| c == b'"'),
                        reference(&block, |c| c == b'\\'),
                        reference(&block, |c| c == b'{' || c == b'['),
                        reference(&block, |c| c == b'}' || c == b']'),
                    ];
                    assert_eq!(sse_or_portable_skip_masks(&block), masks, "{block:?}");
                    assert_eq!(portable::skip_masks(&block), masks, "{block:?}");
                    let ws = reference(&block, |c| b" \t\n\r".contains(&c));
                    assert_eq!(imp::whitespace(&block), ws, "{block:?}");
                    assert_eq!(portable::whitespace(&block), ws, "{block:?}");
                    let equal = reference(&block, |c| c == b);
                    assert_eq!(byte_mask(&block, b), equal, "{block:?}");
                    assert_eq!(portable::byte_mask(&block, b), equal, "{block:?}");
                }
            }
        }
    }

    fn sse_or_portable_skip_masks(block: &Block) -> [u32; 4] {
        imp::skip_masks(block)
    }

    #[test]
    fn skip_masks_of_64_bytes_put_each_block_in_place() {
        let mut block = [b'a'; 64];
        for (i, b) in [(0, b'"'), (17, b'\\'), (40, b'['), (63, b'}'), (62, b'{'), (33, b']')] {
            block[i] = b;
        }
        let m = skip_masks(&block);
        assert_eq!(m.quote, 1);
        assert_eq!(m.backslash, 1 << 17);
        assert_eq!(m.open, (1 << 40) | (1 << 62));
        assert_eq!(m.close, (1 << 63) | (1 << 33));
    }

    #[test]
    fn contains_looks_only_inside_the_range() {
        let text = b"..ab.cd...................xyz.";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let want = text[start..end].contains(&b'.');
                assert_eq!(contains(text, start, end, b'.'), want, "{start}..{end}");
            }
        }
    }

    #[test]
    fn bytes_eq_agrees_with_slice_equality_at_every_length_and_difference() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(bytes_eq(a, a), "{n}");
            for i in 0..n {
                let mut other = a.to_vec();
                other[i] ^= 0x01;
                assert!(!bytes_eq(a, &other), "{n} {i}");
            }
            if n > 0 {
                assert!(!bytes_eq(a, &base[..n - 1]), "{n}");
            }
        }
    }

    #[test]
    fn tail_blocks_are_padded_with_nul() {
        assert_eq!(tail_block(b"", 0), [0; 16]);
        assert_eq!(tail_block(b"abc", 5), [0; 16]);
        let full = tail_block(b"0123456789abcdefXYZ", 2);
        assert_eq!(&full, b"23456789abcdefXY");
        assert_eq!(string_special(&tail_block(b"abc", 0)), 0xfff8);
    }
}
