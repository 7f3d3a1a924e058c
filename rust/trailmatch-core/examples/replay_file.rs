//! Replays CloudTrail files (`.json` or `.json.gz`) through rules deployed on the default bus of
//! every region that occurs, and prints throughput: a profiling harness for `Replay::process`.
//!
//! ```text
//! cargo run --release -p trailmatch-core --example replay_file -- RULES.jsonl ROUNDS FILE...
//! ```
//!
//! `RULES.jsonl` holds `{"name": ..., "pattern": ...}` lines (an empty file: no rules).

use std::time::Instant;

use trailmatch_core::cloudtrail::reader::{decode, decode_into};
use trailmatch_core::cloudtrail::replay::{Replay, ReplayScratch, RuleState};

const REGIONS: [&str; 6] = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "ap-northeast-1"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rules_path = &args[1];
    let rounds: usize = args[2].parse().expect("rounds");
    let files: Vec<Vec<u8>> = args[3..].iter().map(|p| std::fs::read(p).expect("input file")).collect();
    let mut replay = Replay::default();
    for (key, line) in std::fs::read_to_string(rules_path).expect("rules file").lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("rule line");
        for region in REGIONS {
            let pattern = v["pattern"].to_string();
            replay.add_rule(key as u32, region, "default", RuleState::Enabled, pattern.as_bytes()).expect("rule");
        }
    }
    let plain: usize = files.iter().map(|f| decode(f).bytes.len()).sum();
    let mut scratch = ReplayScratch::default();
    // Decompression only, into one buffer reused from file to file (as the replay does).
    let mut inflated = trailmatch_core::cloudtrail::reader::InflateBuffer::default();
    let (mut best_all, mut best_decode) = (f64::MAX, f64::MAX);
    let mut records = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        records = 0;
        for f in &files {
            records += replay.process(f, &mut scratch, &mut |_| {}).records;
        }
        best_all = best_all.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for f in &files {
            std::hint::black_box(decode_into(f, &mut inflated).bytes.len());
        }
        best_decode = best_decode.min(t.elapsed().as_secs_f64());
    }
    let mb = |s: f64| plain as f64 / s / 1e6;
    println!(
        "{records} records, {:.1} MB: replay {:.0} MB/s, decode only {:.0} MB/s, ratio {:.3}",
        plain as f64 / 1e6,
        mb(best_all),
        mb(best_decode),
        best_decode / best_all
    );
}
