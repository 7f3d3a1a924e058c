"""Hostile and malformed input: an error naming the place, or a correct answer; never a crash."""

from __future__ import annotations

import json

import pytest

import trailmatch
from trailmatch import EventError, PatternError, Ruleset


@pytest.fixture(scope="module")
def rules() -> Ruleset:
    r = Ruleset()
    r.add("exact", {"a": ["x"]})
    r.add("wild", {"a": [{"wildcard": "*x*"}]})
    r.add("absent", {"z": [{"exists": False}]})
    return r


@pytest.mark.parametrize(
    ("event", "offset"),
    [
        (b"", 0),
        (b"   ", 3),
        (b'["a"]', 0),
        (b'"a"', 0),
        (b"null", 0),
        (b'{"a": "x"', 9),
        (b'{"a": "x",}', 10),
        (b'{"a" "x"}', 5),
        (b'{"a": x}', 6),
        (b'{"a": "\xff"}', 7),
        (b'{"a": "\x00"}', 7),
        (b'{"a": "x"} trailing', 11),
        (b'{"a": 01}', 6),
        (b'{"b": [1, 2}', 11),
        (b'{"a": "\\ud800\\q"}', 13),
        (b"\xef\xbb\xbf{}", 0),
    ],
)
def test_malformed_events_name_the_byte_offset(rules: Ruleset, event: bytes, offset: int) -> None:
    with pytest.raises(EventError) as info:
        rules.match(event)
    assert info.value.offset == offset, str(info.value)
    assert f"byte {offset}" in str(info.value)


def test_lone_surrogates_are_question_marks_as_in_java(rules: Ruleset) -> None:
    # event-ruler encodes an unpaired surrogate as "?".
    assert trailmatch.test_event_pattern({"a": ["?"]}, b'{"a": "\\ud800"}')
    assert trailmatch.test_event_pattern('{"a": ["\\udfff"]}', b'{"a": "?"}')
    assert trailmatch.test_event_pattern({"a": ["\U0001f600"]}, b'{"a": "\\ud83d\\ude00"}')
    assert rules.match(b'{"a": "\\udc00x"}') == ["wild", "absent"]


def test_python_str_with_lone_surrogate_is_an_event_error(rules: Ruleset) -> None:
    with pytest.raises(EventError, match="UTF-8"):
        rules.match('{"a": "\ud800"}')


def test_nul_bytes(rules: Ruleset) -> None:
    assert trailmatch.test_event_pattern({"a": ["x\u0000y"]}, b'{"a": "x\\u0000y"}')
    assert rules.match(b'{"a": "\\u0000x\\u0000"}') == ["wild", "absent"]
    with pytest.raises(EventError):
        rules.match(b'{"a": "x\x00"}')


def test_one_megabyte_strings(rules: Ruleset) -> None:
    big = "y" * 1_000_000
    assert rules.match({"a": big + "x"}) == ["wild", "absent"]
    assert rules.match({"b": big}) == ["absent"]
    assert trailmatch.test_event_pattern({"a": [{"prefix": "y"}]}, {"a": big})
    escaped = json.dumps({"a": "\u00e9" * 500_000 + "x"}, ensure_ascii=True).encode()
    assert rules.match(escaped) == ["wild", "absent"]


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deep_nesting_in_events(rules: Ruleset, depth: int) -> None:
    arrays = b'{"a": ' + b"[" * depth + b'"x"' + b"]" * depth + b"}"
    assert rules.match(arrays) == ["exact", "wild", "absent"]
    skipped = b'{"q": ' + b"[" * depth + b"1" + b"]" * depth + b', "z": 1}'
    assert rules.match(skipped) == []
    objects = b'{"b": ' + b'{"k": ' * depth + b"1" + b"}" * depth + b"}"
    assert rules.match(objects) == ["absent"]
    unbalanced = b'{"a": ' + b"[" * depth + b"}"
    with pytest.raises(EventError):
        rules.match(unbalanced)


def test_deep_nesting_in_dicts_is_an_error_not_a_crash(rules: Ruleset) -> None:
    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(EventError):
        rules.match(deep)
    cyclic: dict = {}
    cyclic["self"] = cyclic
    with pytest.raises(EventError):
        rules.match(cyclic)


def test_huge_arrays_are_linear(rules: Ruleset) -> None:
    r = Ruleset()
    r.add("pair", {"e": {"f": ["Anna"], "l": ["Jones"]}})
    elements = [{"f": "Anna", "l": "Smith"}, {"f": "Peter", "l": "Jones"}] * 10_000
    assert r.match({"e": elements}) == []
    assert r.match({"e": [*elements, {"f": "Anna", "l": "Jones"}]}) == ["pair"]
    assert rules.match({"a": ["q"] * 100_000 + ["x"]}) == ["exact", "wild", "absent"]


@pytest.mark.parametrize(
    "pattern",
    [
        "{" * 10_000 + "}" * 10_000,
        '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"a": ["' + "x" * 1_000_000 + '"]}',
        "\x00",
        b"\xff\xfe",
        "{" * 3000,
    ],
)
def test_hostile_patterns_are_rejected_cleanly(pattern: str | bytes) -> None:
    with pytest.raises(PatternError) as info:
        Ruleset().add("p", pattern)
    assert str(info.value).startswith("Event pattern is not valid. Reason: ")


def test_deep_patterns_within_the_size_limit() -> None:
    r = Ruleset(max_pattern_length=1_000_000)
    deep = '{"a":' * 90 + '["x"]' + "}" * 90
    r.add("deep", deep)
    event = '{"a":' * 90 + '"x"' + "}" * 90
    assert r.match(event) == ["deep"]
    with pytest.raises(PatternError, match="nesting depth"):
        r.add("deeper", '{"a":' * 200 + '["x"]' + "}" * 200)


def test_wildcard_complexity_is_bounded_at_add_time() -> None:
    # Exponential-looking wildcard sets are rejected before they can cost anything.
    with pytest.raises(PatternError, match="Rule is too complex"):
        Ruleset().add("w", {"a": [{"wildcard": "*a*a*a*a*a*a*"}]})
