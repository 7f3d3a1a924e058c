//! A CloudTrail record seen as the EventBridge event CloudTrail delivers for it.
//!
//! | field | value |
//! |---|---|
//! | `version` | `"0"` |
//! | `id` | UUIDv5 of the record's `eventID` (deterministic, the default) or a fresh UUIDv4 (as AWS) |
//! | `detail-type` | from `eventType` (`AwsApiCall` → `AWS API Call via CloudTrail`, …; missing → API call) |
//! | `source` | `aws.` + `eventSource` without `.amazonaws.com`, or an override; Insights → `aws.cloudtrail` |
//! | `account` | `recipientAccountId` (else the configured account) |
//! | `time` | `eventTime` |
//! | `region` | `awsRegion` |
//! | `resources` | `[]` |
//! | `detail` | the record, compact: whitespace between tokens removed, tokens as written |
//!
//! The envelope is a *view*: matching reads the record once, with the envelope's fields supplied
//! as values and the record scanned in place as `detail`; only events that match are written
//! out as JSON ([`Envelope::write_json`]). Records that already are EventBridge events (they
//! have `detail-type`, `source` and `detail`) are recognised and taken as they are.

use std::borrow::Cow;

use crate::error::EventError;
use crate::json::dom::decode_string_body;
use crate::json::scan::top_level_values;

/// How `ENABLED` rules decide that a CloudTrail record is a read-only management event (which
/// they do not see).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadOnlyPolicy {
    /// The record's `readOnly` flag (`true`) on a management event. The default: the literal
    /// reading of AWS's current documentation.
    #[default]
    Flag,
    /// The name rule of AWS's older wording: a management event whose `eventName` starts with
    /// `Get`, `List` or `Describe`, unless `readOnly` is `false`.
    NamePrefix,
}

/// How the envelope's `id` is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdPolicy {
    /// UUIDv5 of the record's `eventID`: the same for every replay (the default).
    #[default]
    Deterministic,
    /// A fresh UUIDv4, as EventBridge does.
    Random,
}

/// Settings of the CloudTrail → EventBridge conversion.
#[derive(Debug, Clone)]
pub struct EnvelopeOptions {
    /// See [`ReadOnlyPolicy`].
    pub read_only: ReadOnlyPolicy,
    /// See [`IdPolicy`].
    pub ids: IdPolicy,
    /// `eventSource` → `source` overrides (e.g. `monitoring.amazonaws.com` → `aws.cloudwatch`).
    pub source_overrides: Vec<(String, String)>,
    /// `detail-type` for `AwsVpceEvent` records, which AWS does not document; `None` skips them.
    pub vpce_detail_type: Option<String>,
    /// `account` when a record has no `recipientAccountId`.
    pub default_account: String,
    /// Events whose JSON is larger are not delivered (CloudTrail's 256 KB limit).
    pub max_event_bytes: usize,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions {
            read_only: ReadOnlyPolicy::Flag,
            ids: IdPolicy::Deterministic,
            source_overrides: Vec::new(),
            vpce_detail_type: None,
            default_account: "123456789012".into(),
            max_event_bytes: 262_144,
        }
    }
}

/// Why a record produces no EventBridge event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Neither an EventBridge event nor a CloudTrail record with an `eventSource`.
    NoEventSource,
    /// An `AwsVpceEvent` (network activity) record, not delivered by default.
    VpceEvent,
    /// An `eventType` CloudTrail does not deliver to EventBridge.
    UnknownEventType,
    /// Larger than [`EnvelopeOptions::max_event_bytes`] as an EventBridge event.
    TooLarge,
}

impl Skip {
    /// A short label for summaries.
    pub fn label(self) -> &'static str {
        match self {
            Skip::NoEventSource => "no eventSource",
            Skip::VpceEvent => "VPC endpoint (network activity) event",
            Skip::UnknownEventType => "unknown eventType",
            Skip::TooLarge => "larger than 256 KB",
        }
    }
}

/// The EventBridge event of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `id`, a UUID, made on first use ([`Envelope::id`]): most events are matched and
    /// dropped without anyone reading it.
    id: std::sync::OnceLock<String>,
    /// Whether `id` is random rather than derived from the `eventID`.
    random_id: bool,
    /// `detail-type`.
    pub detail_type: Cow<'a, str>,
    /// `source`.
    pub source: Cow<'a, str>,
    /// `account`.
    pub account: Cow<'a, str>,
    /// `time`.
    pub time: Cow<'a, str>,
    /// `region`.
    pub region: Cow<'a, str>,
    /// The record's JSON text, the event's `detail`.
    pub detail: &'a [u8],
    /// The record's `eventID`, a stable key for de-duplicating deliveries.
    pub event_id: Cow<'a, str>,
    /// Whether `ENABLED` rules skip it (a read-only management event under the policy).
    pub read_only: bool,
}

