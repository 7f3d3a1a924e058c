//! Throughput benchmarks of the core (issue 5, "Hardware speed").
//!
//! ```text
//! cargo bench -p trailmatch-core --bench matching            # everything
//! cargo bench -p trailmatch-core --bench matching -- parse   # a subset (divan filter)
//! ```
//!
//! Every throughput benchmark processes a whole seeded corpus per iteration and reports bytes/s
//! of input (decompressed bytes for `.json.gz`). Workloads: `common/mod.rs`.

#![allow(clippy::wildcard_imports)] // each group imports the shared setup from the root

mod common;

use std::sync::LazyLock;

use common::{
    cis_patterns, citylots, cl2_rules, cloudtrail_events, cloudtrail_file, cloudtrail_records, exact_rules,
    filter_pairs, gzip, hot_rules, mixed_rules, ruleset, selective_rules, total_bytes, wildcard_rules, REGIONS,
};
use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use trailmatch_core::cloudtrail::envelope::EnvelopeOptions;
use trailmatch_core::cloudtrail::replay::{Replay, ReplayScratch, RuleState};
use trailmatch_core::filter::FilterScratch;
use trailmatch_core::{FilterSet, Limits, Ruleset, Scratch, Validation};

const SEED: u64 = 0x7241_1c3a;
/// CloudTrail-like events per corpus (~6 MB with the long tail of large records).
const EVENTS: usize = 4_000;
/// citylots2-like lines per corpus (~0.5 KB each).
const CITYLOTS: usize = 20_000;

static EVENTS_CT: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| cloudtrail_events(EVENTS, SEED));
static RECORDS_CT: LazyLock<Vec<String>> = LazyLock::new(|| cloudtrail_records(EVENTS, SEED));
static CITYLOTS_EVENTS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| citylots(CITYLOTS, SEED));

fn main() {
    divan::main();
}

/// Matches every event of `events` against `rules`; returns the number of matches.
fn run(rules: &Ruleset, events: &[Vec<u8>], scratch: &mut Scratch, out: &mut Vec<u32>) -> usize {
    let mut n = 0;
    for e in events {
        rules.matches_with(e, scratch, out).expect("valid event");
        n += out.len();
    }
    n
}

fn bench_match(bencher: Bencher, rules: &Ruleset, events: &'static [Vec<u8>]) {
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    bencher
        .counter(BytesCount::new(total_bytes(events)))
        .bench_local(|| run(rules, black_box(events), &mut scratch, &mut out));
}

/// CloudTrail-like EventBridge events against N mixed-operator rules (headline: N = 1,000).
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod cloudtrail {
    use super::*;

    #[divan::bench(args = [1, 100, 1_000, 10_000, 100_000])]
    fn match_mixed(bencher: Bencher, n: usize) {
        let rules = ruleset(&mixed_rules(n, SEED));
        bench_match(bencher, &rules, &EVENTS_CT);
    }

    /// As `match_mixed`, with `Validation::Lazy` (unread values skipped by brackets and quotes).
    #[divan::bench(args = [1_000])]
    fn match_mixed_lazy(bencher: Bencher, n: usize) {
        let mut rules = ruleset(&mixed_rules(n, SEED));
        rules.set_validation(Validation::Lazy);
        bench_match(bencher, &rules, &EVENTS_CT);
    }

    /// Parse-only baseline: sonic-rs DOM (`sonic_rs::Value`) of each event.
    #[divan::bench]
    fn parse_sonic_rs_value(bencher: Bencher) {
        let events: &[Vec<u8>] = &EVENTS_CT;
        bencher.counter(BytesCount::new(total_bytes(events))).bench_local(|| {
            for e in black_box(events) {
                let v: sonic_rs::Value = sonic_rs::from_slice(e).expect("json");
                black_box(&v);
            }
        });
    }

    /// Parse-only baseline: sonic-rs lazy iteration over the top-level fields (values skipped,
    /// not materialised).
    #[divan::bench]
    fn parse_sonic_rs_lazy(bencher: Bencher) {
        let events: &[Vec<u8>] = &EVENTS_CT;
        bencher.counter(BytesCount::new(total_bytes(events))).bench_local(|| {
            let mut n = 0usize;
            for e in black_box(events) {
                for item in sonic_rs::to_object_iter(e.as_slice()) {
                    let (k, v) = item.expect("json");
                    n += k.len() + v.as_raw_str().len();
                }
            }
            n
        });
    }

    /// Parse-only baseline: simd-json borrowed DOM (includes copying each event into a mutable
    /// buffer, which simd-json needs).
    #[divan::bench]
    fn parse_simd_json_borrowed(bencher: Bencher) {
        let events: &[Vec<u8>] = &EVENTS_CT;
        let mut buf = Vec::new();
        let mut buffers = simd_json::Buffers::default();
        bencher.counter(BytesCount::new(total_bytes(events))).bench_local(|| {
            for e in black_box(events) {
                buf.clear();
                buf.extend_from_slice(e);
                let v = simd_json::to_borrowed_value_with_buffers(&mut buf, &mut buffers).expect("json");
                black_box(&v);
            }
        });
    }

    /// Parse-only baseline: serde_json DOM (for reference; the slow end).
    #[divan::bench]
    fn parse_serde_json_value(bencher: Bencher) {
        let events: &[Vec<u8>] = &EVENTS_CT;
        bencher.counter(BytesCount::new(total_bytes(events))).bench_local(|| {
            for e in black_box(events) {
                let v: serde_json::Value = serde_json::from_slice(e).expect("json");
                black_box(&v);
            }
        });
    }
}

