"""First measurement of the matching engine (issue: the matching engine, item 8).

Method: all real CloudTrail samples bundled in tests/data (3,694 records, ~5.8 MB as
EventBridge events), matched with `Ruleset.match_many` (both cores) and with one `match` call
per event (one core) against 1, 100 and 10,000 rules: 18 realistic detections
(tests/samples.py) followed by selective rules that each watch something specific — an API
call, a principal, a bucket, an address range, a user agent — with every operator kind
(benches/workloads.py, fixed seed). The baseline is `json.loads` of the same events, measured
in the same run. Run with:

    python -m pytest benches --benchmark-enable --benchmark-min-rounds=5
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import trailmatch
from conftest import record_throughput
from samples import DETECTIONS
from workloads import selective_rules


@pytest.fixture(scope="module")
def rulesets(records: list[tuple[str, dict[str, Any]]], smoke: bool) -> dict[str, trailmatch.Ruleset]:
    """The smoke run (`--benchmark-disable`) stands in 500 rules for 10,000, to stay fast."""
    pool = list(DETECTIONS.items()) + list(selective_rules(records, 500 if smoke else 10_000, seed=1).items())
    out = {}
    for n in (1, 100, 10_000):
        for validation in ("full", "lazy"):
            rules = trailmatch.Ruleset(validation=validation)
            for name, pattern in pool[:n]:
                rules.add(name, pattern)
            out[f"{n}/{validation}"] = rules
    return out


def test_json_loads_baseline(benchmark: Any, events: list[bytes]) -> None:
    benchmark(lambda: [json.loads(e) for e in events])
    record_throughput(benchmark, "json.loads", events)


@pytest.mark.parametrize("validation", ["full", "lazy"])
@pytest.mark.parametrize("n", [1, 100, 10_000])
def test_match_many(
    benchmark: Any, events: list[bytes], rulesets: dict[str, trailmatch.Ruleset], n: int, validation: str
) -> None:
    rules = rulesets[f"{n}/{validation}"]
    result = benchmark(rules.match_many, events)
    assert len(result) == len(events)
    matches = sum(map(len, result))
    record_throughput(benchmark, f"match_many, {n:,} rules, {validation}", events, matches=matches)


@pytest.mark.parametrize("n", [1, 10_000])
def test_match_one_by_one(benchmark: Any, events: list[bytes], rulesets: dict[str, trailmatch.Ruleset], n: int) -> None:
    rules = rulesets[f"{n}/full"]
    benchmark(lambda: [rules.match(e) for e in events])
    record_throughput(benchmark, f"match (1 core, 1 call/event), {n:,} rules", events)
