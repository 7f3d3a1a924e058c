//! Memory per rule and workload statistics (not a timing benchmark; prints a table).
//!
//! ```text
//! cargo bench -p trailmatch-core --bench memory
//! ```
//!
//! Bytes retained by a Ruleset = bytes allocated − bytes freed (+ net reallocation) while the
//! rules are added, counted by a global allocator wrapper (`stats_alloc`). The pattern strings
//! themselves are generated before counting starts and are not included.

mod common;

use std::alloc::System;

use common::{
    citylots, cl2_rules, cloudtrail_events, exact_rules, hot_rules, mixed_rules, ruleset, selective_rules, total_bytes,
    wildcard_rules,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use trailmatch_core::{Ruleset, Scratch};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEED: u64 = 0x7241_1c3a;

fn retained(patterns: &[String]) -> (Ruleset, i128, f64) {
    let region = Region::new(GLOBAL);
    let start = std::time::Instant::now();
    let rules = ruleset(patterns);
    let secs = start.elapsed().as_secs_f64();
    let s = region.change();
    let live = s.bytes_allocated as i128 - s.bytes_deallocated as i128 + s.bytes_reallocated as i128;
    (rules, live, secs)
}

fn matches_per_event(rules: &Ruleset, events: &[Vec<u8>]) -> f64 {
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    let mut n = 0usize;
    for e in events {
        rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
        n += out.len();
    }
    n as f64 / events.len() as f64
}

fn main() {
    // divan-style flags (`--bench`) are passed by cargo; ignore them.
    let events = cloudtrail_events(4_000, SEED);
    let mut sizes: Vec<usize> = events.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    let q = |p: f64| sizes[((sizes.len() - 1) as f64 * p) as usize];
    println!(
        "CloudTrail-like events: {} events, {} bytes; size p10 {} p50 {} p90 {} p99 {} p99.9 {} max {}; >=100 KB: {}",
        events.len(),
        total_bytes(&events),
        q(0.1),
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        sizes[sizes.len() - 1],
        sizes.iter().filter(|&&s| s >= 100_000).count()
    );
    let lots = citylots(20_000, SEED);
    println!("citylots2-like lines: {} lines, {} bytes", lots.len(), total_bytes(&lots));
    println!();
    println!("| rule set | rules | retained bytes | bytes/rule | compile s | matches/event |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut hot_plus = hot_rules();
    hot_plus.extend(selective_rules(99_980, SEED));
    let sets: Vec<(&str, Vec<String>)> = vec![
        ("mixed", mixed_rules(1_000, SEED)),
        ("mixed", mixed_rules(10_000, SEED)),
        ("mixed", mixed_rules(100_000, SEED)),
        ("exact", exact_rules(10_000)),
        ("wildcard", wildcard_rules(10_000)),
        ("hot", hot_rules()),
        ("hot + selective", hot_plus),
    ];
    for (name, patterns) in &sets {
        let (rules, live, secs) = retained(patterns);
        println!(
            "| {name} | {} | {live} | {:.0} | {secs:.3} | {:.3} |",
            patterns.len(),
            live as f64 / patterns.len() as f64,
            matches_per_event(&rules, &events)
        );
    }
    for set in
        ["exact", "prefix", "suffix", "wildcard", "anything_but", "equals_ignore_case", "numeric", "complex_arrays"]
    {
        let patterns = cl2_rules(set);
        let (rules, live, secs) = retained(&patterns);
        println!(
            "| citylots {set} | {} | {live} | {:.0} | {secs:.4} | {:.3} |",
            patterns.len(),
            live as f64 / patterns.len() as f64,
            matches_per_event(&rules, &lots)
        );
    }
}
