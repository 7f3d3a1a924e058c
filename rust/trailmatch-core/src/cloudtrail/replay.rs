//! Replaying CloudTrail data through rules deployed on EventBridge buses.
//!
//! A [`Replay`] holds the rules of a deployment by `(region, bus)`. CloudTrail delivers each
//! record to the **default bus of the record's region** (`awsRegion`; global services such as
//! IAM record `us-east-1`), so [`Replay::process`] matches each record against that bus only.
//! Rules on custom buses see events only when a rule forwards them there
//! ([`Replay::match_forwarded`]; forwarding itself is the caller's, one hop as EventBridge does).
//!
//! Rule states: `DISABLED` rules are not added; `ENABLED` rules do not see read-only management
//! events (see [`ReadOnlyPolicy`](super::envelope::ReadOnlyPolicy)); rules in state
//! `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` see everything. One scan per event serves
//! both: matches of `ENABLED` rules are dropped when the event is read-only.
//!
//! Metric filters ([`Replay::add_filter`]) see every record as one log event, as CloudTrail
//! delivers it to a CloudWatch Logs log group (every region of a multi-region trail, read-only
//! events and records EventBridge never gets included); a record's log event time is its
//! `eventTime`.
//!
//! Rules and metric filters are identified by caller-chosen `u32` keys.

use std::fmt::Write as _;

use rustc_hash::FxHashMap;

use super::envelope::{event_time, view, Envelope, EnvelopeOptions, Event, Skip};
use super::reader::{decode_into, InflateBuffer, Records};
use super::time;
use crate::automaton::{RuleId, Ruleset, Scratch};
use crate::error::{EventError, PatternError};
use crate::filter::{FilterError, FilterMatch, FilterScratch, FilterSet};
use crate::json::fields::FieldTree;
use crate::json::scan::Validation;
use crate::pattern::Limits;

/// A rule's state, as EventBridge has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleState {
    /// Sees every event except read-only management events from CloudTrail.
    Enabled,
    /// Sees nothing.
    Disabled,
    /// Sees every event (`ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).
    EnabledWithAllManagementEvents,
}

impl RuleState {
    /// Parses `ENABLED`, `DISABLED` or `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
    ///
    /// # Example
    ///
    /// ```
    /// use trailmatch_core::cloudtrail::replay::RuleState;
    ///
    /// assert_eq!(RuleState::parse("DISABLED"), Some(RuleState::Disabled));
    /// assert_eq!(RuleState::parse("enabled"), None);
    /// ```
    pub fn parse(text: &str) -> Option<RuleState> {
        match text {
            "ENABLED" => Some(RuleState::Enabled),
            "DISABLED" => Some(RuleState::Disabled),
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" => Some(RuleState::EnabledWithAllManagementEvents),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Bus {
    rules: Ruleset,
    /// Per rule id: the caller's key and whether the rule sees read-only events.
    meta: Vec<(u32, bool)>,
}

/// What processing one input produced, besides statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    /// A record whose event matched rules of its region's default bus.
    Match {
        /// Index of the record in the input.
        index: usize,
        /// Byte offset of the record in the (decompressed) input.
        offset: usize,
        /// Keys of the matching rules, in the order they were added.
        keys: &'a [u32],
        /// The EventBridge event, as JSON.
        event: &'a str,
        /// The record's `eventID` (the event's `id` for EventBridge events).
        event_id: &'a str,
        /// The event's region.
        region: &'a str,
        /// The event's `time` (the record's `eventTime`).
        time: &'a str,
    },
    /// A record (a log event) that matched metric filters, or that has no usable time.
    Logged {
        /// Index of the record in the input.
        index: usize,
        /// Byte offset of the record in the (decompressed) input.
        offset: usize,
        /// The log event's time (`eventTime`) in Unix seconds, or why there is none (no
        /// `eventTime`, or not a timestamp): such a record matches, but no metric can place it.
        time: Result<i64, String>,
        /// The matching filters, in the order they were added, with their values.
        hits: &'a [LogHit],
    },
    /// A part of the input that could not be read or matched.
    Error {
        /// Index of the record, when the problem is one record.
        index: Option<usize>,
        /// Byte offset of the problem in the (decompressed) input.
        offset: usize,
        /// What is wrong.
        message: String,
    },
}

/// Counts for one processed input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of (decompressed) input.
    pub bytes: u64,
    /// Whether the input was gzip-compressed.
    pub gzip: bool,
    /// Records read (malformed ones included).
    pub records: u64,
    /// Records that became (valid) events and were matched.
    pub events: u64,
    /// Events that were read-only management events (hidden from `ENABLED` rules).
    pub read_only: u64,
    /// Events that matched at least one rule.
    pub matched_events: u64,
    /// (event, rule) matches.
    pub matches: u64,
    /// Problems reported as [`Item::Error`].
    pub errors: u64,
    /// Records that produce no EventBridge event, by reason.
    pub skipped: Vec<(Skip, u64)>,
    /// Log events (records) the metric filters saw, per second of event time, sorted by time:
    /// `(unix seconds, count)`. Empty without metric filters.
    pub log_seconds: Vec<(i64, u64)>,
    /// (log event, metric filter) matches.
    pub filter_matches: u64,
    /// Records without a usable `eventTime` (matched, but not in `log_seconds`; each reported
    /// as an [`Item::Logged`]).
    pub untimed: u64,
}

