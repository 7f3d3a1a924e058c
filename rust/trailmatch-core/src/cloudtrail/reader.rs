//! Reading CloudTrail log data: decompression and splitting into records.
//!
//! Accepted shapes, detected from the bytes (not the file name):
//!
//! * gzip-compressed data of any of the below (magic `1f 8b`; multi-member streams too);
//! * a CloudTrail log file as delivered to S3: `{"Records": [ … ]}`;
//! * a JSON array of records: `[ {…}, {…} ]`;
//! * JSON Lines, or any sequence of JSON objects separated by whitespace.
//!
//! Splitting finds each record's extent by its brackets and quotes only (fast); the record
//! itself is validated later, when it is matched, so one malformed record is reported on its own
//! and the others are read. A record whose brackets do not balance ends what can be read of an
//! array; in JSON Lines reading resumes at the next line. A truncated gzip stream yields what
//! was decompressed before the damage, plus an error.

use std::borrow::Cow;
use std::io::Read;

/// Data ready to be split into records.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The (decompressed) bytes.
    pub bytes: Cow<'a, [u8]>,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Set when decompression stopped early (truncated or corrupt stream).
    pub error: Option<String>,
}

/// Decompresses `data` if it is gzip, else borrows it.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::reader::decode;
///
/// assert_eq!(&*decode(b"{}").bytes, b"{}");
/// ```
pub fn decode(data: &[u8]) -> Decoded<'_> {
    let (mut out, mut len) = (Vec::new(), 0);
    let Inflated { gzip, error } = inflate(data, &mut out, &mut len);
    if gzip {
        out.truncate(len);
        Decoded { bytes: Cow::Owned(out), gzip, error }
    } else {
        Decoded { bytes: Cow::Borrowed(data), gzip, error }
    }
}

/// [`decode`] into a buffer the caller keeps from one input to the next: its memory is reused
/// instead of being allocated, faulted in, zeroed and returned for every file.
///
/// # Example
///
/// ```
/// use std::io::Write;
/// use trailmatch_core::cloudtrail::reader::{decode_into, InflateBuffer};
///
/// let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// gz.write_all(br#"{"Records": []}"#).unwrap();
/// let gz = gz.finish().unwrap();
/// let mut buf = InflateBuffer::default();
/// let decoded = decode_into(&gz, &mut buf);
/// assert_eq!((&*decoded.bytes, decoded.gzip), (&br#"{"Records": []}"#[..], true));
/// assert_eq!(&*decode_into(b"[]", &mut buf).bytes, b"[]"); // not gzip: borrowed as it is
/// ```
pub fn decode_into<'a>(data: &'a [u8], buf: &'a mut InflateBuffer) -> Decoded<'a> {
    let Inflated { gzip, error } = inflate(data, &mut buf.bytes, &mut buf.len);
    if gzip {
        Decoded { bytes: Cow::Borrowed(&buf.bytes[..buf.len]), gzip, error }
    } else {
        Decoded { bytes: Cow::Borrowed(data), gzip, error }
    }
}

/// Memory for [`decode_into`], kept from one input to the next.
#[derive(Debug, Default)]
pub struct InflateBuffer {
    /// Initialised memory (zeroed once, when it grows); the data is its first `len` bytes.
    bytes: Vec<u8>,
    len: usize,
}

impl InflateBuffer {
    /// Bytes of memory held.
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

struct Inflated {
    gzip: bool,
    error: Option<String>,
}

/// Inflates `data` into `out` if it is gzip (every member of a multi-member stream); the data
/// is `out[..*len]`. `out`'s contents are initialised memory, overwritten rather than zeroed
/// again; it grows as needed.
fn inflate(data: &[u8], out: &mut Vec<u8>, len: &mut usize) -> Inflated {
    *len = 0;
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Inflated { gzip: false, error: None };
    }
    // The trailer's ISIZE is the last member's size modulo 2^32: a hint that spares the
    // buffer's regrowth, capped so that a forged trailer cannot make a small input reserve
    // gigabytes (deflate expands at most 1032:1; CloudTrail's JSON, 8-15:1).
    let hint = data
        .len()
        .checked_sub(4)
        .map_or(0, |at| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize);
    let first = hint.clamp(data.len(), data.len().saturating_mul(64)).saturating_add(64);
    if out.len() < first {
        out.resize(first, 0);
    }
    let mut decoder = flate2::bufread::MultiGzDecoder::new(data);
    let error = loop {
        if *len == out.len() {
            out.resize(2 * out.len(), 0);
        }
        match decoder.read(&mut out[*len..]) {
            Ok(0) => break None,
            Ok(n) => *len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                break Some(format!("gzip data is truncated or corrupt ({e}); read {len} bytes before the damage"))
            }
        }
    };
    Inflated { gzip: true, error }
}

