"""Differential tests: trailmatch against the reference evaluator on generated input.

Patterns and events are drawn from a deliberately small vocabulary (a few keys, strings
that differ only in case or IP notation, numbers that are equal in different notations)
so that generated events actually match generated patterns: most events are built to
satisfy one branch of a pattern, then perturbed. Both are generated as raw JSON text so
that number literals such as ``3e2`` and ``1e400`` reach the engine unchanged.

``TRAILMATCH_HYPOTHESIS_EXAMPLES`` overrides the number of examples per test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import NoReturn, TypeAlias

import pytest
from hypothesis import HealthCheck, event, given, note, reject, settings
from hypothesis import strategies as st

import trailmatch
from reference_evaluator import JSON, Num, evaluate, expand, is_comparable, parse_json

EventInput: TypeAlias = "str | bytes | dict[str, object]"
PatternAndEvent: TypeAlias = "tuple[str, str]"


def _examples(default: int) -> int:
    return int(os.environ.get("TRAILMATCH_HYPOTHESIS_EXAMPLES", default))


def _settings(default_examples: int) -> settings:
    return settings(
        max_examples=_examples(default_examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- vocabulary ------------------------------------------------------------------------

PATTERN_KEYS = ("a", "b", "c", "a.b")
# "$or" is rare: it only matters for patterns that use `$or` as an ordinary field (§4).
EVENT_KEYS = ("a", "a", "b", "b", "c", "c", "a.b", "$or")

PLAIN_STRINGS = (
    *("", "x", "X", "abc", "ABC", "Abc", "aBc", "a*b", "a\\b", "i-1234", "5", "true"),
    *("null", "ß", "SS", "ss", "straße", "STRASSE", "Σ", "\u03c3", "ς", "é", "É", "i", "İ"),
    *("k", "K", "\u212a", "x😀", "X😀", "𐐀", "𐐨"),  # Kelvin sign; outside the BMP
)
# Strings denoting the same address are listed together (§6).
IP_GROUPS = (
    ("10.0.0.1", "10.0.0.01", "010.000.000.001", "::ffff:a00:1"),
    ("2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:DB8::1"),
    ("10.0.0.33",),
    ("10.0.1.33",),
    ("2001:db8:1::1",),
    ("1.2.3.256",),  # looks like an IPv4 address but is not one: a plain string
    ("abc:def",),  # looks like an IPv6 address but is not one: a plain string
)
IP_STRINGS = tuple(ip for group in IP_GROUPS for ip in group)
STRINGS = PLAIN_STRINGS + IP_STRINGS
NONEMPTY_STRINGS = tuple(s for s in STRINGS if s)

NUMBER_TEXTS = (
    *("0", "-0", "5", "5.0", "-7", "3e2", "300", "3.0e2", "0.1", "0.10", "-1.5"),
    *("1E2", "100", "1e308", "9007199254740992"),
    # not comparable (§5): match only identical text
    *("9007199254740993", "123456789012345678901", "1e400", "1.0000000000000001"),
)
COMPARABLE_TEXTS = tuple(t for t in NUMBER_TEXTS if is_comparable(t))
CIDRS = (
    *("10.0.0.0/24", "10.0.0.0/8", "10.0.0.5/24", "10.0.1.0/24", "0.0.0.0/0"),
    *("2001:db8::/32", "2001:db8::/64", "::/0"),
)
MAX_STARS_PER_PATTERN = 4  # keeps every rule far below the wildcard complexity limit (§7)
MAX_DEPTH = 2

# --- raw JSON text ---------------------------------------------------------------------


def to_json(value: JSON, *, ascii_only: bool) -> str:
    """Serialise, writing each `Num` as its literal text."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, ascii_only=ascii_only) for v in value) + "]"
    if isinstance(value, dict):
        members = (
            json.dumps(k, ensure_ascii=ascii_only) + ":" + to_json(v, ascii_only=ascii_only) for k, v in value.items()
        )
        return "{" + ",".join(members) + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


def _all_numbers(value: JSON) -> list[Num]:
    if isinstance(value, Num):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in _all_numbers(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _all_numbers(v)]
    return []


