//! Matching allocates nothing per event once a `Scratch` has warmed up.
//!
//! A counting global allocator (this test binary only) wraps the system allocator; after one
//! warm-up pass over the real CloudTrail samples, a second pass with the same scratch must not
//! allocate at all. Rules use every operator kind, and both validation modes are checked.
//! (The array-consistency check for branches with two or more fields inside arrays does
//! allocate; those rules are absent here on purpose — see docs/ARCHITECTURE.md.)

// The allocator below must implement `GlobalAlloc`, an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use trailmatch_core::{Ruleset, Scratch, Validation};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// contract of `GlobalAlloc` (valid layouts in, valid or null pointers out, deallocation of
// pointers this allocator returned) is exactly `System`'s; the counter is a relaxed atomic
// increment with no effect on memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout as our caller gave us (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` via `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from this allocator, as `System` requires.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RULES: &[&str] = &[
    r#"{"eventSource": ["iam.amazonaws.com"], "eventName": [{"prefix": "Attach"}, {"prefix": "Detach"}]}"#,
    r#"{"eventName": [{"suffix": "Bucket"}], "readOnly": [false]}"#,
    r#"{"eventName": [{"equals-ignore-case": "getsecretvalue"}]}"#,
    r#"{"eventName": [{"prefix": {"equals-ignore-case": "describe"}}]}"#,
    r#"{"eventName": [{"suffix": {"equals-ignore-case": "INSTANCES"}}]}"#,
    r#"{"userAgent": [{"equals-ignore-case": "straße-client"}]}"#,
    r#"{"userIdentity": {"arn": [{"wildcard": "arn:aws:sts::*:assumed-role/*"}]}}"#,
    r#"{"userAgent": [{"wildcard": "*Boto3*"}]}"#,
    r#"{"sourceIPAddress": [{"cidr": "10.0.0.0/8"}, "203.0.113.50", {"cidr": "2001:db8::/32"}]}"#,
    r#"{"errorCode": [{"anything-but": ["ThrottlingException", "AccessDenied"]}]}"#,
    r#"{"eventType": [{"anything-but": {"prefix": "AwsApi"}}]}"#,
    r#"{"awsRegion": [{"anything-but": {"wildcard": "us-*"}}]}"#,
    r#"{"userIdentity": {"type": [{"anything-but": {"equals-ignore-case": ["iamuser"]}}]}}"#,
    r#"{"errorCode": [{"exists": false}], "eventName": ["ConsoleLogin"]}"#,
    r#"{"eventVersion": [{"exactly": "1.08"}], "managementEvent": [true]}"#,
    r#"{"requestParameters": {"maxResults": [{"numeric": [">", 10, "<=", 1000]}]}}"#,
    r#"{"requestParameters": {"maxResults": [5, {"anything-but": [1000]}]}}"#,
    r#"{"responseElements": [null], "$or": [{"readOnly": [true]}, {"eventCategory": ["Data"]}]}"#,
    r#"{"tlsDetails.tlsVersion": ["TLSv1.2"]}"#,
    r#"{"additionalEventData": {"MFAUsed": [{"anything-but": "Yes"}]}}"#,
];

fn records() -> Vec<Vec<u8>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/cloudtrail/invictus-ir_aws_dataset/CloudTrail");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("samples").map(|e| e.expect("entry").path()).collect();
    files.sort();
    for file in files {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).expect("file")).expect("json");
        for r in doc["Records"].as_array().expect("Records") {
            out.push(serde_json::to_vec(r).expect("record"));
        }
    }
    out
}

#[test]
fn matching_allocates_nothing_after_warm_up() {
    let events = records();
    assert!(events.len() > 2000);
    for validation in [Validation::Full, Validation::Lazy] {
        let mut rules = Ruleset::new();
        rules.set_validation(validation);
        for (i, r) in RULES.iter().enumerate() {
            rules.add(&format!("r{i}"), r).expect("valid rule");
        }
        let (mut scratch, mut out) = (Scratch::default(), Vec::new());
        let mut warm_matches = 0;
        for e in &events {
            rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
            warm_matches += out.len();
        }
        assert!(warm_matches > events.len() / 2, "the rules must exercise the matchers");
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut matches = 0;
        for e in &events {
            rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
            matches += out.len();
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(matches, warm_matches);
        assert_eq!(allocations, 0, "{validation:?}: {allocations} allocations over {} events", events.len());
    }
}
