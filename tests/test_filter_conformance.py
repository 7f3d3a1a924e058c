"""The shared filter-pattern corpus (tests/data/filter-patterns/*.jsonl), also read by cargo test.

Each case runs through the public API (``trailmatch.test_metric_filter``: match and extracted
values, or the error and its position) and through a ``FilterSet``; every valid pattern is then
loaded into one set, which must agree with the patterns one by one. JSON cases are also checked
against the independent reference evaluator (tests/filter_reference.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filter_reference
import pytest

import trailmatch
from trailmatch._core import FilterSet

CORPUS = Path(__file__).parent / "data" / "filter-patterns"


@dataclass(frozen=True)
class FilterCase:
    file: str
    line: int
    name: str
    pattern: str
    message: str | None
    match: bool | None
    extracted: dict[str, str] | None
    error: str | None
    position: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.name}"


def load() -> list[FilterCase]:
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            raw: dict[str, Any] = json.loads(line)
            cases.append(
                FilterCase(
                    file=path.name,
                    line=i,
                    name=raw["name"],
                    pattern=raw["pattern"],
                    message=raw.get("message"),
                    match=raw.get("match"),
                    extracted=raw.get("extracted"),
                    error=raw.get("error"),
                    position=raw.get("position"),
                )
            )
    return cases


CASES = load()
VALID = [c for c in CASES if c.error is None]


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 250
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for c in CASES:
        assert (c.match is None) != (c.error is None), c
        assert (c.message is None) == (c.match is None), c
        if c.error is not None:
            assert c.position is not None, c
        if c.extracted is not None:
            assert c.match, f"{c}: extracted values only for matching cases"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case: FilterCase) -> None:
    if case.error is not None:
        with pytest.raises(trailmatch.FilterPatternError) as info:
            trailmatch.test_metric_filter(case.pattern, ["x"])
        assert case.error in info.value.message
        assert info.value.position == case.position
        assert str(info.value) == f"Invalid filter pattern: {info.value.message} at character {case.position}"
        return
    assert case.message is not None
    result = trailmatch.test_metric_filter(case.pattern, [case.message])
    matches = result["matches"]
    assert bool(matches) is case.match
    if matches:
        assert matches[0]["eventNumber"] == 1
        assert matches[0]["eventMessage"] == case.message
        if case.extracted is not None:
            # Same keys, values and order (field order).
            assert list(matches[0]["extractedValues"].items()) == list(case.extracted.items())
    filters = FilterSet()
    filters.add(case.name, case.pattern)
    assert [m[0] for m in filters.match(case.message)] == ([case.name] if case.match else [])
    if case.pattern.strip().startswith("{"):
        assert filter_reference.matches(case.pattern, case.message) is case.match


def test_all_filters_at_once_agree_with_each_alone() -> None:
    filters = FilterSet()
    patterns: dict[str, str] = {}
    for c in VALID:
        if c.pattern not in patterns.values():
            patterns[c.name] = c.pattern
            filters.add(c.name, c.pattern)
    messages = [c.message for c in VALID if c.message is not None]
    together = filters.match_many(messages)
    for message, got in zip(messages, together, strict=True):
        expected = [
            name for name, pattern in patterns.items() if trailmatch.test_metric_filter(pattern, [message])["matches"]
        ]
        assert [m[0] for m in got] == expected, message