/// What a record is, as EventBridge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A CloudTrail record, seen through its envelope.
    CloudTrail(Envelope<'a>),
    /// Already an EventBridge event: matched as it is.
    EventBridge {
        /// Its `region`.
        region: Cow<'a, str>,
        /// Its `id` (or the `detail.eventID` when present), for de-duplication.
        event_id: Cow<'a, str>,
        /// Whether `ENABLED` rules skip it (its `detail` is a read-only management event).
        read_only: bool,
        /// Its `time`.
        time: Cow<'a, str>,
    },
    /// Not delivered to EventBridge.
    Skipped(Skip),
}

/// A namespace for the deterministic ids (UUIDv5 of the eventID).
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x7f6c_2b0e_5d1a_4c3e_9b8f_1e2d_3c4b_5a69);

/// The top-level values of a record that the envelope and the rule states need.
#[derive(Debug, Default)]
struct Fields {
    event_type: Option<(usize, usize)>,
    event_source: Option<(usize, usize)>,
    event_name: Option<(usize, usize)>,
    recipient_account: Option<(usize, usize)>,
    event_time: Option<(usize, usize)>,
    aws_region: Option<(usize, usize)>,
    event_id: Option<(usize, usize)>,
    read_only: Option<(usize, usize)>,
    management_event: Option<(usize, usize)>,
    event_category: Option<(usize, usize)>,
    detail_type: Option<(usize, usize)>,
    source: Option<(usize, usize)>,
    detail: Option<(usize, usize)>,
    region: Option<(usize, usize)>,
    id: Option<(usize, usize)>,
    time: Option<(usize, usize)>,
}

fn fields(record: &[u8]) -> Result<Fields, EventError> {
    Ok(fields_prefix(record)?.0)
}

/// The fields of the object at the start of `text` (after whitespace), and where it ends.
fn fields_prefix(text: &[u8]) -> Result<(Fields, usize), EventError> {
    let mut f = Fields::default();
    let end = top_level_values(text, skip_ws(text), &mut |key, start, end| {
        let slot = match key {
            b"eventType" => &mut f.event_type,
            b"eventSource" => &mut f.event_source,
            b"eventName" => &mut f.event_name,
            b"recipientAccountId" => &mut f.recipient_account,
            b"eventTime" => &mut f.event_time,
            b"awsRegion" => &mut f.aws_region,
            b"eventID" => &mut f.event_id,
            b"readOnly" => &mut f.read_only,
            b"managementEvent" => &mut f.management_event,
            b"eventCategory" => &mut f.event_category,
            b"detail-type" => &mut f.detail_type,
            b"source" => &mut f.source,
            b"detail" => &mut f.detail,
            b"region" => &mut f.region,
            b"id" => &mut f.id,
            b"time" => &mut f.time,
            _ => return true,
        };
        // The first occurrence of a duplicate key wins here.
        slot.get_or_insert((start, end));
        true
    })?;
    Ok((f, end))
}

fn skip_ws(text: &[u8]) -> usize {
    text.iter().position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t')).unwrap_or(text.len())
}

/// The decoded text of a JSON string value, or `None` if the value is not a string.
fn string(record: &[u8], range: Option<(usize, usize)>) -> Option<Cow<'_, str>> {
    let (start, end) = range?;
    let raw = &record[start..end];
    if raw.len() < 2 || raw[0] != b'"' || raw[raw.len() - 1] != b'"' {
        return None;
    }
    let body = &raw[1..raw.len() - 1];
    if memchr::memchr(b'\\', body).is_none() {
        return std::str::from_utf8(body).ok().map(Cow::Borrowed);
    }
    let mut out = Vec::with_capacity(body.len());
    decode_string_body(record, start + 1, &mut out).ok()?;
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn literal(record: &[u8], range: Option<(usize, usize)>) -> Option<&[u8]> {
    range.map(|(s, e)| &record[s..e])
}

