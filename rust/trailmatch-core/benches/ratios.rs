//! The issue-5 target ratios, measured robustly on a noisy (shared) machine: the two sides of
//! each ratio run interleaved (A, B, A, B, …) on the same corpus, so load from other processes
//! hits both alike; prints the best and the median throughput of each side and their ratios.
//!
//! ```text
//! cargo bench -p trailmatch-core --bench ratios            # all ratios, 41 rounds each
//! cargo bench -p trailmatch-core --bench ratios -- 101     # more rounds
//! ```

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{
    cis_patterns, cloudtrail_events, cloudtrail_file, cloudtrail_records, exact_rules, filter_pairs, gzip, hot_rules,
    mixed_rules, ruleset, selective_rules, total_bytes, wildcard_rules, REGIONS,
};
use trailmatch_core::cloudtrail::envelope::EnvelopeOptions;
use trailmatch_core::cloudtrail::replay::{Replay, ReplayScratch, RuleState};
use trailmatch_core::filter::FilterScratch;
use trailmatch_core::json::fields::FieldTree;
use trailmatch_core::json::scan::{scan, ScanScratch};
use trailmatch_core::{FilterSet, Limits, Ruleset, Scratch, Validation};

const SEED: u64 = 0x7241_1c3a;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `a` and `b` alternately `rounds` times; both process `bytes` per call.
fn pair(
    label: &str,
    target: &str,
    rounds: usize,
    bytes: usize,
    mut a: impl FnMut() -> usize,
    mut b: impl FnMut() -> usize,
) {
    black_box(a());
    black_box(b());
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(a());
        let x = t.elapsed().as_secs_f64();
        let t = Instant::now();
        black_box(b());
        let y = t.elapsed().as_secs_f64();
        ta.push(x);
        tb.push(y);
        ratios.push(y / x); // throughput(a) / throughput(b)
    }
    let mb = |s: f64| bytes as f64 / s / 1e6;
    let (best_a, best_b) = (ta.iter().copied().fold(f64::MAX, f64::min), tb.iter().copied().fold(f64::MAX, f64::min));
    let (med_a, med_b) = (median(&mut ta), median(&mut tb));
    println!(
        "| {label} | {:.0} / {:.0} | {:.0} / {:.0} | {:.3} | {:.3} | {:.3} | {target} |",
        mb(best_a),
        mb(best_b),
        mb(med_a),
        mb(med_b),
        best_b / best_a,
        med_b / med_a,
        median(&mut ratios)
    );
}

/// Parses every event into a sonic-rs `Value`: the parse-only baseline.
fn sonic_parse(events: &[Vec<u8>]) -> usize {
    for e in events {
        black_box(sonic_rs::from_slice::<sonic_rs::Value>(e).expect("json"));
    }
    events.len()
}

/// 1,000 mixed rules on the default bus of every region, with `validation`.
fn mixed_replay(validation: Validation) -> Replay {
    let mut replay = Replay::new(EnvelopeOptions::default(), validation, Limits::default());
    for (region, _) in REGIONS {
        for (key, pattern) in mixed_rules(1_000, SEED).iter().enumerate() {
            replay.add_rule(key as u32, region, "default", RuleState::Enabled, pattern.as_bytes()).expect("rule");
        }
    }
    replay
}