def representable_as_dict(text: str) -> bool:
    """`json.loads` keeps the meaning: no number whose literal text matters (§5)."""
    return all(is_comparable(n.text) for n in _all_numbers(parse_json(text)))


# --- patterns --------------------------------------------------------------------------


def _one_in(draw: st.DrawFn, n: int) -> bool:
    """True with probability 1/n, and False in the simplest (shrunk) example."""
    return draw(st.integers(0, n - 1)) == n - 1


@dataclass
class _Budget:
    stars: int = MAX_STARS_PER_PATTERN


numbers = st.sampled_from(NUMBER_TEXTS).map(Num)
comparable_numbers = st.sampled_from(COMPARABLE_TEXTS).map(Num)
strings = st.sampled_from(STRINGS)
nonempty_strings = st.sampled_from(NONEMPTY_STRINGS)


@st.composite
def recased(draw: st.DrawFn, text: str) -> str:
    """`text` with some characters in upper or lower case."""
    return "".join(draw(st.sampled_from((c, c.lower(), c.upper()))) for c in text)


@st.composite
def prefixes(draw: st.DrawFn, *, nonempty: bool = False) -> str:
    text = draw(nonempty_strings)
    return text[: draw(st.integers(1 if nonempty else 0, len(text)))]


@st.composite
def suffixes(draw: st.DrawFn, *, nonempty: bool = False) -> str:
    text = draw(nonempty_strings)
    return text[draw(st.integers(0, len(text) - (1 if nonempty else 0))) :]


@st.composite
def wildcards(draw: st.DrawFn, budget: _Budget) -> str:
    """A string with at most two (never adjacent) unescaped stars; `*`, `\\` escaped."""
    tokens: list[str | None] = list(draw(nonempty_strings))  # None stands for a star
    for _ in range(draw(st.integers(0, min(2, budget.stars)))):
        start = draw(st.integers(0, len(tokens)))
        length = draw(st.integers(0, min(2, len(tokens) - start)))
        tokens[start : start + length] = [None]
    text = ""
    for index, token in enumerate(tokens):
        if token is None:
            if index > 0 and tokens[index - 1] is None:
                continue  # `**` is rejected (§7)
            budget.stars -= 1
            text += "*"
        elif token in ("*", "\\"):
            text += "\\" + token
        else:
            text += token
    return text