/// Whether `ENABLED` rules skip a record with these fields under `policy`.
fn classify_read_only(record: &[u8], f: &Fields, policy: ReadOnlyPolicy) -> bool {
    let management = match literal(record, f.management_event) {
        Some(b"true") => true,
        Some(_) => false,
        // Before eventVersion 1.06 there is no managementEvent: judge by the category.
        None => matches!(string(record, f.event_category).as_deref(), None | Some("Management")),
    };
    if !management {
        return false;
    }
    let flag = literal(record, f.read_only);
    match policy {
        ReadOnlyPolicy::Flag => flag == Some(b"true"),
        ReadOnlyPolicy::NamePrefix => {
            flag != Some(b"false")
                && string(record, f.event_name)
                    .is_some_and(|n| n.starts_with("Get") || n.starts_with("List") || n.starts_with("Describe"))
        }
    }
}

fn detail_type(event_type: Option<&str>, options: &EnvelopeOptions) -> Result<Cow<'static, str>, Skip> {
    Ok(Cow::Borrowed(match event_type {
        None | Some("AwsApiCall") => "AWS API Call via CloudTrail",
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsConsoleAction") => "AWS Console Action via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsCloudTrailInsight") => "AWS Insight via CloudTrail",
        Some("AwsVpceEvent") => {
            return options.vpce_detail_type.clone().map(Cow::Owned).ok_or(Skip::VpceEvent);
        }
        Some(_) => return Err(Skip::UnknownEventType),
    }))
}

/// The time of a record as a log event, as written: its `eventTime` (CloudTrail), else its
/// `time` (an EventBridge event). `None` if it has neither as a string.
///
/// # Errors
///
/// An [`EventError`] if the record is not a JSON object where it is read.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::envelope::event_time;
///
/// assert_eq!(event_time(br#"{"eventTime": "2024-01-01T00:00:00Z"}"#).unwrap().as_deref(), Some("2024-01-01T00:00:00Z"));
/// assert_eq!(event_time(br#"{"eventTime": 17}"#).unwrap(), None);
/// ```
pub fn event_time(record: &[u8]) -> Result<Option<Cow<'_, str>>, EventError> {
    let f = fields(record)?;
    Ok(string(record, f.event_time).or_else(|| string(record, f.time)))
}

/// Classifies a record and, for CloudTrail records, builds its envelope view.
///
/// # Errors
///
/// An [`EventError`] if the record is not a JSON object where it is read.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::envelope::{view, EnvelopeOptions, Event};
///
/// let record = br#"{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventType": "AwsApiCall",
///                   "eventTime": "2026-11-22T10:00:00Z", "awsRegion": "us-east-1", "eventID": "e1",
///                   "recipientAccountId": "111122223333", "readOnly": false, "managementEvent": true}"#;
/// let Event::CloudTrail(env) = view(record, &EnvelopeOptions::default()).unwrap() else { panic!() };
/// assert_eq!((&*env.source, &*env.detail_type), ("aws.iam", "AWS API Call via CloudTrail"));
/// let mut json = String::new();
/// env.write_json(&mut json);
/// assert!(json.starts_with(r#"{"version":"0","id":""#));
/// ```
pub fn view<'a>(record: &'a [u8], options: &EnvelopeOptions) -> Result<Event<'a>, EventError> {
    let (f, _) = fields_prefix(record)?;
    Ok(view_fields(record, &f, options))
}

/// [`view`] of the object at the start of `text` (after whitespace), whatever follows it;
/// returns the view and the object's length. One walk both finds where a record ends and
/// collects what its envelope needs.
///
/// # Errors
///
/// An [`EventError`] if the object is malformed at its top level (its nested values are
/// skipped by their brackets and quotes only).
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::envelope::{view_prefix, EnvelopeOptions, Event};
///
/// let text = br#"{"eventSource": "s3.amazonaws.com", "eventID": "1"}, {"eventSource": "x"}"#;
/// let (event, len) = view_prefix(text, &EnvelopeOptions::default()).unwrap();
/// assert!(matches!(event, Event::CloudTrail(ref env) if env.source == "aws.s3"));
/// assert_eq!(&text[len..len + 2], b", ");
/// ```
pub fn view_prefix<'a>(text: &'a [u8], options: &EnvelopeOptions) -> Result<(Event<'a>, usize), EventError> {
    let (f, end) = fields_prefix(text)?;
    let record = &text[..end];
    Ok((view_fields(record, &f, options), end))
}

