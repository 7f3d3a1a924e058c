"""The shared conformance corpus (tests/data/event-patterns/*.jsonl), also read by cargo test.

Each case runs through the public Python API: `test_event_pattern` with the exact texts, the
same through a `Ruleset`, and — where JSON round-trips through Python without changing any
number — with the pattern and event given as dicts.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest

import trailmatch
from samples import Case, load_corpus

CASES = load_corpus()


def _numbers_round_trip(value: Any) -> bool:
    """True if `json.loads` → `json.dumps` keeps every number's value (so dicts are faithful)."""
    text = json.dumps(value)
    exact = json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
    lossy = json.loads(text)

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, decimal.Decimal) and not isinstance(b, bool):
            return decimal.Decimal(repr(b)) == a if isinstance(b, float) else decimal.Decimal(b) == a
        return bool(a == b)

    return same(exact, lossy)


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 400
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for c in CASES:
        assert (c.match is None) != (c.error is None), c
        if c.match is not None:
            assert c.event is not None, c
        # Object-form values must survive Python's JSON round trip (else write them as text).
        for value in (c.pattern_value, c.event_value):
            if value is not None and not isinstance(value, str):
                assert _numbers_round_trip(value), f"{c}: use the string form for exact numbers"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case: Case) -> None:
    if case.error is not None:
        with pytest.raises(trailmatch.PatternError) as info:
            trailmatch.Ruleset().add(case.name, case.pattern)
        if case.error != "*":
            assert info.value.reason == case.error
            assert str(info.value) == f"Event pattern is not valid. Reason: {case.error}"
        if case.error_path is not None:
            assert info.value.path == case.error_path
        return
    assert case.event is not None
    assert trailmatch.test_event_pattern(case.pattern, case.event) is case.match
    rules = trailmatch.Ruleset()
    rules.add(case.name, case.pattern.encode())
    assert rules.match(case.event.encode()) == ([case.name] if case.match else [])
    if isinstance(case.pattern_value, dict) and isinstance(case.event_value, dict):
        assert trailmatch.test_event_pattern(case.pattern_value, case.event_value) is case.match


def test_all_rules_at_once_agree_with_rules_one_by_one() -> None:
    valid = [c for c in CASES if c.error is None]
    rules = trailmatch.Ruleset()
    for c in valid:
        rules.add(c.name, c.pattern)
    events = [c.event for c in valid if c.event is not None]
    got = rules.match_many(events)
    for event, names in zip(events, got, strict=True):
        expected = [c.name for c in valid if trailmatch.test_event_pattern(c.pattern, event)]
        assert names == expected, event