/// One record: its position in the input and its bytes (a JSON value, normally an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// 0-based index of the record in the input.
    pub index: usize,
    /// Byte offset of the record in the (decompressed) input.
    pub offset: usize,
    /// The record's JSON text.
    pub bytes: &'a [u8],
}

/// A part of the input that is not a readable record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Index the record would have had, if the problem is one record.
    pub index: Option<usize>,
    /// Byte offset of the problem in the (decompressed) input.
    pub offset: usize,
    /// What is wrong, and what was done about it.
    pub message: String,
}

/// How the input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `{"Records": [...]}`; the array's contents start at this offset.
    CloudTrail,
    /// A top-level array of records.
    Array,
    /// Objects one after another (JSON Lines).
    Lines,
    /// Nothing but whitespace.
    Empty,
}

#[inline]
fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

/// Iterator over the records of an input (see the module docs).
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::reader::{Layout, Records};
///
/// let mut records = Records::new(br#"{"Records": [{"eventName": "A"}, {"eventName": "B"}]}"#);
/// assert_eq!(records.layout(), Layout::CloudTrail);
/// let names: Vec<_> = records.map(|r| r.unwrap().index).collect();
/// assert_eq!(names, vec![0, 1]);
///
/// let lines = b"{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n";
/// let items: Vec<_> = Records::new(lines).collect();
/// assert!(items[0].is_ok() && items[1].is_err() && items[2].is_ok());
/// ```
#[derive(Debug)]
pub struct Records<'a> {
    text: &'a [u8],
    pos: usize,
    layout: Layout,
    index: usize,
    done: bool,
    /// An error to report before anything else (a top-level problem).
    pending: Option<ReadError>,
}

impl<'a> Records<'a> {
    /// Detects the layout of `text` and positions at the first record.
    pub fn new(text: &'a [u8]) -> Records<'a> {
        let mut r = Records { text, pos: 0, layout: Layout::Empty, index: 0, done: false, pending: None };
        let mut pos = skip_ws(text, 0);
        if text[pos..].starts_with(b"\xEF\xBB\xBF") {
            pos = skip_ws(text, pos + 3);
        }
        match text.get(pos) {
            None => r.done = true,
            Some(b'[') => {
                r.layout = Layout::Array;
                r.pos = pos + 1;
            }
            Some(b'{') => match records_array(text, pos) {
                Some(start) => {
                    r.layout = Layout::CloudTrail;
                    r.pos = start;
                }
                None => {
                    r.layout = Layout::Lines;
                    r.pos = pos;
                }
            },
            Some(_) => {
                r.layout = Layout::Lines;
                r.pos = pos;
            }
        }
        r
    }

    /// The detected layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn error(&self, offset: usize, message: String) -> Result<Record<'a>, ReadError> {
        Err(ReadError { index: Some(self.index), offset, message })
    }

