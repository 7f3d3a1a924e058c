//! The shared conformance corpus (`tests/data/event-patterns/*.jsonl`), also read by pytest.
//!
//! Every case is checked three ways: the automaton with the pattern alone, the direct
//! evaluator in `explain`, and the automaton with every valid pattern of the corpus loaded at
//! once (each event must match exactly the rules the direct evaluator accepts).

mod common;

use serde_json::value::RawValue;
use trailmatch_core::explain::explain;
use trailmatch_core::{Ruleset, Scratch, Validation};

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    pattern: Box<RawValue>,
    event: Option<Box<RawValue>>,
    #[serde(rename = "match")]
    expected: Option<bool>,
    error: Option<String>,
    error_path: Option<String>,
}

/// A JSON string is raw text; any other JSON value is used as written.
fn text(raw: &RawValue) -> String {
    let s = raw.get();
    if s.starts_with('"') {
        serde_json::from_str::<String>(s).expect("string form")
    } else {
        s.to_owned()
    }
}

fn load() -> Vec<Case> {
    common::jsonl("event-patterns")
}

#[test]
fn corpus_cases_hold() {
    let cases = load();
    assert!(cases.len() >= 400, "corpus has only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let pattern = text(&case.pattern);
        let mut rules = Ruleset::new();
        let added = rules.add(&case.name, &pattern);
        match (&case.error, added) {
            (Some(expected), Err(e)) => {
                if expected != "*" && e.reason() != expected {
                    failures.push(format!("{}: reason {:?}, expected {:?}", case.name, e.reason(), expected));
                }
                if let Some(path) = &case.error_path {
                    if e.path() != path {
                        failures.push(format!("{}: error path {:?}, expected {:?}", case.name, e.path(), path));
                    }
                }
            }
            (Some(expected), Ok(_)) => failures.push(format!("{}: accepted, expected error {expected:?}", case.name)),
            (None, Err(e)) => failures.push(format!("{}: rejected: {}", case.name, e.reason())),
            (None, Ok(_)) => {
                let event = text(case.event.as_ref().expect("match cases have an event"));
                let expected = case.expected.expect("match cases say match: true|false");
                for validation in [Validation::Full, Validation::Lazy] {
                    rules.set_validation(validation);
                    match rules.matches(event.as_bytes()) {
                        Ok(names) => {
                            if names.is_empty() == expected {
                                failures.push(format!(
                                    "{} ({validation:?}): automaton says {}, expected {expected}",
                                    case.name,
                                    !names.is_empty()
                                ));
                            }
                        }
                        Err(e) => failures.push(format!("{}: event rejected: {e}", case.name)),
                    }
                }
                match explain(pattern.as_bytes(), event.as_bytes()) {
                    Ok(x) if x.matched != expected => {
                        failures.push(format!("{}: explain says {}, expected {expected}\n{x}", case.name, x.matched));
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{}: explain failed: {e}", case.name)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn all_corpus_rules_at_once_agree_with_the_direct_evaluator() {
    let cases: Vec<Case> = load().into_iter().filter(|c| c.error.is_none()).collect();
    let mut rules = Ruleset::new();
    let mut patterns = Vec::new();
    for case in &cases {
        let pattern = text(&case.pattern);
        rules.add(&case.name, &pattern).expect("valid corpus pattern");
        patterns.push((case.name.as_str(), pattern));
    }
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let event = text(case.event.as_ref().expect("event"));
        rules.matches_with(event.as_bytes(), &mut scratch, &mut out).expect("valid event");
        let mut got: Vec<&str> = out.iter().map(|&id| rules.name(id)).collect();
        got.sort_unstable();
        let mut want: Vec<&str> = patterns
            .iter()
            .filter(|(_, p)| explain(p.as_bytes(), event.as_bytes()).expect("valid").matched)
            .map(|(n, _)| *n)
            .collect();
        want.sort_unstable();
        if got != want {
            failures.push(format!("event of {}: got {got:?}\nwant {want:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} events disagree:\n{}", failures.len(), failures.join("\n"));
}
