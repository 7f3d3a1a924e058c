"""trailmatch against its peers and against parsing alone (issue 5, "Hardware speed").

Workload ("traffic"): synthetic CloudTrail traffic as EventBridge events (benches/workloads.py,
`cloudtrail_traffic`, seed 7): real sample records with fresh ids and times, 30 % of them
calling instead a real operation of 80 AWS services (botocore's service models), and 0.5 % of
them 8 KB to 256 KB large (log-uniform). TRAILMATCH_BENCH_EVENTS sets the number of events
(20,000 by default, ~38 MB); under `--benchmark-disable` (the smoke run) it is 300 and the
rule sets shrink, so the file runs in a few seconds.

Parsing baselines drop each parsed event (keeping them all alive costs 2-5x in garbage
collection). Every baseline is measured in the same run, and the summary gives each benchmark's ratio to
its baselines (events/s over events/s):

* parsing alone: `json.loads`, `orjson.loads`, and pysimdjson's lazy parsing reading exactly
  the fields the 1,000 rules reference (`Parser.parse`, then `at_pointer` for each, or faster,
  `get` down a tree of those fields);
* matchers, 100 rules that all of them support (exact, prefix, suffix, equals-ignore-case,
  anything-but, numeric, exists, boolean and null): a naive pure-Python matcher over
  `json.loads` dicts, moto's EventBridge matcher (`moto.events.models.EventPattern`, one call
  per rule and event) and PyPI's event-ruler (a Go port behind cgo, one call per rule and event);
  the slow peers run on a prefix of the events (2,000 for the naive matcher, 100 for the
  others; events/s is what is compared). event-ruler 0.3
  accepts only exact values, anything-but lists and exists (no prefix, suffix, numeric,
  equals-ignore-case, wildcard or cidr; null never matches), so it gets its own 100 rules of
  those kinds, compared with `match_many` on the same rules;
* cores: `match_many` with every thread of the process pinned to one CPU (rayon's pool is
  per process), against unpinned;
* interleaved (`test_match_many_interleaved`): `orjson.loads`, `match_many` and `match_many`
  on one core alternated round by round, so that each round's ratios see the same load from
  the rest of the machine (separate benchmarks of `orjson.loads` varied 1.5x between runs);
* filter patterns: a FilterSet of the 35 CIS / Security Hub metric filters
  (tests/data/filter-patterns/cis_patterns.json) over the same records (bare CloudTrail
  records, as CloudWatch Logs holds them), against `match_many` with 1,000 mixed rules.

Run with:

    python -m pytest benches/bench_peers.py --benchmark-enable --benchmark-min-rounds=5
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trailmatch
from conftest import one_core, record_interleaved, record_throughput
from samples import envelope
from trailmatch._core import FilterSet
from workloads import Pattern, cloudtrail_traffic, mixed_rules, service_calls, wildcard_rules

JSON = "traffic: json.loads"
ORJSON = "traffic: orjson.loads"
SIMDJSON_POINTER = "traffic: pysimdjson parse + at_pointer (fields of 1,000 rules)"
SIMDJSON = "traffic: pysimdjson parse + get() walk (fields of 1,000 rules)"
MIXED = "traffic: match_many, 1,000 mixed rules"
MIXED_1_CORE = "traffic: match_many, 1,000 mixed rules, 1 core"
PEERS = "100 rules: match_many"
NAIVE = "100 rules: naive pure Python (json.loads + dict walk)"
MOTO = "100 rules: moto EventPattern.matches_event"
BASIC = "100 basic rules: match_many"
EVENT_RULER = "100 basic rules: event-ruler (PyPI, Go) test_event_pattern"
CIS = Path(__file__).resolve().parent.parent / "tests" / "data" / "filter-patterns" / "cis_patterns.json"
SLOW_PEER_EVENTS = 100
NAIVE_EVENTS = 2_000


def need(module: str) -> Any:
    """Import a peer of the `bench` extra, or skip: missing, or no wheel for this platform."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.skip(f"{module} unavailable ({e}); pip install 'trailmatch[bench]'")


# --- workloads -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calls(smoke: bool) -> list[tuple[str, str]]:
    return service_calls(10 if smoke else 80, seed=0)


@pytest.fixture(scope="module")
def traffic_records(
    records: list[tuple[str, dict[str, Any]]], calls: list[tuple[str, str]], smoke: bool
) -> list[dict[str, Any]]:
    count = 300 if smoke else int(os.environ.get("TRAILMATCH_BENCH_EVENTS", "20000"))
    return cloudtrail_traffic(records, count, seed=7, calls=calls)


@pytest.fixture(scope="module")
def traffic(traffic_records: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(envelope(r)).encode() for r in traffic_records]