    /// The next record, where `measure` may find its end: given the text from the record's
    /// first byte on, it returns the record's length if it can tell. A caller that walks each
    /// record's top level anyway (the replay's envelope view) saves the splitter its own pass
    /// over the record; `None` falls back to counting brackets.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::cloudtrail::reader::Records;
    ///
    /// let mut records = Records::new(br#"{"Records": [{"a": 1}, {"b": 2}]}"#);
    /// let first = records.next_measured(|rest| Some(rest.iter().position(|&b| b == b'}')? + 1));
    /// assert_eq!(first.unwrap().unwrap().bytes, br#"{"a": 1}"#);
    /// assert_eq!(records.next_measured(|_| None).unwrap().unwrap().bytes, br#"{"b": 2}"#);
    /// assert!(records.next_measured(|_| None).is_none());
    /// ```
    pub fn next_measured(
        &mut self,
        measure: impl FnOnce(&'a [u8]) -> Option<usize>,
    ) -> Option<Result<Record<'a>, ReadError>> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        match self.layout {
            Layout::Empty => None,
            Layout::Array | Layout::CloudTrail => self.next_in_array(measure),
            Layout::Lines => self.next_line(measure),
        }
    }

    fn next_in_array(
        &mut self,
        measure: impl FnOnce(&'a [u8]) -> Option<usize>,
    ) -> Option<Result<Record<'a>, ReadError>> {
        let text = self.text;
        let pos = skip_ws(text, self.pos);
        match text.get(pos) {
            None => {
                self.done = true;
                return Some(self.error(pos, "the file ends inside the array of records (truncated?)".into()));
            }
            Some(b']') => {
                self.done = true;
                return None;
            }
            Some(_) => {}
        }
        let start = pos;
        let measured = measure(&text[start..]).map(|n| Ok(start + n));
        let end = match measured.unwrap_or_else(|| crate::json::scan::skip_structure(text, start)) {
            Ok(end) => end,
            Err(e) => {
                self.done = true;
                let message = format!(
                    "record {} is cut off or unbalanced: {}; the rest of the file is not read",
                    self.index,
                    e.message()
                );
                return Some(self.error(e.offset(), message));
            }
        };
        let after = skip_ws(text, end);
        match text.get(after) {
            Some(b',') => self.pos = after + 1,
            Some(b']') => self.pos = after,
            _ => {
                self.done = true;
                self.pos = after;
            }
        }
        let index = self.index;
        self.index += 1;
        if self.done && text.get(after) != Some(&b']') {
            let message = if after >= text.len() {
                "the file ends inside the array of records (truncated?)"
            } else {
                "expected ',' or ']' after a record; the rest of the file is not read"
            };
            self.pending = Some(ReadError { index: None, offset: after, message: message.into() });
        }
        if text[start] != b'{' {
            return Some(Err(ReadError {
                index: Some(index),
                offset: start,
                message: format!("record {index} is not a JSON object"),
            }));
        }
        Some(Ok(Record { index, offset: start, bytes: &text[start..end] }))
    }

    fn next_line(&mut self, measure: impl FnOnce(&'a [u8]) -> Option<usize>) -> Option<Result<Record<'a>, ReadError>> {
        let text = self.text;
        let pos = skip_ws(text, self.pos);
        if pos >= text.len() {
            self.done = true;
            return None;
        }
        let index = self.index;
        self.index += 1;
        let next_line = |from: usize| memchr::memchr(b'\n', &text[from..]).map_or(text.len(), |i| from + i + 1);
        if text[pos] != b'{' {
            self.pos = next_line(pos);
            return Some(Err(ReadError {
                index: Some(index),
                offset: pos,
                message: format!("record {index} is not a JSON object; skipped to the next line"),
            }));
        }
        let measured = measure(&text[pos..]).map(|n| Ok(pos + n));
        match measured.unwrap_or_else(|| crate::json::scan::skip_structure(text, pos)) {
            Ok(end) => {
                self.pos = end;
                Some(Ok(Record { index, offset: pos, bytes: &text[pos..end] }))
            }
            Err(e) => {
                self.pos = next_line(pos);
                Some(Err(ReadError {
                    index: Some(index),
                    offset: e.offset(),
                    message: format!(
                        "record {index} is cut off or unbalanced: {}; skipped to the next line",
                        e.message()
                    ),
                }))
            }
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_measured(|_| None)
    }
}

/// If the object at `pos` has a top-level `"Records"` array, the offset just inside it. The
/// array itself is not read here, so a cut-off file is still recognised.
fn records_array(text: &[u8], pos: usize) -> Option<usize> {
    let mut pos = skip_ws(text, pos + 1);
    loop {
        if text.get(pos) != Some(&b'"') {
            return None;
        }
        let key_end = memchr::memchr(b'"', &text[pos + 1..])? + pos + 1;
        let colon = skip_ws(text, key_end + 1);
        if text.get(colon) != Some(&b':') {
            return None;
        }
        let start = skip_ws(text, colon + 1);
        if &text[pos + 1..key_end] == b"Records" && text.get(start) == Some(&b'[') {
            return Some(start + 1);
        }
        let end = crate::json::scan::skip_structure(text, start).ok()?;
        pos = skip_ws(text, end);
        if text.get(pos) != Some(&b',') {
            return None;
        }
        pos = skip_ws(text, pos + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    type Collected = Vec<Result<(usize, String), (Option<usize>, String)>>;

    fn collect(text: &[u8]) -> Collected {
        Records::new(text)
            .map(|r| match r {
                Ok(rec) => Ok((rec.index, String::from_utf8_lossy(rec.bytes).into_owned())),
                Err(e) => Err((e.index, e.message)),
            })
            .collect()
    }

    #[test]
    fn cloudtrail_files() {
        let got = collect(br#" {"Records": [ {"a": 1} , {"b": [2, "]"]} ]} "#);
        assert_eq!(got, vec![Ok((0, r#"{"a": 1}"#.into())), Ok((1, r#"{"b": [2, "]"]}"#.into()))]);
        assert!(collect(br#"{"Records": []}"#).is_empty());
        // Other keys before Records are skipped.
        let got = collect(br#"{"x": {"Records": 1}, "Records": [{"c": 3}]}"#);
        assert_eq!(got, vec![Ok((0, r#"{"c": 3}"#.into()))]);
    }

    #[test]
    fn arrays_and_lines() {
        assert_eq!(collect(br"[{}, {}]").len(), 2);
        let got = collect(b"{\"a\": 1}\n\n{\"a\": 2}\r\n{\"a\":\n 3}");
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(Result::is_ok));
        // An object without Records is a record of a JSON Lines input.
        assert_eq!(collect(br#"{"eventName": "X"}"#), vec![Ok((0, r#"{"eventName": "X"}"#.into()))]);
    }

    #[test]
    fn bad_records_are_reported_and_the_rest_is_read() {
        let got = collect(b"{\"a\": 1}\n[1, 2]\n{\"a\": {\n{\"a\": 4}\n");
        assert!(got[0].is_ok());
        assert!(got[1].as_ref().unwrap_err().1.contains("not a JSON object"));
        assert!(got[2].as_ref().unwrap_err().1.contains("cut off"));
        assert_eq!(got[3], Ok((3, r#"{"a": 4}"#.into())));
        // In an array, an element that is not an object is skipped; a cut-off one ends reading.
        let got = collect(br#"[{"a": 1}, 5, {"b": 2}, {"c": "#);
        assert_eq!(got.len(), 4);
        assert!(got[1].is_err() && got[2].is_ok() && got[3].is_err());
        let got = collect(br#"{"Records": [{"a": 1}"#);
        assert!(got[0].is_ok() && got[1].as_ref().unwrap_err().1.contains("ends inside"));
        let got = collect(br#"[{"a": 1}, 7"#);
        assert!(got[1].as_ref().unwrap_err().1.contains("not a JSON object"));
        assert!(got[2].as_ref().unwrap_err().1.contains("ends inside"));
        let got = collect(br#"[{"a": 1} {"b": 2}]"#);
        assert!(got[0].is_ok() && got[1].is_err());
    }

    #[test]
    fn gzip_whole_and_truncated() {
        let data = br#"{"Records": [{"a": 1}, {"b": 2}]}"#;
        let packed = gzip(data);
        let d = decode(&packed);
        assert!(d.gzip && d.error.is_none());
        assert_eq!(&*d.bytes, data);
        // Two members concatenated.
        let mut two = gzip(b"{\"a\": 1}\n");
        two.extend(gzip(b"{\"a\": 2}\n"));
        assert_eq!(&*decode(&two).bytes, b"{\"a\": 1}\n{\"a\": 2}\n");
        // Truncated: what was decoded is kept, and the error says so.
        let big: Vec<u8> = (0..2000).flat_map(|i| format!("{{\"n\": {i}}}\n").into_bytes()).collect();
        let packed = gzip(&big);
        let cut = decode(&packed[..packed.len() / 2]);
        assert!(cut.error.as_deref().unwrap().contains("truncated or corrupt"));
        assert!(!cut.bytes.is_empty() && big.starts_with(&cut.bytes));
    }

    #[test]
    fn decode_into_reuses_its_buffer() {
        let big: Vec<u8> = (0..20_000).flat_map(|i| format!("{{\"n\": {i}}}\n").into_bytes()).collect();
        let packed = gzip(&big);
        let mut buf = InflateBuffer::default();
        assert_eq!(&*decode_into(&packed, &mut buf).bytes, &big[..]);
        // The size hint from the trailer: no regrowth.
        assert!(buf.capacity() >= big.len() && buf.capacity() <= big.len() + 64, "{}", buf.capacity());
        let (at, capacity) = (buf.bytes.as_ptr(), buf.capacity());
        let small = gzip(b"{}");
        assert_eq!(&*decode_into(&small, &mut buf).bytes, b"{}");
        assert_eq!((buf.bytes.as_ptr(), buf.capacity()), (at, capacity), "the same memory, reused");
        // Not gzip: borrowed.
        assert_eq!(&*decode_into(b"[1]", &mut buf).bytes, b"[1]");
        // Cut: what was inflated is kept, as with `decode`.
        let cut = decode_into(&packed[..packed.len() / 2], &mut buf);
        assert!(cut.error.is_some() && !cut.bytes.is_empty() && big.starts_with(&cut.bytes));
        // Larger than the hint (two members; the trailer gives the last one's size): grows.
        let mut two = gzip(&big);
        two.extend(gzip(b"\n{}"));
        let mut fresh = InflateBuffer::default();
        let d = decode_into(&two, &mut fresh);
        assert_eq!((d.bytes.len(), d.error.is_none()), (big.len() + 3, true));
        // A forged trailer claiming 4 GB reserves at most 64 times the input.
        let mut forged = gzip(b"{}");
        let n = forged.len();
        forged[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut fresh = InflateBuffer::default();
        let d = decode_into(&forged, &mut fresh);
        assert!(d.error.is_some(), "the length check fails");
        assert!(fresh.capacity() <= 64 * n + 64);
    }
}
