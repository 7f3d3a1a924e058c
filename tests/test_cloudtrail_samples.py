"""Many rules at once over the real CloudTrail samples.

A `Ruleset` holding hundreds of rules must give, for every real event, exactly the rules that
`test_event_pattern` accepts one by one. Rules are realistic detections plus rules derived
from values that occur in the samples, with every operator kind, so that both matches and
near misses are common.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import trailmatch
from samples import DETECTIONS, derived_rules, envelope


@pytest.fixture(scope="module")
def events(records: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    return [json.dumps(envelope(r)).encode() for _, r in records]


@pytest.fixture(scope="module")
def all_rules(records: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    rules = dict(DETECTIONS)
    rules.update(derived_rules(records, 500, seed=20261122))
    return rules


def test_ruleset_equals_rules_one_by_one(all_rules: dict[str, dict[str, Any]], events: list[bytes]) -> None:
    together = trailmatch.Ruleset()
    alone = {}
    for name, pattern in all_rules.items():
        together.add(name, pattern)
        single = trailmatch.Ruleset()
        single.add(name, pattern)
        alone[name] = single
    assert len(together) == len(all_rules)
    matches = 0
    for event in events:
        expected = [name for name, single in alone.items() if single.match(event)]
        assert together.match(event) == expected, event[:200]
        matches += len(expected)
    # The rules are derived from these events: a fair share of pairs must match.
    assert matches > len(events)
    assert together.match_many(events) == [together.match(e) for e in events]
    lazy = trailmatch.Ruleset(validation="lazy")
    for name, pattern in all_rules.items():
        lazy.add(name, pattern)
    assert lazy.match_many(events) == together.match_many(events)


def test_test_event_pattern_agrees_on_a_sample(all_rules: dict[str, dict[str, Any]], events: list[bytes]) -> None:
    together = trailmatch.Ruleset()
    for name, pattern in all_rules.items():
        together.add(name, pattern)
    rng = random.Random(7)
    for event in rng.sample(events, 120):
        expected = [name for name, pattern in all_rules.items() if trailmatch.test_event_pattern(pattern, event)]
        assert together.match(event) == expected


def test_detections_fire_on_the_samples(events: list[bytes]) -> None:
    rules = trailmatch.Ruleset()
    for name, pattern in DETECTIONS.items():
        rules.add(name, pattern)
    counts: dict[str, int] = {name: 0 for name in DETECTIONS}
    for names in rules.match_many(events):
        for name in names:
            counts[name] += 1
    # Attack simulations in the samples: these detections must see something.
    for name in ["iam-policy-changes", "cloudtrail-tampering", "access-denied", "secrets-read", "private-ip"]:
        assert counts[name] > 0, (name, counts)