@pytest.fixture(scope="module")
def mixed(records: list[tuple[str, dict[str, Any]]], calls: list[tuple[str, str]]) -> dict[str, Pattern]:
    return mixed_rules(records, 1_000, seed=1, calls=calls)


def ruleset(patterns: dict[str, Pattern]) -> trailmatch.Ruleset:
    rules = trailmatch.Ruleset()
    for name, pattern in patterns.items():
        rules.add(name, pattern)
    return rules


def leaf_paths(pattern: Pattern, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The fields a pattern reads (inside `$or` too)."""
    out: set[tuple[str, ...]] = set()
    for key, value in pattern.items():
        if key == "$or":
            for alternative in value:
                out |= leaf_paths(alternative, prefix)
        elif isinstance(value, dict):
            out |= leaf_paths(value, (*prefix, key))
        else:
            out.add((*prefix, key))
    return out


# --- a naive pure-Python matcher ------------------------------------------------------

_MISSING = object()
_NAIVE_OPERATORS = frozenset({"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case"})
_EVENT_RULER_OPERATORS = frozenset({"anything-but", "exists"})  # event-ruler 0.3 rejects the others


def _filter_ok(f: Any, operators: frozenset[str]) -> bool:
    if not isinstance(f, dict):
        return f is not None or operators is _NAIVE_OPERATORS  # event-ruler 0.3 never matches null
    ((op, arg),) = f.items()
    return op in operators and not isinstance(arg, dict) and (op != "anything-but" or isinstance(arg, list))


def naive_supported(pattern: Pattern, operators: frozenset[str] = _NAIVE_OPERATORS) -> bool:
    """Whether `naive_compile` handles the pattern (no `$or`, wildcard, cidr, nested operators)."""
    for key, value in pattern.items():
        if key == "$or":
            return False
        if isinstance(value, dict):
            if not naive_supported(value, operators):
                return False
        elif not all(_filter_ok(f, operators) for f in value):
            return False
    return True


NaiveRule = list[tuple[tuple[str, ...], list[Any]]]


def naive_compile(pattern: Pattern) -> NaiveRule:
    return [(path, _get(pattern, path)) for path in sorted(leaf_paths(pattern))]


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
}


def _value_matches(v: Any, f: Any) -> bool:
    if not isinstance(f, dict):
        return v == f and isinstance(v, bool) == isinstance(f, bool)
    ((op, arg),) = f.items()
    if op == "prefix":
        return isinstance(v, str) and v.startswith(arg)
    if op == "suffix":
        return isinstance(v, str) and v.endswith(arg)
    if op == "equals-ignore-case":
        return isinstance(v, str) and v.lower() == arg.lower()
    if op == "anything-but":
        return v not in (arg if isinstance(arg, list) else [arg])
    if op == "numeric":
        return _is_number(v) and all(_COMPARE[o](v, x) for o, x in zip(arg[::2], arg[1::2], strict=True))
    raise ValueError(op)


def naive_match(rule: NaiveRule, event: dict[str, Any]) -> bool:
    for path, filters in rule:
        value = _get(event, path)
        present = value is not _MISSING and not isinstance(value, dict)
        values = value if isinstance(value, list) else [value]
        ok = False
        for f in filters:
            if isinstance(f, dict) and "exists" in f:
                ok = present == f["exists"]
            else:
                ok = present and any(_value_matches(v, f) for v in values)
            if ok:
                break
        if not ok:
            return False
    return True


@pytest.fixture(scope="module")
def peer_rules(records: list[tuple[str, dict[str, Any]]], calls: list[tuple[str, str]]) -> dict[str, Pattern]:
    """100 mixed rules every peer supports (the first of a larger mixed set that qualify)."""
    pool = mixed_rules(records, 2_000, seed=3, calls=calls)
    chosen = {name: p for name, p in pool.items() if naive_supported(p)}
    return dict(list(chosen.items())[:100])


@pytest.fixture(scope="module")
def basic_rules(records: list[tuple[str, dict[str, Any]]], calls: list[tuple[str, str]]) -> dict[str, Pattern]:
    """100 mixed rules using only what event-ruler 0.3 supports: exact, anything-but lists, exists."""
    pool = mixed_rules(records, 4_000, seed=5, calls=calls)
    chosen = {name: p for name, p in pool.items() if naive_supported(p, _EVENT_RULER_OPERATORS)}
    return dict(list(chosen.items())[:100])


# --- parsing baselines -------------------------------------------------------------------


def consume(parse: Callable[[bytes], Any], events: list[bytes]) -> None:
    """Parse every event and drop the result, as a streaming matcher would: keeping all the
    parsed events alive makes the baselines pay for the garbage collector's walks (2-5x here)."""
    for e in events:
        parse(e)


def test_json_loads(benchmark: Any, traffic: list[bytes]) -> None:
    benchmark(consume, json.loads, traffic)
    record_throughput(benchmark, JSON, traffic, baseline=JSON)


def test_orjson_loads(benchmark: Any, traffic: list[bytes]) -> None:
    orjson = need("orjson")
    benchmark(consume, orjson.loads, traffic)
    record_throughput(benchmark, ORJSON, traffic, baseline=ORJSON)


def test_simdjson_lazy(benchmark: Any, traffic: list[bytes], mixed: dict[str, Pattern]) -> None:
    simdjson = need("simdjson")
    pointers = sorted({"/" + "/".join(path) for p in mixed.values() for path in leaf_paths(p)})
    parser = simdjson.Parser()

    def extract(event: bytes) -> list[Any]:
        doc = parser.parse(event)
        out = []
        for pointer in pointers:
            try:
                out.append(doc.at_pointer(pointer))
            except (KeyError, IndexError, ValueError):
                out.append(None)
        return out

    benchmark(consume, extract, traffic)
    record_throughput(benchmark, SIMDJSON_POINTER, traffic, baseline=SIMDJSON_POINTER, pointers=len(pointers))


def test_simdjson_walk(benchmark: Any, traffic: list[bytes], mixed: dict[str, Pattern]) -> None:
    """The fastest lazy reading found: `get` down a tree of the referenced fields (no exceptions)."""
    simdjson = need("simdjson")
    tree: dict[str, Any] = {}
    for path in {path for p in mixed.values() for path in leaf_paths(p)}:
        node = tree
        for key in path:
            node = node.setdefault(key, {})
    parser = simdjson.Parser()
    obj = simdjson.Object

    def walk(node: Any, branch: dict[str, Any], out: list[Any]) -> None:
        for key, sub in branch.items():
            value = node.get(key)
            if sub and isinstance(value, obj):
                walk(value, sub, out)
            else:
                out.append(value)

    def extract(event: bytes) -> list[Any]:
        out: list[Any] = []
        walk(parser.parse(event), tree, out)
        return out

    benchmark(consume, extract, traffic)
    record_throughput(benchmark, SIMDJSON, traffic, baseline=SIMDJSON)


# --- trailmatch on the traffic --------------------------------------------------------


def test_match_many_mixed(benchmark: Any, traffic: list[bytes], mixed: dict[str, Pattern]) -> None:
    rules = ruleset(mixed)
    result = benchmark(rules.match_many, traffic)
    assert len(result) == len(traffic)
    record_throughput(
        benchmark,
        MIXED,
        traffic,
        baseline=(JSON, ORJSON, SIMDJSON, SIMDJSON_POINTER, MIXED_1_CORE),
        matches=sum(map(len, result)),
    )


def test_match_many_mixed_one_core(benchmark: Any, traffic: list[bytes], mixed: dict[str, Pattern]) -> None:
    rules = ruleset(mixed)
    rules.match_many(traffic[:10])  # rayon's pool exists before it is pinned
    with one_core():
        benchmark(rules.match_many, traffic)
    record_throughput(benchmark, MIXED_1_CORE, traffic, baseline=(JSON, ORJSON, SIMDJSON))


def test_match_many_interleaved(traffic: list[bytes], mixed: dict[str, Pattern], smoke: bool) -> None:
    """`match_many` (all cores and one) against `orjson.loads`, alternated round by round."""
    orjson = need("orjson")
    rules = ruleset(mixed)
    rules.match_many(traffic[:10])  # rayon's pool exists before it is pinned
    to_orjson, to_one_core, one_core_to_orjson = [], [], []
    for _ in range(1 if smoke else 9):
        # The previous round's results are gone before parsing: kept alive, they would make
        # every collection `orjson`'s dicts start walk 40,000 more lists.
        gc.collect()
        started = time.perf_counter()
        consume(orjson.loads, traffic)
        parse = time.perf_counter() - started
        started = time.perf_counter()
        both = rules.match_many(traffic)
        many = time.perf_counter() - started
        with one_core():
            started = time.perf_counter()
            alone = rules.match_many(traffic)
            single = time.perf_counter() - started
        assert both == alone
        del both, alone
        to_orjson.append(parse / many)
        to_one_core.append(single / many)
        one_core_to_orjson.append(parse / single)
    if not smoke:
        record_interleaved("match_many, 1,000 mixed rules / orjson.loads", to_orjson, target="≥ 4")
        record_interleaved("match_many, 1,000 mixed rules: all cores / 1 core", to_one_core, target="≥ 1.8")
        record_interleaved("match_many on 1 core / orjson.loads", one_core_to_orjson)


@pytest.mark.parametrize("kind", ["1 mixed rule", "100,000 mixed rules", "10,000 wildcard rules"])
def test_match_many_scaling(
    benchmark: Any,
    traffic: list[bytes],
    records: list[tuple[str, dict[str, Any]]],
    calls: list[tuple[str, str]],
    smoke: bool,
    kind: str,
) -> None:
    if kind.startswith("10,000 wildcard"):
        patterns = wildcard_rules(records, 500 if smoke else 10_000, seed=1)
    else:
        count = 1 if kind.startswith("1 ") else 2_000 if smoke else 100_000
        patterns = mixed_rules(records, count, seed=1, calls=calls)
    rules = ruleset(patterns)
    result = benchmark(rules.match_many, traffic)
    record_throughput(
        benchmark,
        f"traffic: match_many, {kind}",
        traffic,
        baseline=(JSON, ORJSON, MIXED),
        rules=len(patterns),
        matches=sum(map(len, result)),
    )


def test_filter_set_cis(benchmark: Any, traffic_records: list[dict[str, Any]], traffic: list[bytes]) -> None:
    filters = FilterSet()
    for item in json.loads(CIS.read_text()):
        filters.add(item["id"], item["filter_pattern"])
    messages = [json.dumps(r).encode() for r in traffic_records]
    result = benchmark(filters.match_many, messages)
    assert len(result) == len(messages)
    record_throughput(
        benchmark,
        f"traffic: FilterSet, {len(filters)} CIS filter patterns (bare records)",
        messages,
        baseline=(MIXED, JSON),
        matches=sum(map(len, result)),
    )


# --- peers with 100 rules ---------------------------------------------------------------


@pytest.mark.parametrize("which", ["peer", "basic"])
def test_peers_match_many(
    benchmark: Any, traffic: list[bytes], peer_rules: dict[str, Pattern], basic_rules: dict[str, Pattern], which: str
) -> None:
    patterns = peer_rules if which == "peer" else basic_rules
    rules = ruleset(patterns)
    result = benchmark(rules.match_many, traffic)
    record_throughput(
        benchmark,
        PEERS if which == "peer" else BASIC,
        traffic,
        baseline=(NAIVE, MOTO) if which == "peer" else (EVENT_RULER,),
        rules=len(patterns),
        matches=sum(map(len, result)),
    )


def _agreement(found: list[list[str]], expected: list[list[str]]) -> float:
    return sum(a == b for a, b in zip(found, expected, strict=True)) / max(len(found), 1)


def test_peers_naive(benchmark: Any, traffic: list[bytes], peer_rules: dict[str, Pattern]) -> None:
    compiled = [(name, naive_compile(p)) for name, p in peer_rules.items()]
    events = traffic[:NAIVE_EVENTS]

    def run() -> list[list[str]]:
        out = []
        for e in events:
            event = json.loads(e)
            out.append([name for name, rule in compiled if naive_match(rule, event)])
        return out

    result = benchmark(run)
    agree = _agreement(result, ruleset(peer_rules).match_many(events))
    record_throughput(benchmark, NAIVE, events, baseline=NAIVE, agreement=agree)


def test_peers_moto(benchmark: Any, traffic: list[bytes], peer_rules: dict[str, Pattern], smoke: bool) -> None:
    models = need("moto.events.models")
    patterns = [(name, models.EventPattern.load(json.dumps(p))) for name, p in peer_rules.items()]
    events = traffic[: 10 if smoke else SLOW_PEER_EVENTS]

    def run() -> list[list[str]]:
        out = []
        for e in events:
            event = json.loads(e)
            out.append([name for name, p in patterns if p.matches_event(event)])
        return out

    result = benchmark(run)
    agree = _agreement(result, ruleset(peer_rules).match_many(events))
    record_throughput(benchmark, MOTO, events, baseline=MOTO, agreement=agree)


def test_peers_event_ruler(benchmark: Any, traffic: list[bytes], basic_rules: dict[str, Pattern]) -> None:
    event_ruler = need("event_ruler")
    patterns = [(name, json.dumps(p)) for name, p in basic_rules.items()]
    events = traffic[:SLOW_PEER_EVENTS]

    def run() -> list[list[str]]:
        out = []
        for e in events:
            text = e.decode()
            out.append([name for name, p in patterns if event_ruler.test_event_pattern(text, p)])
        return out

    result = benchmark(run)
    agree = _agreement(result, ruleset(basic_rules).match_many(events))
    record_throughput(benchmark, EVENT_RULER, events, baseline=EVENT_RULER, agreement=agree)