def _one_or_list(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[JSON]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


@st.composite
def anything_buts(draw: st.DrawFn, budget: _Budget) -> JSON:
    """Every accepted form of §3.6 (no empty strings, comparable numbers only)."""
    form = draw(st.sampled_from(("value", "list", "prefix", "suffix", "eic", "wildcard")))
    if form == "value":
        return draw(st.one_of(nonempty_strings, comparable_numbers))
    if form == "list":
        excluded: list[JSON] = draw(
            st.one_of(
                st.lists(nonempty_strings, min_size=1, max_size=3),
                st.lists(comparable_numbers, min_size=1, max_size=3),
            )
        )
        return excluded
    if form == "prefix":
        return {"prefix": draw(_one_or_list(prefixes(nonempty=True)))}
    if form == "suffix":
        return {"suffix": draw(_one_or_list(suffixes(nonempty=True)))}
    if form == "eic":
        return {"equals-ignore-case": draw(_one_or_list(nonempty_strings.flatmap(recased)))}
    return {"wildcard": draw(_one_or_list(wildcards(budget)))}


@st.composite
def numeric_conditions(draw: st.DrawFn) -> JSON:
    """§3.7: `[op, n]` or `[lower op, a, upper op, b]` with a < b."""
    if draw(st.booleans()):
        return [draw(st.sampled_from(("=", "<", "<=", ">", ">="))), draw(comparable_numbers)]
    low, high = draw(st.lists(comparable_numbers, min_size=2, max_size=2))
    if float(low.text) == float(high.text):
        return [">=", low]
    if float(low.text) > float(high.text):
        low, high = high, low
    return [
        draw(st.sampled_from((">", ">="))),
        low,
        draw(st.sampled_from(("<", "<="))),
        high,
    ]


@st.composite
def matchers(draw: st.DrawFn, budget: _Budget) -> JSON:
    """One element of a pattern leaf array: a value or a one-operator object (§3)."""
    kind = draw(
        st.sampled_from(
            (
                *("string", "ip", "number", "number", "literal", "exactly", "prefix"),
                *("suffix", "prefix-eic", "suffix-eic", "eic", "wildcard", "cidr"),
                *("anything-but", "anything-but", "numeric", "numeric", "exists"),
            )
        )
    )
    if kind == "string":
        return draw(strings)
    if kind == "ip":
        return draw(st.sampled_from(IP_STRINGS))
    if kind == "number":
        return draw(numbers)
    if kind == "literal":
        return draw(st.sampled_from((None, True, False)))
    if kind == "exactly":
        return {"exactly": draw(strings)}
    if kind == "prefix":
        return {"prefix": draw(prefixes())}
    if kind == "suffix":
        return {"suffix": draw(suffixes())}
    if kind == "prefix-eic":
        return {"prefix": {"equals-ignore-case": draw(prefixes().flatmap(recased))}}
    if kind == "suffix-eic":
        return {"suffix": {"equals-ignore-case": draw(suffixes().flatmap(recased))}}
    if kind == "eic":
        return {"equals-ignore-case": draw(nonempty_strings.flatmap(recased))}
    if kind == "wildcard":
        return {"wildcard": draw(wildcards(budget))}
    if kind == "cidr":
        return {"cidr": draw(st.sampled_from(CIDRS))}
    if kind == "anything-but":
        return {"anything-but": draw(anything_buts(budget))}
    if kind == "numeric":
        return {"numeric": draw(numeric_conditions())}
    return {"exists": draw(st.booleans())}


def _pattern_object(
    draw: st.DrawFn,
    keys: tuple[str, ...],
    taken: set[str],
    depth: int,
    budget: _Budget,
) -> dict[str, JSON]:
    """A non-empty pattern object (or {} if no path is free) whose expansion never puts a
    path in `taken` or one path twice in a branch (§1). Adds its paths to `taken`."""
    obj: dict[str, JSON] = {}
    kinds = ("leaf", "leaf", "leaf", "nested", "or") if depth < MAX_DEPTH else ("leaf",)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        if kind == "or" and "$or" not in obj:  # §4
            branches: list[JSON] = []
            added: set[str] = set()
            for _ in range(draw(st.integers(2, 3))):
                branch_taken = set(taken)
                branch = _pattern_object(draw, keys, branch_taken, depth + 1, budget)
                if branch:
                    branches.append(branch)
                    added |= branch_taken - taken
            if len(branches) > 1:
                obj["$or"] = branches
                taken |= added
            continue
        key = draw(st.sampled_from(PATTERN_KEYS))
        if key in obj:
            continue
        if kind == "nested":
            child = _pattern_object(draw, (*keys, key), taken, depth + 1, budget)
            if child:
                obj[key] = child
            continue
        path = ".".join((*keys, key))
        if path not in taken:
            taken.add(path)
            obj[key] = draw(st.lists(matchers(budget), min_size=1, max_size=3))
    if not obj:  # fall back to one leaf at a free path
        for key in PATTERN_KEYS:
            path = ".".join((*keys, key))
            if path not in taken:
                taken.add(path)
                obj[key] = [draw(matchers(budget))]
                break
    return obj


@st.composite
def patterns(draw: st.DrawFn) -> dict[str, JSON]:
    pattern = _pattern_object(draw, (), set(), 0, _Budget())
    if "$or" not in pattern and _one_in(draw, 10):
        # §4: `$or` whose value is not a list of >= 2 objects is an ordinary field.
        pattern["$or"] = [draw(matchers(_Budget(stars=0)))]
    return pattern


# --- events ----------------------------------------------------------------------------

scalars: st.SearchStrategy[JSON] = st.one_of(strings, numbers, st.sampled_from((None, True, False)))


@st.composite
def _values(draw: st.DrawFn, depth: int) -> JSON:
    """An event value: mostly scalars, else small arrays and objects, `depth` levels."""
    shapes = ("scalar", "scalar", "array", "object") if depth > 0 else ("scalar",)
    shape = draw(st.sampled_from(shapes))
    if shape == "array":
        return draw(st.lists(_values(depth - 1), max_size=3))
    if shape == "object":
        keys = st.sampled_from(EVENT_KEYS)
        return draw(st.dictionaries(keys, _values(depth - 1), max_size=3))
    return draw(scalars)


values = _values(2)
random_objects = st.dictionaries(st.sampled_from(EVENT_KEYS), values, max_size=4)


def _satisfies(matcher: JSON, leaf: JSON) -> bool:
    pattern_text = to_json({"k": [matcher]}, ascii_only=True)
    return evaluate(pattern_text, to_json({"k": leaf}, ascii_only=True))


def _same_address(text: str) -> tuple[str, ...]:
    return next((group for group in IP_GROUPS if text in group), (text,))


def _same_number(number: Num) -> tuple[str, ...]:
    if not is_comparable(number.text):
        return (number.text,)
    value = float(number.text)
    return tuple(t for t in COMPARABLE_TEXTS if float(t) == value) or (number.text,)


@st.composite
def ignore_case_variants(draw: st.DrawFn, pattern: str) -> str:
    """A string matched by equals-ignore-case `pattern` (§3.4 per-character rule)."""
    return "".join(c if ord(c) > 0xFFFF else draw(st.sampled_from(sorted({c.lower(), c.upper()}))) for c in pattern)


@st.composite
def wildcard_fillings(draw: st.DrawFn, pattern: str) -> str:
    """A string matched by `pattern` (§7)."""
    text, chars = "", iter(pattern)
    for char in chars:
        if char == "*":
            text += draw(st.sampled_from(("", "x", "ab", "*", "\\", "é")))
        else:
            text += next(chars) if char == "\\" else char
    return text


@st.composite
def witnesses(draw: st.DrawFn, matcher: JSON) -> list[JSON]:
    """A leaf value that (usually) satisfies `matcher`; none for exists:false."""
    return [] if matcher == {"exists": False} else [draw(_witness(matcher))]


@st.composite
def _witness(draw: st.DrawFn, matcher: JSON) -> JSON:
    if isinstance(matcher, str):
        return draw(st.sampled_from(_same_address(matcher)))
    if isinstance(matcher, Num):
        return Num(draw(st.sampled_from(_same_number(matcher))))
    if not isinstance(matcher, dict):
        return matcher  # true, false, null
    ((operator, operand),) = matcher.items()
    if operator in ("prefix", "suffix") and isinstance(operand, dict):  # ignore-case
        operand = draw(ignore_case_variants(str(operand["equals-ignore-case"])))
    if operator == "exactly" and isinstance(operand, str):
        return operand
    if operator == "prefix" and isinstance(operand, str):
        return operand + draw(strings)
    if operator == "suffix" and isinstance(operand, str):
        return draw(strings) + operand
    if operator == "equals-ignore-case" and isinstance(operand, str):
        return draw(ignore_case_variants(operand))
    if operator == "wildcard" and isinstance(operand, str):
        return draw(wildcard_fillings(operand))
    if operator == "cidr":  # mostly an address inside the block
        inside = [ip for ip in IP_STRINGS if _satisfies(matcher, ip)]
        return draw(st.sampled_from(IP_STRINGS if _one_in(draw, 4) or not inside else inside))
    if operator == "numeric":  # mostly a number inside the range
        inside = [n for n in COMPARABLE_TEXTS if _satisfies(matcher, Num(n))]
        candidates = NUMBER_TEXTS if _one_in(draw, 4) or not inside else inside
        return Num(draw(st.sampled_from(candidates)))
    return draw(scalars)  # exists:true, anything-but


@st.composite
def _wrapped(draw: st.DrawFn, value: JSON) -> JSON:
    """`value` alone, in an array with other values, or in a nested array."""
    shape = draw(st.sampled_from(("bare", "bare", "array", "with-others", "nested")))
    if shape == "array":
        return [value]
    if shape == "with-others":
        others = draw(st.lists(values, min_size=1, max_size=2))
        position = draw(st.integers(0, len(others)))
        return [*others[:position], value, *others[position:]]
    if shape == "nested":
        return [[value], *draw(st.lists(values, max_size=1))]
    return value


def _objects_in(value: JSON) -> list[dict[str, JSON]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [obj for element in value for obj in _objects_in(element)]
    return []


def _insert(draw: st.DrawFn, node: dict[str, JSON], keys: list[str], leaf: JSON) -> bool:
    """Put `leaf` at `keys` under `node`, reusing or adding objects and arrays (§8).
    False if the place is taken (by a leaf where an object is needed, or vice versa)."""
    key, rest = keys[0], keys[1:]
    if not rest:
        if key in node:
            return False
        node[key] = draw(_wrapped(leaf))
        return True
    if key not in node:
        child: dict[str, JSON] = {}
        node[key] = draw(_wrapped(child))
        return _insert(draw, child, rest, leaf)
    existing = node[key]
    targets = _objects_in(existing)
    if isinstance(existing, list) and (not targets or _one_in(draw, 4)):
        targets = [{}]
        existing.append(targets[0])  # a new element: the leaf splits from its siblings
    if not targets:
        return False
    return _insert(draw, draw(st.sampled_from(targets)), rest, leaf)


@st.composite
def events_for(draw: st.DrawFn, pattern: dict[str, JSON]) -> dict[str, JSON]:
    """Mostly an event built to satisfy one branch of `pattern`, plus noise."""
    if _one_in(draw, 6):
        return draw(random_objects)
    event_object: dict[str, JSON] = {}
    branch = draw(st.sampled_from(expand(pattern)))
    # Shorter paths first: a leaf at "a" can then coexist with "a.b" as key "a.b".
    for path, leaf_matchers in sorted(branch.items(), key=lambda f: f[0].count(".")):
        if _one_in(draw, 12):
            continue  # leave a field out now and then
        leaves = draw(witnesses(draw(st.sampled_from(leaf_matchers))))
        if _one_in(draw, 6):
            leaves = [draw(scalars)]  # a near miss, usually
        for leaf in leaves:
            if not _insert(draw, event_object, _regrouped(draw, path), leaf):
                _insert(draw, event_object, [path], leaf)  # e.g. "a.b" when a is taken
    for key, value in draw(random_objects).items():
        if draw(st.booleans()):
            event_object.setdefault(key, value)
    return event_object


def _regrouped(draw: st.DrawFn, path: str) -> list[str]:
    """Keys spelling `path`; §1: key "a.b" and keys a -> b are the same path."""
    segments = path.split(".")
    keys = [segments[0]]
    for segment in segments[1:]:
        if draw(st.booleans()):
            keys[-1] += "." + segment
        else:
            keys.append(segment)
    return keys


@st.composite
def pattern_and_event(draw: st.DrawFn) -> PatternAndEvent:
    pattern = draw(patterns())
    event_object = draw(events_for(pattern))
    return (
        to_json(pattern, ascii_only=draw(st.booleans())),
        to_json(event_object, ascii_only=draw(st.booleans())),
    )


@st.composite
def rulesets(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """1-30 patterns and 1-6 events, each event built for one of the patterns."""
    pattern_objects = draw(st.lists(patterns(), min_size=1, max_size=30))
    event_objects = draw(st.lists(st.sampled_from(pattern_objects).flatmap(events_for), min_size=1, max_size=6))
    return (
        [to_json(p, ascii_only=draw(st.booleans())) for p in pattern_objects],
        [to_json(e, ascii_only=draw(st.booleans())) for e in event_objects],
    )


# --- tests -----------------------------------------------------------------------------


def _fail_rejected(pattern_text: str, error: Exception) -> NoReturn:
    """A generated pattern was rejected: a bug, unless EventBridge would reject it too.

    The generator cannot see wildcard complexity (an event-ruler metric the reference does
    not model), so a rule that is legitimately "too complex" is discarded, not a failure.
    """
    if isinstance(error, trailmatch.PatternError) and error.reason.startswith("Rule is too complex"):
        reject()
    pytest.fail(f"trailmatch rejected a valid pattern {pattern_text}: {error}")


@_settings(300)
@given(case=pattern_and_event())
def test_single_pattern_agrees_with_reference(case: PatternAndEvent) -> None:
    pattern_text, event_text = case
    expected = evaluate(pattern_text, event_text)
    event(f"reference says {'match' if expected else 'no match'}")
    try:
        actual = trailmatch.test_event_pattern(pattern_text, event_text)
    except trailmatch.PatternError as error:
        _fail_rejected(pattern_text, error)
    assert actual == expected, f"pattern {pattern_text}\nevent   {event_text}"


def repeats_a_path(event_text: str) -> bool:
    """Whether a path can occur twice outside arrays: a duplicate key, or a dotted key.

    Lazy validation reads each such path at its first occurrence only (documented), so it is
    compared with full validation on events without them.
    """
    repeated = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal repeated
        keys = [k for k, _ in items]
        repeated |= len(keys) != len(set(keys)) or any("." in k for k in keys)
        return dict(items)

    json.loads(event_text, object_pairs_hook=pairs)
    return repeated


@_settings(100)
@given(case=rulesets(), data=st.data())
def test_ruleset_agrees_with_reference(case: tuple[list[str], list[str]], data: st.DataObject) -> None:
    pattern_texts, event_texts = case
    names = [f"r{i}" for i in range(len(pattern_texts))]
    ruleset = trailmatch.Ruleset()
    lazy = trailmatch.Ruleset(validation="lazy")  # reads less of each event; same answers
    for name, pattern_text in zip(names, pattern_texts, strict=True):
        try:
            ruleset.add(name, pattern_text)
            lazy.add(name, pattern_text)
        except trailmatch.PatternError as error:
            _fail_rejected(pattern_text, error)
    assert len(ruleset) == len(names)
    assert all(name in ruleset for name in names)

    def check(live: list[str]) -> None:
        texts = dict(zip(names, pattern_texts, strict=True))
        for event_text in event_texts:
            expected = sorted(n for n in live if evaluate(texts[n], event_text))
            event("some rules match" if expected else "no rule matches")
            actual = sorted(ruleset.match(event_text))
            assert actual == expected, f"event {event_text}\nrules {texts}"
        per_event = [sorted(ruleset.match(e)) for e in event_texts]
        assert [sorted(m) for m in ruleset.match_many(event_texts)] == per_event
        for event_text, expected in zip(event_texts, per_event, strict=True):
            if not repeats_a_path(event_text):
                assert sorted(lazy.match(event_text)) == expected, event_text

    check(names)
    removed = data.draw(st.lists(st.sampled_from(names), unique=True), label="removed")
    for name in removed:
        ruleset.remove(name)
        lazy.remove(name)
    note(f"removed {removed}")
    live = [n for n in names if n not in removed]
    assert len(ruleset) == len(live)
    assert not any(name in ruleset for name in removed)
    check(live)


@_settings(100)
@given(case=pattern_and_event())
def test_input_forms_agree(case: PatternAndEvent) -> None:
    """str, bytes and (when `json.loads` keeps the meaning) dict give the same answer."""
    pattern_text, event_text = case
    expected = evaluate(pattern_text, event_text)
    pattern_forms: list[EventInput] = [pattern_text, pattern_text.encode()]
    if representable_as_dict(pattern_text):
        pattern_forms.append(json.loads(pattern_text))
    event_forms: list[EventInput] = [event_text, event_text.encode()]
    if representable_as_dict(event_text):
        event_forms.append(json.loads(event_text))
    try:
        for pattern_form in pattern_forms:
            for event_form in event_forms:
                actual = trailmatch.test_event_pattern(pattern_form, event_form)
                assert actual == expected, f"{pattern_form!r} {event_form!r}"
        ruleset = trailmatch.Ruleset()
        ruleset.add("r", pattern_forms[-1])
    except trailmatch.PatternError as error:
        _fail_rejected(pattern_text, error)
    matched = ["r"] if expected else []
    for event_form in event_forms:
        assert ruleset.match(event_form) == matched, repr(event_form)
    assert ruleset.match_many(event_forms) == [matched] * len(event_forms)


def test_generated_cases_often_match() -> None:
    """The generators are useful only if matches and non-matches are both common."""
    outcomes: list[bool] = []

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(case=pattern_and_event())
    def collect(case: PatternAndEvent) -> None:
        outcomes.append(evaluate(*case))

    collect()
    rate = sum(outcomes) / len(outcomes)
    assert 0.25 <= rate <= 0.75, f"match rate {rate:.2f} over {len(outcomes)} cases"