/// A metric filter that matched a log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHit {
    /// The filter's key.
    pub key: u32,
    /// The text of each of its value selectors (`None`: missing, null, object or array).
    pub values: Vec<Option<String>>,
}

impl Stats {
    /// Counts a log event at `seconds` (records mostly come in time order: runs are merged).
    fn log_event(&mut self, seconds: i64) {
        match self.log_seconds.last_mut() {
            Some((last, n)) if *last == seconds => *n += 1,
            _ => self.log_seconds.push((seconds, 1)),
        }
    }

    /// Leaves `log_seconds` sorted with one entry per second.
    fn finish(&mut self) {
        if self.log_seconds.windows(2).all(|w| w[0].0 < w[1].0) {
            return;
        }
        self.log_seconds.sort_unstable_by_key(|&(s, _)| s);
        let mut merged: Vec<(i64, u64)> = Vec::with_capacity(self.log_seconds.len());
        for &(s, n) in &self.log_seconds {
            match merged.last_mut() {
                Some((last, m)) if *last == s => *m += n,
                _ => merged.push((s, n)),
            }
        }
        self.log_seconds = merged;
    }

    fn skip(&mut self, reason: Skip) {
        match self.skipped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason, 1)),
        }
    }
}

/// Reusable per-thread working memory for [`Replay::process`].
#[derive(Debug, Default)]
pub struct ReplayScratch {
    matching: Scratch,
    filtering: FilterScratch,
    filter_out: Vec<FilterMatch>,
    checking: crate::json::scan::ScanScratch,
    hits: Vec<LogHit>,
    ids: Vec<RuleId>,
    keys: Vec<u32>,
    json: String,
    /// The decompressed input, reused from one input to the next.
    inflated: InflateBuffer,
}

/// Larger decompression buffers are not kept for the next input.
const KEEP_INFLATED: usize = 64 << 20;

/// Rules deployed on buses in regions, ready to replay CloudTrail data.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::replay::{Item, Replay, ReplayScratch, RuleState};
///
/// let mut replay = Replay::default();
/// replay.add_rule(7, "us-east-1", "default", RuleState::Enabled, br#"{"source": ["aws.iam"]}"#).unwrap();
/// let log = br#"{"Records": [
///   {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1", "eventID": "1"},
///   {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "eu-west-1", "eventID": "2"}]}"#;
/// let mut hits = Vec::new();
/// let stats = replay.process(log, &mut ReplayScratch::default(), &mut |item| {
///     if let Item::Match { index, keys, .. } = item {
///         hits.push((index, keys.to_vec()));
///     }
/// });
/// assert_eq!(hits, vec![(0, vec![7])]); // the eu-west-1 record goes to eu-west-1's bus
/// assert_eq!(stats.records, 2);
/// ```
#[derive(Debug, Default)]
pub struct Replay {
    options: EnvelopeOptions,
    validation: Validation,
    limits: Limits,
    /// Buses by region, then by name (looked up by `&str`, without building a key per record).
    buses: FxHashMap<Box<str>, FxHashMap<Box<str>, Bus>>,
    filters: Option<Filters>,
    /// The empty field tree: records that no rule reads are still validated in full mode.
    no_fields: FieldTree,
}

