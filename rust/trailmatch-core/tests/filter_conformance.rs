//! The shared filter-pattern corpus (`tests/data/filter-patterns/*.jsonl`), also read by pytest.
//!
//! Every case is checked with the pattern alone (`test_metric_filter`, which also gives the
//! extracted values); every valid pattern of the corpus is then loaded into one `FilterSet`, and
//! each message must match exactly the filters that match it one by one. A last test checks
//! that matching allocates nothing once the scratch has warmed up (a counting allocator wraps
//! the system allocator in this test binary).

mod common;

use trailmatch_core::filter::{test_metric_filter, FilterScratch, FilterSet};

#[global_allocator]
static GLOBAL: common::Counting = common::Counting;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    pattern: String,
    message: Option<String>,
    #[serde(rename = "match")]
    expected: Option<bool>,
    extracted: Option<serde_json::Map<String, serde_json::Value>>,
    error: Option<String>,
    position: Option<usize>,
}

fn load() -> Vec<Case> {
    common::jsonl("filter-patterns")
}

#[test]
fn corpus_cases_hold() {
    let cases = load();
    assert!(cases.len() >= 250, "corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match (&case.error, &case.message) {
            (Some(expected), _) => match FilterSet::new().add(&case.pattern) {
                Ok(_) => failures.push(format!("{}: accepted, expected error {expected:?}", case.name)),
                Err(e) => {
                    if !e.message().contains(expected.as_str()) {
                        failures.push(format!("{}: message {:?} lacks {expected:?}", case.name, e.message()));
                    }
                    if case.position.is_some_and(|p| p != e.position()) {
                        failures.push(format!(
                            "{}: position {}, expected {:?}",
                            case.name,
                            e.position(),
                            case.position
                        ));
                    }
                }
            },
            (None, Some(message)) => {
                let expected = case.expected.expect("match cases say match: true|false");
                match test_metric_filter(&case.pattern, &[message]) {
                    Err(e) => failures.push(format!("{}: rejected: {e}", case.name)),
                    Ok(got) => {
                        if got.is_empty() == expected {
                            failures.push(format!("{}: matched {}, expected {expected}", case.name, !got.is_empty()));
                        }
                        if let (Some(want), Some(m)) = (&case.extracted, got.first()) {
                            let want: Vec<(String, String)> = want
                                .iter()
                                .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
                                .collect();
                            let mut have = m.extracted_values.clone();
                            let mut want_sorted = want.clone();
                            have.sort();
                            want_sorted.sort();
                            if have != want_sorted {
                                failures.push(format!(
                                    "{}: extracted {:?}, expected {want:?}",
                                    case.name, m.extracted_values
                                ));
                            }
                        }
                    }
                }
            }
            (None, None) => failures.push(format!("{}: neither a message nor an error", case.name)),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn all_corpus_filters_at_once_agree_with_each_alone() {
    let cases: Vec<Case> = load().into_iter().filter(|c| c.error.is_none()).collect();
    let mut set = FilterSet::new();
    let mut singles = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        if !seen.insert(case.pattern.clone()) {
            continue;
        }
        let id = set.add(&case.pattern).expect("valid corpus pattern");
        let mut single = FilterSet::new();
        single.add(&case.pattern).expect("valid corpus pattern");
        singles.push((id, single));
    }
    let mut scratch = FilterScratch::default();
    let mut out = Vec::new();
    for case in &cases {
        let message = case.message.as_deref().expect("a message").as_bytes();
        set.matches(message, &mut scratch, &mut out);
        let together: Vec<u32> = out.iter().map(|m| m.id).collect();
        let alone: Vec<u32> =
            singles.iter().filter(|(_, s)| !s.matching(message).is_empty()).map(|(id, _)| *id).collect();
        assert_eq!(together, alone, "{}", case.name);
    }
}

#[test]
fn matching_allocates_nothing_in_steady_state() {
    let mut set = FilterSet::new();
    let mut patterns: Vec<String> = load()
        .into_iter()
        .filter(|c| c.error.is_none() && c.name.starts_with("sh-") && c.name.ends_with("-match-0"))
        .map(|c| c.pattern)
        .collect();
    patterns.extend(
        [
            "{ $.userIdentity.sessionContext.sessionIssuer.userName != cm-policymaintainer && $.eventName = %Policy$% }",
            "{ $.requestParameters.maxResults > 10 || $.responseElements IS NULL || $.readOnly IS TRUE }",
            "{ $.resources[0].ARN = \"arn:*\" && $.tlsDetails.tlsVersion != TLSv1.3 }",
            "{ $.eventName = Describe* && $.userAgent NOT EXISTS }",
            "ERROR ?AccessDenied ?Throttling -ListBuckets",
            "%[Ee]rror|[Ff]ail%",
            "[a, b, ...]",
        ]
        .map(str::to_owned),
    );
    for p in &patterns {
        set.add_with_values(p, &[]).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    set.add_with_values("{ $.eventName = * }", &["$.eventName", "$.userIdentity.arn"]).expect("valid");
    let records = common::invictus_records();
    let mut scratch = FilterScratch::default();
    let mut out = Vec::new();
    let mut matched = 0usize;
    for r in &records {
        set.matches(r, &mut scratch, &mut out);
    }
    let before = common::allocations();
    for r in &records {
        set.matches(r, &mut scratch, &mut out);
        matched += out.len();
    }
    let after = common::allocations();
    assert!(matched > records.len(), "the filters match something");
    assert_eq!(after - before, 0, "allocations in the second pass over {} records", records.len());
}

mod fuzz {
    use proptest::prelude::*;
    use trailmatch_core::filter::{FilterScratch, FilterSet};

    /// Patterns over the characters that matter to the parsers.
    const PATTERN: &str = r#"[{}\[\]()$.=!<>&|%"\\*?,: 0-9azAZ_ISNOTEXULRF\t\né-]{0,48}"#;
    /// Messages that are often almost JSON, or almost space-delimited.
    const MESSAGE: &str = r#"[{}\[\]":, 0-9abc.\-truefalsn\\é]{0,64}"#;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn arbitrary_patterns_compile_or_fail_with_a_position(pattern in PATTERN, message in MESSAGE) {
            let mut set = FilterSet::new();
            match set.add(&pattern) {
                Ok(_) => {
                    let _ = set.matching(message.as_bytes());
                }
                Err(e) => prop_assert!(e.position() <= pattern.chars().count(), "{e}"),
            }
        }

        #[test]
        fn arbitrary_messages_never_panic(message in MESSAGE, bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut set = FilterSet::new();
            for p in [
                "{ $.a = * || $.b[0] > 1 || $.c.d IS NULL }",
                "{ $.a[1][0] != x && $.b NOT EXISTS }",
                "{ $.a = %^[0-9]+$% || $.a.b = *e* }",
                "[x, ..., y = %a%]",
                "[x, y, z]",
                "a ?b -c",
                "%\\d|e$%",
            ] {
                set.add_with_values(p, &[]).expect("valid");
            }
            set.add_with_values("{ $.a = * }", &["$.a", "$.b[0]"]).expect("valid");
            set.add_with_values("[x, ...]", &["$x", "$3"]).expect("valid");
            let mut scratch = FilterScratch::default();
            let mut out = Vec::new();
            for m in [message.as_bytes(), &bytes[..]] {
                set.matches(m, &mut scratch, &mut out);
                for hit in &out {
                    let _ = hit.extracted(&scratch).count();
                    let _ = hit.values(&scratch).count();
                }
            }
        }
    }
}