fn view_fields<'a>(record: &'a [u8], f: &Fields, options: &EnvelopeOptions) -> Event<'a> {
    if let (Some(_), Some(_), Some((ds, de))) = (f.detail_type, f.source, f.detail) {
        let region = string(record, f.region).unwrap_or(Cow::Borrowed(""));
        let detail = &record[ds..de];
        let (event_id, read_only) = match fields(detail) {
            Ok(df) => {
                let id = string(detail, df.event_id).map(|s| Cow::Owned(s.into_owned()));
                (id, classify_read_only(detail, &df, options.read_only))
            }
            Err(_) => (None, false),
        };
        let event_id = event_id.or_else(|| string(record, f.id)).unwrap_or(Cow::Borrowed(""));
        let time = string(record, f.time).unwrap_or(Cow::Borrowed(""));
        return Event::EventBridge { region, event_id, read_only, time };
    }
    let event_type = string(record, f.event_type);
    let detail_type = match detail_type(event_type.as_deref(), options) {
        Ok(d) => d,
        Err(skip) => return Event::Skipped(skip),
    };
    let source: Cow<'a, str> = match string(record, f.event_source) {
        Some(es) => match options.source_overrides.iter().find(|(from, _)| *from == *es) {
            Some((_, to)) => Cow::Owned(to.clone()),
            None => Cow::Owned(format!("aws.{}", es.strip_suffix(".amazonaws.com").unwrap_or(&es))),
        },
        None if event_type.as_deref() == Some("AwsCloudTrailInsight") => Cow::Borrowed("aws.cloudtrail"),
        None => return Event::Skipped(Skip::NoEventSource),
    };
    let event_id = string(record, f.event_id).unwrap_or(Cow::Borrowed(""));
    let envelope = Envelope {
        id: std::sync::OnceLock::new(),
        random_id: options.ids == IdPolicy::Random,
        detail_type,
        source,
        account: string(record, f.recipient_account).unwrap_or_else(|| Cow::Owned(options.default_account.clone())),
        time: string(record, f.event_time).unwrap_or(Cow::Borrowed("")),
        region: string(record, f.aws_region).unwrap_or(Cow::Borrowed("")),
        detail: record,
        event_id,
        read_only: classify_read_only(record, f, options.read_only),
    };
    if envelope.too_large(options.max_event_bytes) {
        return Event::Skipped(Skip::TooLarge);
    }
    Event::CloudTrail(envelope)
}

/// The keys of [`Envelope::fields`], in EventBridge's order.
pub const ENVELOPE_KEYS: [&[u8]; 7] = [b"version", b"id", b"detail-type", b"source", b"account", b"time", b"region"];