/// Rule-count scaling: ~20 rules that match often, alone and with 99,980 selective rules.
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod scaling {
    use super::*;

    #[divan::bench]
    fn hot_20(bencher: Bencher) {
        let rules = ruleset(&hot_rules());
        bench_match(bencher, &rules, &EVENTS_CT);
    }

    #[divan::bench]
    fn hot_20_plus_selective_99980(bencher: Bencher) {
        let mut patterns = hot_rules();
        patterns.extend(selective_rules(99_980, SEED));
        let rules = ruleset(&patterns);
        bench_match(bencher, &rules, &EVENTS_CT);
    }
}

/// Same fields, same count: exact values vs wildcard patterns.
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod wildcard_vs_exact {
    use super::*;

    #[divan::bench(args = [1_000, 10_000])]
    fn exact(bencher: Bencher, n: usize) {
        let rules = ruleset(&exact_rules(n));
        bench_match(bencher, &rules, &EVENTS_CT);
    }

    #[divan::bench(args = [10_000])]
    fn wildcard(bencher: Bencher, n: usize) {
        let rules = ruleset(&wildcard_rules(n));
        bench_match(bencher, &rules, &EVENTS_CT);
    }
}

/// Compile (add every rule to an empty Ruleset) time.
#[divan::bench_group(sample_count = 5, sample_size = 1)]
mod compile {
    use super::*;

    #[divan::bench]
    fn mixed_10000(bencher: Bencher) {
        let patterns = mixed_rules(10_000, SEED);
        bencher.bench_local(|| ruleset(&patterns));
    }

    #[divan::bench]
    fn wildcard_10000(bencher: Bencher) {
        let patterns = wildcard_rules(10_000);
        bencher.bench_local(|| ruleset(&patterns));
    }

    #[divan::bench]
    fn exact_10000(bencher: Bencher) {
        let patterns = exact_rules(10_000);
        bencher.bench_local(|| ruleset(&patterns));
    }
}

/// citylots2-like GeoJSON lines against aws/event-ruler's CL2 rule sets (5 rules each).
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod citylots {
    use super::*;

    #[divan::bench(args = [
        "exact", "prefix", "suffix", "wildcard", "anything_but", "equals_ignore_case", "numeric", "complex_arrays"
    ])]
    fn cl2(bencher: Bencher, set: &str) {
        let rules = ruleset(&cl2_rules(set));
        bench_match(bencher, &rules, &CITYLOTS_EVENTS);
    }

    #[divan::bench]
    fn parse_sonic_rs_value(bencher: Bencher) {
        let events: &[Vec<u8>] = &CITYLOTS_EVENTS;
        bencher.counter(BytesCount::new(total_bytes(events))).bench_local(|| {
            for e in black_box(events) {
                let v: sonic_rs::Value = sonic_rs::from_slice(e).expect("json");
                black_box(&v);
            }
        });
    }
}

