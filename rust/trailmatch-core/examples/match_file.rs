//! Matches a JSON Lines file of events against a JSON Lines file of rules
//! (`{"name": ..., "pattern": ...}`) and prints throughput: a profiling harness.
//!
//! ```text
//! cargo run --release -p trailmatch-core --example match_file -- RULES.jsonl EVENTS.jsonl [ROUNDS] [lazy]
//! ```

use std::time::Instant;

use trailmatch_core::{Ruleset, Scratch, Validation};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (rules_path, events_path) = (&args[1], &args[2]);
    let rounds: usize = args.get(3).map_or(5, |r| r.parse().expect("rounds"));
    let mut rules = Ruleset::new();
    if args.get(4).is_some_and(|m| m == "lazy") {
        rules.set_validation(Validation::Lazy);
    }
    let start = Instant::now();
    for line in std::fs::read_to_string(rules_path).expect("rules file").lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("rule line");
        let name = v["name"].as_str().expect("name");
        rules.add(name, &v["pattern"].to_string()).expect("valid pattern");
    }
    let compile = start.elapsed();
    let text = std::fs::read(events_path).expect("events file");
    let events: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let bytes: usize = events.iter().map(|e| e.len()).sum();
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    let mut matches = 0usize;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        matches = 0;
        for e in &events {
            rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
            matches += out.len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{} rules (compile {:.2}s): {:.0} events/s, {:.0} MB/s, {:.2} matches/event",
        rules.len(),
        compile.as_secs_f64(),
        events.len() as f64 / best,
        bytes as f64 / best / 1e6,
        matches as f64 / events.len() as f64
    );
}