impl Envelope<'_> {
    /// `id`: a UUID (version 5 of the record's `eventID` under the deterministic policy,
    /// version 4 under the random one), made on first use.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::cloudtrail::envelope::{view, EnvelopeOptions, Event};
    ///
    /// let id = |record: &[u8]| match view(record, &EnvelopeOptions::default()).unwrap() {
    ///     Event::CloudTrail(env) => env.id().to_owned(),
    ///     _ => unreachable!(),
    /// };
    /// let a = id(br#"{"eventSource": "iam.amazonaws.com", "eventID": "e1"}"#);
    /// assert_eq!(a, id(br#"{"eventID": "e1", "eventSource": "iam.amazonaws.com", "x": 1}"#));
    /// assert_eq!((a.len(), &a[14..15]), (36, "5")); // a version 5 UUID of the eventID
    /// ```
    pub fn id(&self) -> &str {
        self.id.get_or_init(|| {
            let id = if self.random_id {
                uuid::Uuid::new_v4()
            } else {
                // Without an eventID, the record's text keeps the id deterministic.
                let name = if self.event_id.is_empty() { self.detail } else { self.event_id.as_bytes() };
                uuid::Uuid::new_v5(&ID_NAMESPACE, name)
            };
            id.hyphenated().to_string()
        })
    }

    /// The value of the envelope field `ENVELOPE_KEYS[i]`.
    pub fn field(&self, i: usize) -> &str {
        match i {
            0 => "0",
            1 => self.id(),
            2 => &self.detail_type,
            3 => &self.source,
            4 => &self.account,
            5 => &self.time,
            _ => &self.region,
        }
    }

    /// The envelope's fields other than `detail`, in EventBridge's order.
    pub fn fields(&self) -> [(&'static [u8], &str); 7] {
        std::array::from_fn(|i| (ENVELOPE_KEYS[i], self.field(i)))
    }

    /// Length of [`write_json`](Self::write_json)'s output.
    pub fn json_len(&self) -> usize {
        self.envelope_len()
            + match simdutf8::basic::from_utf8(self.detail) {
                Ok(_) => crate::json::compact_len(self.detail),
                // Written with U+FFFD for each invalid sequence (only where validation was lazy).
                Err(_) => crate::json::compact_len(String::from_utf8_lossy(self.detail).as_bytes()),
            }
    }

    /// Whether the event's JSON is longer than `max` bytes. Upper bounds first, which read no
    /// text; they hold while `detail` is UTF-8, since an invalid byte is written as a
    /// three-byte U+FFFD: a record that could grow past `max` that way is checked for UTF-8,
    /// and measured if it is not.
    fn too_large(&self, max: usize) -> bool {
        let upper = self.upper_json_len();
        let within = upper <= max || self.envelope_len() + self.detail.len() <= max;
        if within && (upper + 2 * self.detail.len() <= max || simdutf8::basic::from_utf8(self.detail).is_ok()) {
            return false;
        }
        self.json_len() > max
    }

    fn envelope_len(&self) -> usize {
        let mut n = 0;
        for (key, value) in self.fields() {
            n += key.len() + 3 + json_string_len(value) + 1;
        }
        n + br#""resources":[],"detail":"#.len() + 2
    }

    /// Length of the output without `detail`, plus `detail` as it is (with its whitespace),
    /// every envelope character counted as a six-byte escape: an upper bound of
    /// [`json_len`](Self::json_len) that reads no text and makes no `id`.
    fn upper_json_len(&self) -> usize {
        let values =
            self.detail_type.len() + self.source.len() + self.account.len() + self.time.len() + self.region.len();
        // version, id (36 characters, no escapes), resources and detail keys, quotes, colons, commas.
        6 * values + 300 + self.detail.len()
    }

    /// Appends the event's JSON, compact: the envelope fields, then `detail`, the record's own
    /// text without the whitespace between its tokens (strings and numbers exactly as written).
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        for (key, value) in self.fields() {
            crate::json::push_string(key, out);
            out.push(':');
            crate::json::push_str(value, out);
            out.push(',');
        }
        out.push_str(r#""resources":[],"detail":"#);
        crate::json::push_compact_bytes(self.detail, out);
        out.push('}');
    }
}