/// The metric filters, with the caller's key per filter id.
#[derive(Debug, Default)]
struct Filters {
    set: FilterSet,
    keys: Vec<u32>,
}

impl Replay {
    /// A replay with these envelope options and event validation mode.
    pub fn new(options: EnvelopeOptions, validation: Validation, limits: Limits) -> Self {
        Replay { options, validation, limits, buses: FxHashMap::default(), filters: None, no_fields: FieldTree::new() }
    }

    /// The envelope options.
    pub fn options(&self) -> &EnvelopeOptions {
        &self.options
    }

    /// Adds a rule on `bus` in `region` under the caller's `key`.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the pattern is invalid (also for `DISABLED` rules, which are
    /// validated but match nothing).
    pub fn add_rule(
        &mut self,
        key: u32,
        region: &str,
        bus: &str,
        state: RuleState,
        pattern: &[u8],
    ) -> Result<(), PatternError> {
        let compiled = crate::pattern::compile_rule(Some(&key.to_string()), pattern, &self.limits)?;
        if state == RuleState::Disabled {
            return Ok(());
        }
        let bus = self.buses.entry(region.into()).or_default().entry(bus.into()).or_insert_with(|| {
            let mut rules = Ruleset::with_limits(self.limits.clone());
            rules.set_validation(self.validation);
            Bus { rules, meta: Vec::new() }
        });
        let id = bus.rules.add_compiled(&key.to_string(), compiled) as usize;
        if bus.meta.len() <= id {
            bus.meta.resize(id + 1, (0, false));
        }
        bus.meta[id] = (key, state == RuleState::EnabledWithAllManagementEvents);
        Ok(())
    }

    fn bus(&self, region: &str, bus: &str) -> Option<&Bus> {
        self.buses.get(region)?.get(bus)
    }

    /// Number of rules that can match something (not `DISABLED`).
    pub fn len(&self) -> usize {
        self.buses.values().flat_map(FxHashMap::values).map(|b| b.rules.len()).sum()
    }

    /// True if no rule can match anything.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys of the rules of `bus` that `ids` name, dropping `ENABLED` rules for read-only
    /// events.
    fn keys(bus: &Bus, ids: &[RuleId], read_only: bool, keys: &mut Vec<u32>) {
        keys.clear();
        keys.extend(ids.iter().map(|&id| bus.meta[id as usize]).filter(|&(_, all)| all || !read_only).map(|(k, _)| k));
    }

    /// Matches one EventBridge event forwarded to `bus` in `region` (bus-to-bus delivery);
    /// returns the keys of the matching rules.
    ///
    /// # Errors
    ///
    /// An [`EventError`] if the event is not a JSON object.
    pub fn match_forwarded(
        &self,
        region: &str,
        bus: &str,
        event: &[u8],
        scratch: &mut ReplayScratch,
    ) -> Result<Vec<u32>, EventError> {
        let Some(b) = self.bus(region, bus) else { return Ok(Vec::new()) };
        let read_only = match view(event, &self.options)? {
            Event::EventBridge { read_only, .. } => read_only,
            Event::CloudTrail(env) => env.read_only,
            Event::Skipped(_) => false,
        };
        b.rules.matches_with(event, &mut scratch.matching, &mut scratch.ids)?;
        let mut keys = Vec::new();
        Self::keys(b, &scratch.ids, read_only, &mut keys);
        Ok(keys)
    }

    /// Adds a metric filter under the caller's `key`: its pattern is evaluated on every record
    /// (each record is one log event, as CloudTrail delivers it to CloudWatch Logs), whatever its
    /// region; `values` are selectors (`$.field`, `$name`) whose text each match reports.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] if the pattern is invalid.
    pub fn add_filter(&mut self, key: u32, pattern: &str, values: &[&str]) -> Result<(), FilterError> {
        let filters = self.filters.get_or_insert_with(Filters::default);
        let id = filters.set.add_with_values(pattern, values)? as usize;
        if filters.keys.len() <= id {
            filters.keys.resize(id + 1, 0);
        }
        filters.keys[id] = key;
        Ok(())
    }

    /// Number of metric filters.
    pub fn filter_count(&self) -> usize {
        self.filters.as_ref().map_or(0, |f| f.set.len())
    }

