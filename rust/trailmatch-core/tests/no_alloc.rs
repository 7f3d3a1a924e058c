//! Matching allocates nothing per event once a `Scratch` has warmed up.
//!
//! A counting global allocator (this test binary only) wraps the system allocator; after one
//! warm-up pass over the real CloudTrail samples, a second pass with the same scratch must not
//! allocate at all. Rules use every operator kind, and both validation modes are checked.
//! (The array-consistency check for branches with two or more fields inside arrays does
//! allocate; those rules are absent here on purpose — see docs/ARCHITECTURE.md.)

mod common;

use trailmatch_core::{Ruleset, Scratch, Validation};

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

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

#[test]
fn matching_allocates_nothing_after_warm_up() {
    let events = common::invictus_records();
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
        let before = common::allocations();
        let mut matches = 0;
        for e in &events {
            rules.matches_with(e, &mut scratch, &mut out).expect("valid event");
            matches += out.len();
        }
        let allocations = common::allocations() - before;
        assert_eq!(matches, warm_matches);
        assert_eq!(allocations, 0, "{validation:?}: {allocations} allocations over {} events", events.len());
    }
}