fn json_string_len(s: &str) -> usize {
    2 + s.chars().map(|c| if c == '"' || c == '\\' || (c as u32) < 0x20 { 6 } else { c.len_utf8() }).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(extra: &str) -> String {
        format!(
            r#"{{"eventVersion": "1.08", "eventTime": "2023-07-10T11:42:03Z", "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances", "awsRegion": "us-east-1", "eventID": "abc",
                "recipientAccountId": "218007301253" {extra}}}"#
        )
    }

    fn envelope(text: &str, options: &EnvelopeOptions) -> Envelope<'static> {
        let leaked: &'static [u8] = Box::leak(text.as_bytes().to_vec().into_boxed_slice());
        match view(leaked, options).unwrap() {
            Event::CloudTrail(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detail_types_and_sources() {
        let o = EnvelopeOptions::default();
        let e = envelope(&record(r#", "eventType": "AwsConsoleSignIn""#), &o);
        assert_eq!(e.detail_type, "AWS Console Sign In via CloudTrail");
        assert_eq!(e.source, "aws.ec2");
        assert_eq!(e.account, "218007301253");
        assert_eq!(envelope(&record(""), &o).detail_type, "AWS API Call via CloudTrail");
        let insight = r#"{"eventType": "AwsCloudTrailInsight", "awsRegion": "us-east-1", "eventID": "x"}"#;
        assert_eq!(envelope(insight, &o).source, "aws.cloudtrail");
        let mut o2 = EnvelopeOptions::default();
        o2.source_overrides.push(("ec2.amazonaws.com".into(), "aws.compute".into()));
        assert_eq!(envelope(&record(""), &o2).source, "aws.compute");
        assert_eq!(view(br#"{"eventName": "X"}"#, &o).unwrap(), Event::Skipped(Skip::NoEventSource));
        let vpce = record(r#", "eventType": "AwsVpceEvent""#);
        assert_eq!(view(vpce.as_bytes(), &o).unwrap(), Event::Skipped(Skip::VpceEvent));
        let odd = record(r#", "eventType": "Something""#);
        assert_eq!(view(odd.as_bytes(), &o).unwrap(), Event::Skipped(Skip::UnknownEventType));
    }

    #[test]
    fn read_only_policies() {
        let flag = EnvelopeOptions::default();
        let prefix = EnvelopeOptions { read_only: ReadOnlyPolicy::NamePrefix, ..EnvelopeOptions::default() };
        let cases = [
            (r#", "readOnly": true, "managementEvent": true"#, true, true),
            (r#", "readOnly": false, "managementEvent": true"#, false, false),
            // Data events are never dropped.
            (r#", "readOnly": true, "managementEvent": false, "eventCategory": "Data""#, false, false),
            // Old records (no managementEvent): a management event unless the category says otherwise.
            (r#", "readOnly": true"#, true, true),
            (r#", "readOnly": true, "eventCategory": "Data""#, false, false),
            // No readOnly flag: the flag policy delivers, the name policy drops Describe*.
            ("", false, true),
        ];
        for (extra, by_flag, by_name) in cases {
            assert_eq!(envelope(&record(extra), &flag).read_only, by_flag, "{extra}");
            assert_eq!(envelope(&record(extra), &prefix).read_only, by_name, "{extra}");
        }
    }

    #[test]
    fn ids_are_deterministic_or_random() {
        let o = EnvelopeOptions::default();
        let a = envelope(&record(""), &o);
        let b = envelope(&record(r#", "x": 1"#), &o);
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().len(), 36);
        let r = EnvelopeOptions { ids: IdPolicy::Random, ..EnvelopeOptions::default() };
        assert_ne!(envelope(&record(""), &r).id(), envelope(&record(""), &r).id());
    }

    #[test]
    fn json_is_the_envelope_with_the_record_compacted() {
        let text = record(r#", "note": "a\"b  c", "n": 1.50e+2"#);
        let e = envelope(&text, &EnvelopeOptions::default());
        let mut json = String::new();
        e.write_json(&mut json);
        assert_eq!(json.len(), e.json_len());
        let mut compact = String::new();
        crate::json::push_compact(&text, &mut compact);
        assert!(json.ends_with(&format!(r#""resources":[],"detail":{compact}}}"#)));
        assert!(compact.contains(r#""note":"a\"b  c","n":1.50e+2"#));
        let keys: Vec<&str> =
            ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"].to_vec();
        let mut last = 0;
        for k in keys {
            let at = json.find(&format!("\"{k}\":")).unwrap();
            assert!(at >= last);
            last = at;
        }
        let big = record(&format!(r#", "pad": "{}""#, "x".repeat(262_144)));
        assert_eq!(view(big.as_bytes(), &EnvelopeOptions::default()).unwrap(), Event::Skipped(Skip::TooLarge));
        // The limit applies to the compact event: whitespace does not count.
        let spaced = record(&format!(r#", "pad": "{}"{}"#, "x".repeat(200_000), " ".repeat(100_000)));
        assert!(matches!(view(spaced.as_bytes(), &EnvelopeOptions::default()).unwrap(), Event::CloudTrail(_)));
        // Invalid UTF-8 (possible with lazy validation) is written as U+FFFD, three bytes for
        // one: 100,000 such bytes make a 300 kB event, too large although the record is not.
        let mut bad = record(&format!(r#", "pad": "{}""#, "x".repeat(100_000))).into_bytes();
        let at = bad.windows(3).position(|w| w == b"xxx").unwrap();
        bad[at..at + 100_000].fill(0xff);
        assert_eq!(view(&bad, &EnvelopeOptions::default()).unwrap(), Event::Skipped(Skip::TooLarge));
        let mut small = record(r#", "pad": "xx""#).into_bytes();
        let at = small.windows(2).position(|w| w == b"xx").unwrap();
        small[at] = 0xff;
        let Event::CloudTrail(e) = view(&small, &EnvelopeOptions::default()).unwrap() else { panic!() };
        let mut json = String::new();
        e.write_json(&mut json);
        assert_eq!(json.len(), e.json_len());
    }

    #[test]
    fn eventbridge_events_are_taken_as_they_are() {
        let text = br#"{"version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
                       "region": "us-east-1", "detail": {"eventID": "e9", "readOnly": true, "managementEvent": true}}"#;
        assert_eq!(
            view(text, &EnvelopeOptions::default()).unwrap(),
            Event::EventBridge { region: "us-east-1".into(), event_id: "e9".into(), read_only: true, time: "".into() }
        );
    }
}
