//! The core on rule sets shaped like the side-by-side measurement of event-ruler and quamina in
//! `../shared/reference/landscape.md` ("Side by side on a 2-core x86 VM (one core pinned)"):
//! one exact rule; 1,000 and 10,000 exact rules listing a source and event names (many match);
//! 1,000 mixed-operator rules; 1,000 wildcard rules on `userIdentity.arn`. CloudTrail-like
//! events as in the other benchmarks (1.8 kB on average; the landscape's were 2.2 kB), one
//! core, both validation modes; the median of the rounds.
//!
//! Neither peer can be built on this machine (no Maven Central, no Go toolchain), so their
//! figures are the landscape's, taken on the same machine class; ratios are given in events/s
//! and in MB/s, the fairer of the two when event sizes differ.
//!
//! ```text
//! cargo bench -p trailmatch-core --bench peers            # 15 rounds per set
//! cargo bench -p trailmatch-core --bench peers -- 31
//! ```

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{arn_wildcard_rules, cloudtrail_events, mixed_rules, ruleset, source_name_rules, total_bytes};
use trailmatch_core::{Scratch, Validation};

const SEED: u64 = 0x7241_1c3a;

/// The faster peer of the landscape's table: (name, events/s, MB/s), and the issue's target
/// factor over it, if any.
struct Peer {
    name: &'static str,
    events: f64,
    mb: f64,
    target: Option<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(15);
    let events = cloudtrail_events(4_000, SEED);
    let bytes = total_bytes(&events) as f64;
    let sets: Vec<(&str, Vec<String>, Peer)> = vec![
        ("1 exact rule", source_name_rules(1, SEED), Peer { name: "quamina", events: 409e3, mb: 894.0, target: None }),
        (
            "1,000 exact rules (source + eventName lists)",
            source_name_rules(1_000, SEED),
            Peer { name: "event-ruler", events: 194e3, mb: 425.0, target: Some(10.0) },
        ),
        (
            "10,000 exact rules (source + eventName lists)",
            source_name_rules(10_000, SEED),
            Peer { name: "event-ruler", events: 34e3, mb: 74.0, target: None },
        ),
        (
            "1,000 mixed rules (every operator kind)",
            mixed_rules(1_000, SEED),
            Peer { name: "event-ruler", events: 5.3e3, mb: 11.5, target: Some(100.0) },
        ),
        (
            "1,000 wildcard rules on userIdentity.arn",
            arn_wildcard_rules(1_000),
            Peer { name: "quamina", events: 1.9e3, mb: 4.3, target: Some(100.0) },
        ),
    ];
    println!("{rounds} rounds per set, median; {} events, {:.1} MB\n", events.len(), bytes / 1e6);
    println!(
        "| rule set | validation | matches/event | events/s | MB/s | faster peer (landscape) | × peer events/s | × peer MB/s | target |"
    );
    println!("|---|---|---:|---:|---:|---|---:|---:|---|");
    for (label, patterns, peer) in &sets {
        let mut rules = ruleset(patterns);
        for validation in [Validation::Full, Validation::Lazy] {
            rules.set_validation(validation);
            let (mut scratch, mut out) = (Scratch::default(), Vec::new());
            let mut run = || {
                let mut n = 0usize;
                for e in &events {
                    rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
                    n += out.len();
                }
                n
            };
            let matches = run();
            let mut times: Vec<f64> = (0..rounds)
                .map(|_| {
                    let t = Instant::now();
                    black_box(run());
                    t.elapsed().as_secs_f64()
                })
                .collect();
            let t = median(&mut times);
            let (eps, mbps) = (events.len() as f64 / t, bytes / t / 1e6);
            println!(
                "| {label} | {} | {:.2} | {:.0} | {:.0} | {} {:.0} events/s ({} MB/s) | {:.1} | {:.1} | {} |",
                if validation == Validation::Full { "full" } else { "lazy" },
                matches as f64 / events.len() as f64,
                eps,
                mbps,
                peer.name,
                peer.events,
                peer.mb,
                eps / peer.events,
                mbps / peer.mb,
                peer.target.map_or("—".to_owned(), |x| format!("≥ {x:.0}")),
            );
        }
    }
}