/// A CloudTrail log file (`{"Records":[...]}`, gzip) through `Replay::process` (1,000 mixed
/// rules on the default bus of each region) vs decompression only. Bytes = decompressed bytes.
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod json_gz {
    use super::*;

    static FILE: LazyLock<(Vec<u8>, usize)> = LazyLock::new(|| {
        let plain = cloudtrail_file(&RECORDS_CT);
        (gzip(&plain), plain.len())
    });

    #[divan::bench(args = ["full", "lazy"])]
    fn replay_process(bencher: Bencher, validation: &str) {
        let validation = if validation == "lazy" { Validation::Lazy } else { Validation::Full };
        let mut replay = Replay::new(EnvelopeOptions::default(), validation, Limits::default());
        for (region, _) in REGIONS {
            for (key, pattern) in mixed_rules(1_000, SEED).iter().enumerate() {
                replay.add_rule(key as u32, region, "default", RuleState::Enabled, pattern.as_bytes()).expect("rule");
            }
        }
        let (gz, plain) = &*FILE;
        let mut scratch = ReplayScratch::default();
        bencher.counter(BytesCount::new(*plain)).bench_local(|| {
            let mut items = 0usize;
            let stats = replay.process(black_box(gz), &mut scratch, &mut |_| items += 1);
            assert_eq!(stats.errors, 0);
            items
        });
    }

    #[divan::bench]
    fn decompress_only(bencher: Bencher) {
        let (gz, plain) = &*FILE;
        // Into one buffer reused from round to round, as the replay's own decompression.
        let mut inflated = trailmatch_core::cloudtrail::reader::InflateBuffer::default();
        bencher.counter(BytesCount::new(*plain)).bench_local(|| {
            let decoded = trailmatch_core::cloudtrail::reader::decode_into(black_box(gz), &mut inflated);
            decoded.bytes.len()
        });
    }
}

/// CloudWatch Logs filter patterns on raw CloudTrail records vs the equivalent event patterns
/// (Ruleset) on the same records.
#[divan::bench_group(sample_count = 30, sample_size = 1)]
mod filters {
    use super::*;

    fn bench_filters(bencher: Bencher, patterns: &[String]) {
        let mut set = FilterSet::new();
        for p in patterns {
            set.add(p).unwrap_or_else(|e| panic!("filter {p}: {e}"));
        }
        let records: &[String] = &RECORDS_CT;
        let (mut scratch, mut out) = (FilterScratch::default(), Vec::new());
        bencher.counter(BytesCount::new(total_bytes(records))).bench_local(|| {
            let mut n = 0;
            for r in black_box(records) {
                set.matches(r.as_bytes(), &mut scratch, &mut out);
                n += out.len();
            }
            n
        });
    }

    #[divan::bench]
    fn filterset_cis_plus_1000(bencher: Bencher) {
        let mut patterns = cis_patterns();
        patterns.extend(filter_pairs(1_000, SEED).into_iter().map(|(f, _)| f));
        bench_filters(bencher, &patterns);
    }

    #[divan::bench]
    fn filterset_1000(bencher: Bencher) {
        let patterns: Vec<String> = filter_pairs(1_000, SEED).into_iter().map(|(f, _)| f).collect();
        bench_filters(bencher, &patterns);
    }

    #[divan::bench]
    fn ruleset_1000_equivalent(bencher: Bencher) {
        let patterns: Vec<String> = filter_pairs(1_000, SEED).into_iter().map(|(_, r)| r).collect();
        let rules = ruleset(&patterns);
        let records: &[String] = &RECORDS_CT;
        let (mut scratch, mut out) = (Scratch::default(), Vec::new());
        bencher.counter(BytesCount::new(total_bytes(records))).bench_local(|| {
            let mut n = 0;
            for r in black_box(records) {
                rules.matches_with(r.as_bytes(), &mut scratch, &mut out).expect("valid record");
                n += out.len();
            }
            n
        });
    }
}