    /// With full validation, checks a record no rule reads, so that a malformed one is reported
    /// rather than silently skipped.
    fn check_unread(&self, record: &[u8], scratch: &mut ReplayScratch) -> Result<(), EventError> {
        if self.validation != Validation::Full {
            return Ok(());
        }
        crate::json::scan::scan(record, &self.no_fields, &mut scratch.checking, &mut |_, _, _| {})
    }

    /// Evaluates the metric filters on one record whose event view is `event`; fills
    /// `scratch.hits` and returns the record's log event time in Unix seconds, or why it has
    /// none.
    fn log_event(
        filters: &Filters,
        record: &[u8],
        event: &Event<'_>,
        scratch: &mut ReplayScratch,
    ) -> Result<i64, String> {
        let ReplayScratch { filtering, filter_out, hits, .. } = scratch;
        filters.set.matches(record, filtering, filter_out);
        hits.clear();
        for m in filter_out.iter() {
            hits.push(LogHit {
                key: filters.keys[m.id as usize],
                values: m.values(filtering).map(|v| v.map(str::to_owned)).collect(),
            });
        }
        let from_record;
        let written = match event {
            Event::CloudTrail(env) => Some(&*env.time),
            Event::EventBridge { time, .. } => Some(&**time),
            Event::Skipped(_) => {
                from_record = event_time(record).map_err(|e| e.to_string())?;
                from_record.as_deref()
            }
        };
        match written {
            None | Some("") => Err("no eventTime".to_owned()),
            Some(text) => time::unix_seconds(text)
                .ok_or_else(|| format!("eventTime {text:?} is not an ISO 8601 time such as 2024-01-31T12:00:00Z")),
        }
    }

