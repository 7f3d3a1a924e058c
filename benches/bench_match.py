"""First measurement of the matching engine (issue: the matching engine, item 8).

Method: all real CloudTrail samples bundled in tests/data (3,694 records, ~5.8 MB as
EventBridge events), matched with `Ruleset.match_many` against 1, 100 and 10,000 rules; the
rules are realistic detections plus rules derived from values in the samples with every
operator kind (tests/samples.py, fixed seed). The baseline is `json.loads` of the same events,
measured in the same run. Run with:

    python -m pytest benches --benchmark-enable --benchmark-min-rounds=5
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import trailmatch
from conftest import record_throughput
from samples import DETECTIONS, derived_rules


@pytest.fixture(scope="module")
def rulesets(records: list[tuple[str, dict[str, Any]]]) -> dict[int, trailmatch.Ruleset]:
    derived = derived_rules(records, 10_000, seed=5)
    pool = list(DETECTIONS.items()) + list(derived.items())
    out = {}
    for n in (1, 100, 10_000):
        rules = trailmatch.Ruleset()
        for name, pattern in pool[:n]:
            rules.add(name, pattern)
        out[n] = rules
    return out


def test_json_loads_baseline(benchmark: Any, events: list[bytes]) -> None:
    benchmark(lambda: [json.loads(e) for e in events])
    record_throughput(benchmark, "json.loads", events)


@pytest.mark.parametrize("n", [1, 100, 10_000])
def test_match_many(benchmark: Any, events: list[bytes], rulesets: dict[int, trailmatch.Ruleset], n: int) -> None:
    rules = rulesets[n]
    result = benchmark(rules.match_many, events)
    assert len(result) == len(events)
    matches = sum(map(len, result))
    record_throughput(benchmark, f"match_many, {n:,} rules", events, matches=matches)


@pytest.mark.parametrize("n", [1, 10_000])
def test_match_one_by_one(benchmark: Any, events: list[bytes], rulesets: dict[int, trailmatch.Ruleset], n: int) -> None:
    rules = rulesets[n]
    benchmark(lambda: [rules.match(e) for e in events])
    record_throughput(benchmark, f"match (one call per event), {n:,} rules", events)