fn match_all(rules: &Ruleset, events: &[Vec<u8>], scratch: &mut Scratch, out: &mut Vec<u32>) -> usize {
    let mut n = 0;
    for e in events {
        rules.matches_with(e, scratch, out).expect("valid event");
        n += out.len();
    }
    n
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(41);
    let events = cloudtrail_events(4_000, SEED);
    let records = cloudtrail_records(4_000, SEED);
    let bytes = total_bytes(&events);
    println!("{rounds} interleaved rounds per pair; MB/s of input; ratio = throughput(A) / throughput(B)\n");
    println!("| A vs B | best MB/s A / B | median MB/s A / B | ratio of bests | ratio of medians | median of per-round ratios | target |");
    println!("|---|---|---|---:|---:|---:|---|");

    let mixed = ruleset(&mixed_rules(1_000, SEED));
    let (mut s1, mut o1) = (Scratch::default(), Vec::new());
    pair(
        "1,000 mixed rules vs sonic-rs `Value` parse",
        "≥ 1.5",
        rounds,
        bytes,
        || match_all(&mixed, &events, &mut s1, &mut o1),
        || sonic_parse(&events),
    );
    // The bound of any fully validating matcher here: the scanner validating every byte and
    // extracting nothing, against the same parse.
    let (no_fields, mut scan_scratch) = (FieldTree::new(), ScanScratch::default());
    pair(
        "validation only (scan, no referenced field) vs sonic-rs `Value` parse",
        "—",
        rounds,
        bytes,
        || {
            for e in &events {
                scan(e, &no_fields, &mut scan_scratch, &mut |_, _, _| {}).expect("valid event");
            }
            events.len()
        },
        || sonic_parse(&events),
    );
    let mut mixed_lazy = ruleset(&mixed_rules(1_000, SEED));
    mixed_lazy.set_validation(Validation::Lazy);
    pair(
        "1,000 mixed rules, lazy validation, vs sonic-rs `Value` parse",
        "≥ 1.5",
        rounds,
        bytes,
        || match_all(&mixed_lazy, &events, &mut s1, &mut o1),
        || sonic_parse(&events),
    );
    drop(mixed_lazy);
    let (mut buf, mut buffers) = (Vec::new(), simd_json::Buffers::default());
    pair(
        "1,000 mixed rules vs simd-json borrowed parse",
        "≥ 1.5",
        rounds,
        bytes,
        || match_all(&mixed, &events, &mut s1, &mut o1),
        || {
            for e in &events {
                buf.clear();
                buf.extend_from_slice(e);
                black_box(simd_json::to_borrowed_value_with_buffers(&mut buf, &mut buffers).expect("json"));
            }
            events.len()
        },
    );

    let hot = ruleset(&hot_rules());
    let mut many = hot_rules();
    many.extend(selective_rules(99_980, SEED));
    let many = ruleset(&many);
    let (mut s2, mut o2) = (Scratch::default(), Vec::new());
    pair(
        "20 + 99,980 rules vs 20 rules",
        "≥ 0.5",
        rounds,
        bytes,
        || match_all(&many, &events, &mut s1, &mut o1),
        || match_all(&hot, &events, &mut s2, &mut o2),
    );
    drop(many);

    let wild = ruleset(&wildcard_rules(10_000));
    let exact = ruleset(&exact_rules(10_000));
    pair(
        "10,000 wildcard vs 10,000 exact",
        "≥ 0.25",
        rounds,
        bytes,
        || match_all(&wild, &events, &mut s1, &mut o1),
        || match_all(&exact, &events, &mut s2, &mut o2),
    );

    let plain = cloudtrail_file(&records);
    let gz = gzip(&plain);
    let mut rs = ReplayScratch::default();
    let mut inflated = trailmatch_core::cloudtrail::reader::InflateBuffer::default();
    for (validation, label) in [
        (Validation::Full, "`.json.gz` Replay::process (1,000 mixed/region) vs decompress only"),
        (Validation::Lazy, "`.json.gz` Replay::process, lazy validation, vs decompress only"),
    ] {
        let replay = mixed_replay(validation);
        pair(
            label,
            "≥ 0.8",
            rounds,
            plain.len(),
            || {
                let mut items = 0usize;
                replay.process(&gz, &mut rs, &mut |_| items += 1);
                items
            },
            // Into one buffer reused from round to round, as the replay's own decompression.
            || trailmatch_core::cloudtrail::reader::decode_into(&gz, &mut inflated).bytes.len(),
        );
    }

    let pairs = filter_pairs(1_000, SEED);
    let mut filters = FilterSet::new();
    for p in cis_patterns().iter().chain(pairs.iter().map(|(f, _)| f)) {
        filters.add(p).expect("filter");
    }
    let equivalent = ruleset(&pairs.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>());
    let (mut fs, mut fo) = (FilterScratch::default(), Vec::new());
    pair(
        "FilterSet (35 CIS + 1,000) vs Ruleset (1,000 equivalent), raw records",
        "—",
        rounds,
        total_bytes(&records),
        || {
            let mut n = 0;
            for r in &records {
                filters.matches(r.as_bytes(), &mut fs, &mut fo);
                n += fo.len();
            }
            n
        },
        || {
            let mut n = 0;
            for r in &records {
                equivalent.matches_with(r.as_bytes(), &mut s2, &mut o2).expect("record");
                n += o2.len();
            }
            n
        },
    );
}