    /// Reads `data` (any layout of [`reader`](super::reader), gzip or not), matches each record
    /// on its region's default bus and against the metric filters, and reports matches and
    /// problems to `sink`.
    pub fn process(&self, data: &[u8], scratch: &mut ReplayScratch, sink: &mut impl FnMut(Item<'_>)) -> Stats {
        let mut inflated = std::mem::take(&mut scratch.inflated);
        let stats = self.process_decoded(data, &mut inflated, scratch, sink);
        if inflated.capacity() <= KEEP_INFLATED {
            scratch.inflated = inflated;
        }
        stats
    }

    fn process_decoded(
        &self,
        data: &[u8],
        inflated: &mut InflateBuffer,
        scratch: &mut ReplayScratch,
        sink: &mut impl FnMut(Item<'_>),
    ) -> Stats {
        let decoded = decode_into(data, inflated);
        let mut stats = Stats { bytes: decoded.bytes.len() as u64, gzip: decoded.gzip, ..Stats::default() };
        let mut lost_record = None;
        let mut records = Records::new(&decoded.bytes);
        loop {
            // The envelope's walk over a record's top level finds where the record ends: the
            // splitter does not pass over it first (a record it cannot walk is split by its
            // brackets, then viewed again, and its error reported).
            let mut viewed = None;
            let Some(record) = records.next_measured(|rest| {
                let (event, len) = super::envelope::view_prefix(rest, &self.options).ok()?;
                viewed = Some(event);
                Some(len)
            }) else {
                break;
            };
            let record = match record {
                Ok(r) => r,
                // A record cut off by damaged gzip data is reported with the damage, once.
                Err(e) if decoded.error.is_some() && e.offset >= decoded.bytes.len() => {
                    lost_record = e.index;
                    continue;
                }
                Err(e) => {
                    stats.errors += 1;
                    if e.index.is_some() {
                        stats.records += 1;
                    }
                    sink(Item::Error { index: e.index, offset: e.offset, message: e.message });
                    continue;
                }
            };
            stats.records += 1;
            let failed = |e: EventError| Item::Error {
                index: Some(record.index),
                offset: record.offset + e.offset(),
                message: format!("record {}: {}", record.index, e),
            };
            let viewed = match viewed {
                Some(event) => Ok(event),
                None => view(record.bytes, &self.options),
            };
            let event = match viewed {
                Ok(event) => event,
                Err(e) => {
                    stats.errors += 1;
                    sink(failed(e));
                    continue;
                }
            };
            if let Some(filters) = &self.filters {
                let time = Self::log_event(filters, record.bytes, &event, scratch);
                match &time {
                    Ok(seconds) => stats.log_event(*seconds),
                    Err(_) => stats.untimed += 1,
                }
                if !scratch.hits.is_empty() || time.is_err() {
                    stats.filter_matches += scratch.hits.len() as u64;
                    sink(Item::Logged { index: record.index, offset: record.offset, time, hits: &scratch.hits });
                }
            }
            let (region, read_only, event_id) = match &event {
                Event::Skipped(reason) => {
                    match self.check_unread(record.bytes, scratch) {
                        Ok(()) => stats.skip(*reason),
                        Err(e) => {
                            stats.errors += 1;
                            sink(failed(e));
                        }
                    }
                    continue;
                }
                Event::CloudTrail(env) => (env.region.clone(), env.read_only, env.event_id.clone()),
                Event::EventBridge { region, read_only, event_id, .. } => {
                    (region.clone(), *read_only, event_id.clone())
                }
            };
            let Some(bus) = self.bus(&region, "default") else {
                match self.check_unread(record.bytes, scratch) {
                    Ok(()) => {
                        stats.events += 1;
                        stats.read_only += u64::from(read_only);
                    }
                    Err(e) => {
                        stats.errors += 1;
                        sink(failed(e));
                    }
                }
                continue;
            };
            let result = match &event {
                Event::CloudTrail(env) => bus.rules.matches_envelope(env, &mut scratch.matching, &mut scratch.ids),
                _ => bus.rules.matches_with(record.bytes, &mut scratch.matching, &mut scratch.ids),
            };
            if let Err(e) = result {
                stats.errors += 1;
                sink(failed(e));
                continue;
            }
            stats.events += 1;
            stats.read_only += u64::from(read_only);
            let ReplayScratch { ids, keys, json, .. } = scratch;
            Self::keys(bus, ids, read_only, keys);
            if keys.is_empty() {
                continue;
            }
            stats.matched_events += 1;
            stats.matches += keys.len() as u64;
            json.clear();
            let time = match &event {
                Event::CloudTrail(env) => {
                    env.write_json(json);
                    &env.time
                }
                Event::EventBridge { time, .. } => {
                    crate::json::push_compact_bytes(record.bytes, json);
                    time
                }
                Event::Skipped(_) => unreachable!("skipped records are not matched"),
            };
            sink(Item::Match {
                index: record.index,
                offset: record.offset,
                keys,
                event: json,
                event_id: &event_id,
                region: &region,
                time,
            });
        }
        if let Some(mut message) = decoded.error {
            stats.errors += 1;
            if let Some(index) = lost_record {
                let _ = write!(message, "; record {index}, cut there, and everything after it are lost");
            }
            sink(Item::Error { index: lost_record, offset: decoded.bytes.len(), message });
        }
        stats.finish();
        stats
    }
}

/// The EventBridge event for one CloudTrail record, as JSON (`None` if CloudTrail would not
/// deliver it, with the reason).
///
/// # Errors
///
/// An [`EventError`] if the record is not a JSON object.
///
/// # Example
///
/// ```
/// use trailmatch_core::cloudtrail::envelope::EnvelopeOptions;
/// use trailmatch_core::cloudtrail::replay::to_eventbridge;
///
/// let json = to_eventbridge(br#"{"eventSource": "s3.amazonaws.com", "awsRegion": "eu-west-1"}"#,
///                           &EnvelopeOptions::default()).unwrap().unwrap();
/// assert!(json.contains(r#""source":"aws.s3""#) && json.contains(r#""region":"eu-west-1""#));
/// ```
pub fn to_eventbridge(record: &[u8], options: &EnvelopeOptions) -> Result<Result<String, Skip>, EventError> {
    // Validate the whole record, as EventBridge would only ever see valid JSON.
    crate::json::scan::scan(
        record,
        &crate::json::fields::FieldTree::new(),
        &mut crate::json::scan::ScanScratch::default(),
        &mut |_, _, _| {},
    )?;
    Ok(match view(record, options)? {
        Event::CloudTrail(env) => {
            let mut json = String::with_capacity(env.json_len());
            env.write_json(&mut json);
            Ok(json)
        }
        Event::EventBridge { .. } => {
            let mut json = String::with_capacity(record.len());
            crate::json::push_compact_bytes(record, &mut json);
            Ok(json)
        }
        Event::Skipped(reason) => Err(reason),
    })
}

impl Ruleset {
    /// [`matches_with`](Ruleset::matches_with) for the EventBridge event of a CloudTrail record,
    /// without building it: the envelope's fields are matched as values and the record is
    /// scanned in place as `detail`.
    ///
    /// # Errors
    ///
    /// An [`EventError`] if the record (the `detail`) is not a JSON object.
    pub fn matches_envelope(
        &self,
        envelope: &Envelope<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) -> Result<(), EventError> {
        let keys = &super::envelope::ENVELOPE_KEYS;
        self.matches_keyed_parts(keys.len(), |i| keys[i], |i| envelope.field(i), envelope.detail, scratch, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(region: &str, name: &str, read_only: bool) -> String {
        format!(
            r#"{{"eventSource": "iam.amazonaws.com", "eventName": "{name}", "awsRegion": "{region}", "eventID": "{name}-{region}",
                "readOnly": {read_only}, "managementEvent": true, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"}}"#
        )
    }

    type Run = (Vec<(usize, Vec<u32>)>, Vec<String>, Stats);

    fn run(replay: &Replay, data: &str) -> Run {
        let mut matches = Vec::new();
        let mut errors = Vec::new();
        let stats = replay.process(data.as_bytes(), &mut ReplayScratch::default(), &mut |item| match item {
            Item::Match { index, keys, .. } => matches.push((index, keys.to_vec())),
            Item::Error { message, .. } => errors.push(message),
            Item::Logged { .. } => {}
        });
        (matches, errors, stats)
    }

    #[test]
    fn rule_states_and_read_only_events() {
        let mut r = Replay::default();
        let p = br#"{"source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"]}"#;
        r.add_rule(1, "us-east-1", "default", RuleState::Enabled, p).unwrap();
        r.add_rule(2, "us-east-1", "default", RuleState::EnabledWithAllManagementEvents, p).unwrap();
        r.add_rule(3, "us-east-1", "default", RuleState::Disabled, p).unwrap();
        r.add_rule(4, "us-east-1", "receiver", RuleState::EnabledWithAllManagementEvents, p).unwrap();
        assert!(r.add_rule(5, "us-east-1", "default", RuleState::Disabled, br#"{"a": "x"}"#).is_err());
        let data = format!("{}\n{}\n", record("us-east-1", "GetUser", true), record("us-east-1", "CreateUser", false));
        let (matches, errors, stats) = run(&r, &data);
        assert_eq!(matches, vec![(0, vec![2]), (1, vec![1, 2])]);
        assert!(errors.is_empty());
        assert_eq!(
            (stats.records, stats.events, stats.read_only, stats.matched_events, stats.matches),
            (2, 2, 1, 2, 3)
        );
    }

    #[test]
    fn rules_on_the_envelope_id_see_the_id_the_event_carries() {
        // The id is made only when read: by a rule on `id`, or when the event is written.
        let options = EnvelopeOptions::default();
        let text = record("us-east-1", "CreateUser", false);
        let event = to_eventbridge(text.as_bytes(), &options).unwrap().unwrap();
        let id = serde_json::from_str::<serde_json::Value>(&event).unwrap()["id"].as_str().unwrap().to_owned();
        let mut r = Replay::default();
        let on_id = format!(r#"{{"id": ["{id}"]}}"#);
        r.add_rule(1, "us-east-1", "default", RuleState::Enabled, on_id.as_bytes()).unwrap();
        r.add_rule(2, "us-east-1", "default", RuleState::Enabled, br#"{"id": [{"prefix": "0000"}]}"#).unwrap();
        let other = record("us-east-1", "DeleteUser", false);
        let (matches, errors, _) = run(&r, &format!("{text}\n{other}\n"));
        assert_eq!((matches, errors), (vec![(0, vec![1])], vec![]));
        let mut written = None;
        r.process(text.as_bytes(), &mut ReplayScratch::default(), &mut |item| {
            if let Item::Match { event, .. } = item {
                written = Some(event.to_owned());
            }
        });
        assert_eq!(written.as_deref(), Some(event.as_str()));
    }

    #[test]
    fn records_split_by_the_envelope_walk_as_by_their_brackets() {
        // The replay lets the envelope's top-level walk find where each record ends; on any
        // input, damaged ones included, that must split exactly as the bracket count does.
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let options = EnvelopeOptions::default();
        let noise = b"{}[]\",:\\ a1\n";
        for round in 0..3_000 {
            let mut text = String::new();
            let layout = round % 3;
            if layout == 0 {
                text.push_str(r#"{"Records": ["#);
            } else if layout == 1 {
                text.push('[');
            }
            for i in 0..(next() % 6) {
                if i > 0 && layout != 2 {
                    text.push(',');
                }
                let name = ["CreateUser", "Get\\\"x", "{[", "a]b}"][(next() % 4) as usize];
                let rec = record("us-east-1", name, next().is_multiple_of(2));
                text.push_str(&rec.replace('\n', if layout == 2 { " " } else { "\n" }));
                if layout == 2 {
                    text.push('\n');
                }
            }
            if layout == 0 {
                text.push_str("]}");
            } else if layout == 1 {
                text.push(']');
            }
            let mut bytes = text.into_bytes();
            for _ in 0..(next() % 6) {
                if bytes.is_empty() {
                    break;
                }
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, noise[(next() % noise.len() as u64) as usize]),
                    _ => bytes[at] = noise[(next() % noise.len() as u64) as usize],
                }
            }
            let plain: Vec<_> = Records::new(&bytes).collect();
            let mut measured = Vec::new();
            let mut records = Records::new(&bytes);
            while let Some(r) = records
                .next_measured(|rest| super::super::envelope::view_prefix(rest, &options).ok().map(|(_, len)| len))
            {
                measured.push(r);
            }
            assert_eq!(measured, plain, "{:?}", String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn forwarded_events_match_on_their_bus() {
        let mut r = Replay::default();
        r.add_rule(
            4,
            "ap-northeast-1",
            "receiver",
            RuleState::Enabled,
            br#"{"detail": {"eventName": ["CreateUser"]}}"#,
        )
        .unwrap();
        let env = to_eventbridge(record("us-east-1", "CreateUser", false).as_bytes(), &EnvelopeOptions::default())
            .unwrap()
            .unwrap();
        let mut s = ReplayScratch::default();
        assert_eq!(r.match_forwarded("ap-northeast-1", "receiver", env.as_bytes(), &mut s).unwrap(), vec![4]);
        assert!(r.match_forwarded("us-east-1", "receiver", env.as_bytes(), &mut s).unwrap().is_empty());
        // ENABLED rules on the receiver do not see read-only events either.
        let ro = to_eventbridge(record("us-east-1", "CreateUser", true).as_bytes(), &EnvelopeOptions::default())
            .unwrap()
            .unwrap();
        assert!(r.match_forwarded("ap-northeast-1", "receiver", ro.as_bytes(), &mut s).unwrap().is_empty());
    }

    #[test]
    fn envelope_view_matches_like_the_built_event() {
        let mut r = Ruleset::new();
        r.add(
            "a",
            r#"{"source": ["aws.iam"], "account": ["111122223333"], "detail": {"eventName": [{"prefix": "Create"}]}}"#,
        )
        .unwrap();
        r.add("b", r#"{"detail-type": [{"wildcard": "AWS API * CloudTrail"}], "resources": [{"exists": false}]}"#)
            .unwrap();
        r.add("c", r#"{"region": ["eu-west-1"]}"#).unwrap();
        let rec = record("us-east-1", "CreateUser", false);
        let Event::CloudTrail(env) = view(rec.as_bytes(), &EnvelopeOptions::default()).unwrap() else { panic!() };
        let (mut s, mut out) = (Scratch::default(), Vec::new());
        r.matches_envelope(&env, &mut s, &mut out).unwrap();
        let mut json = String::new();
        env.write_json(&mut json);
        let mut built = Vec::new();
        r.matches_with(json.as_bytes(), &mut s, &mut built).unwrap();
        assert_eq!(out, built);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn malformed_records_and_skips_are_counted() {
        let mut r = Replay::default();
        r.add_rule(1, "us-east-1", "default", RuleState::Enabled, br#"{"source": ["aws.iam"]}"#).unwrap();
        let data = format!(
            "{}\n{{\"eventSource\": tru}}\n{{\"eventName\": \"NoSource\"}}\n{}\n",
            record("us-east-1", "A", false),
            record("us-east-1", "B", false)
        );
        let (matches, errors, stats) = run(&r, &data);
        assert_eq!(matches.iter().map(|m| m.0).collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("record 1:"));
        assert_eq!(stats.skipped, vec![(Skip::NoEventSource, 1)]);
        assert_eq!(stats.records, 4);
    }

    #[test]
    fn a_gzip_file_cut_anywhere_is_reported_once_with_the_records_before_the_cut() {
        use std::io::Write as _;
        let mut r = Replay::default();
        r.add_rule(1, "us-east-1", "default", RuleState::Enabled, br#"{"source": ["aws.iam"]}"#).unwrap();
        let records: Vec<String> = (0..300).map(|i| record("us-east-1", &format!("E{i}"), false)).collect();
        let text = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        let packed = encoder.finish().unwrap();
        // Cut inside strings, between tokens, between records: always one error, the damage.
        for cut in (30..packed.len() - 8).step_by(7) {
            let (mut errors, mut matched) = (Vec::new(), 0);
            let stats = r.process(&packed[..cut], &mut ReplayScratch::default(), &mut |item| match item {
                Item::Error { message, .. } => errors.push(message),
                Item::Match { .. } => matched += 1,
                Item::Logged { .. } => {}
            });
            assert_eq!(errors.len(), 1, "cut at {cut}: {errors:?}");
            assert!(errors[0].contains("truncated or corrupt"), "cut at {cut}: {errors:?}");
            assert_eq!((stats.errors, matched), (1, stats.records), "cut at {cut}");
        }
    }

    #[test]
    fn metric_filters_see_every_record_with_its_time() {
        let mut r = Replay::default();
        r.add_rule(1, "us-east-1", "default", RuleState::Enabled, br#"{"source": ["aws.iam"]}"#).unwrap();
        r.add_filter(10, r#"{ $.eventName = "CreateUser" }"#, &["$.awsRegion"]).unwrap();
        r.add_filter(11, "", &[]).unwrap();
        assert!(r.add_filter(12, "{ $.a = ", &[]).is_err());
        assert_eq!(r.filter_count(), 2);
        let timed = |rec: String, t: &str| rec.replacen('{', &format!(r#"{{"eventTime": "{t}", "#), 1);
        let data = [
            timed(record("eu-west-1", "CreateUser", false), "2024-01-01T00:00:59Z"),
            timed(record("us-east-1", "GetUser", true), "2024-01-01T00:00:10Z"),
            r#"{"eventName": "NoSource", "eventTime": "2024-01-01T00:00:10Z"}"#.to_owned(),
            record("us-east-1", "CreateUser", false),
            timed(record("us-east-1", "CreateUser", false), "yesterday"),
        ]
        .join("\n");
        let mut logged = Vec::new();
        let mut untimed = Vec::new();
        let mut errors = Vec::new();
        let stats = r.process(data.as_bytes(), &mut ReplayScratch::default(), &mut |item| match item {
            Item::Logged { index, time: Ok(time), hits, .. } => logged.push((index, time, hits.to_vec())),
            Item::Logged { index, time: Err(why), hits, .. } => untimed.push((index, why, hits.len())),
            Item::Error { message, .. } => errors.push(message),
            Item::Match { .. } => {}
        });
        let hit = |key, values: Vec<Option<&str>>| LogHit {
            key,
            values: values.into_iter().map(|v| v.map(str::to_owned)).collect(),
        };
        assert_eq!(
            logged,
            vec![
                (0, 1_704_067_259, vec![hit(10, vec![Some("eu-west-1")]), hit(11, vec![])]),
                (1, 1_704_067_210, vec![hit(11, vec![])]),
                (2, 1_704_067_210, vec![hit(11, vec![])]),
            ]
        );
        assert_eq!(stats.log_seconds, vec![(1_704_067_210, 2), (1_704_067_259, 1)]);
        assert_eq!(untimed.len(), 2);
        assert_eq!((untimed[0].0, untimed[0].1.as_str(), untimed[0].2), (3, "no eventTime", 2));
        assert!(untimed[1].1.contains(r#"eventTime "yesterday" is not an ISO 8601 time"#), "{untimed:?}");
        assert_eq!((stats.filter_matches, stats.untimed, stats.errors), (8, 2, 0));
        assert!(errors.is_empty());
        // The event rules still saw the records without a time.
        assert_eq!((stats.events, stats.matched_events), (4, 2));
    }
}
