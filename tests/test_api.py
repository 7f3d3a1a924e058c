"""The public Python API: names, types and behaviour promised in DESIGN.md."""

from __future__ import annotations

import json
import pickle
import threading

import pytest

import trailmatch
from trailmatch import EventError, PatternError, Ruleset


def test_public_names() -> None:
    for name in ["test_event_pattern", "Ruleset", "PatternError", "EventError", "explain", "__version__"]:
        assert hasattr(trailmatch, name)
    assert issubclass(PatternError, ValueError)
    assert issubclass(EventError, ValueError)


def test_pattern_error_text_is_eventbridges() -> None:
    with pytest.raises(PatternError) as info:
        trailmatch.test_event_pattern('{"detail": {"eventName": "CreateUser"}}', "{}")
    e = info.value
    assert str(e) == 'Event pattern is not valid. Reason: "eventName" must be an object or an array'
    assert e.reason == '"eventName" must be an object or an array'
    assert e.path == "$.detail.eventName"
    assert e.offset == 25
    assert e.hint is not None


def test_errors_survive_pickling() -> None:
    e = PatternError("Empty arrays are not allowed", path="$.a", offset=5, hint=None)
    back = pickle.loads(pickle.dumps(e))
    assert (str(back), back.path, back.offset) == (str(e), "$.a", 5)
    ev = EventError("bad", offset=3, index=7)
    back_ev = pickle.loads(pickle.dumps(ev))
    assert (str(back_ev), back_ev.offset, back_ev.index) == ("event #7: bad", 3, 7)


@pytest.mark.parametrize("kind", ["str", "bytes", "dict"])
def test_inputs_of_every_type(kind: str) -> None:
    pattern = {"detail": {"userIdentity": {"type": ["Root"]}}}
    event = {"detail": {"userIdentity": {"type": "Root"}}}
    convert = {"str": json.dumps, "bytes": lambda v: json.dumps(v).encode(), "dict": lambda v: v}[kind]
    assert trailmatch.test_event_pattern(convert(pattern), convert(event))
    rules = Ruleset()
    rules.add("root", convert(pattern))
    assert rules.match(convert(event)) == ["root"]
    assert rules.match(bytearray(json.dumps(event).encode())) == ["root"]


def test_ruleset_add_replace_remove() -> None:
    rules = Ruleset()
    assert len(rules) == 0
    rules.add("a", {"x": ["1"]})
    rules.add("b", {"x": ["1", "2"]})
    assert len(rules) == 2
    assert "a" in rules
    assert "c" not in rules
    assert rules.match({"x": "1"}) == ["a", "b"]
    rules.add("a", {"x": ["3"]})  # replaces
    assert len(rules) == 2
    assert rules.match({"x": "1"}) == ["b"]
    assert rules.match({"x": "3"}) == ["a"]
    rules.remove("b")
    assert rules.match({"x": "1"}) == []
    with pytest.raises(KeyError):
        rules.remove("b")
    assert rules.names() == ["a"]


def test_failed_add_leaves_the_ruleset_unchanged() -> None:
    rules = Ruleset()
    rules.add("a", {"x": ["1"]})
    with pytest.raises(PatternError):
        rules.add("a", {"x": []})
    assert rules.match({"x": "1"}) == ["a"]


def test_results_are_in_insertion_order() -> None:
    rules = Ruleset()
    names = [f"rule-{i:03d}" for i in range(50)][::-1]
    for n in names:
        rules.add(n, {"source": ["aws.ec2"]})
    assert rules.match({"source": "aws.ec2"}) == names


def test_match_many_equals_match() -> None:
    rules = Ruleset()
    for i in range(30):
        rules.add(f"n{i}", {"n": [{"numeric": [">", i]}]})
    events = [{"n": i} for i in range(200)]
    assert rules.match_many(events) == [rules.match(e) for e in events]
    assert rules.match_many(iter(json.dumps(e).encode() for e in events)) == [rules.match(e) for e in events]
    assert rules.match_many([]) == []


def test_match_many_names_the_bad_event() -> None:
    rules = Ruleset()
    rules.add("r", {"a": ["x"]})
    events = [b'{"a": "x"}'] * 100 + [b'{"a": '] + [b'{"a": "x"}']
    with pytest.raises(EventError) as info:
        rules.match_many(events)
    assert info.value.index == 100
    assert info.value.offset == 6
    assert str(info.value).startswith("event #100: ")


@pytest.mark.parametrize("size", [1, 31, 32, 33, 64, 65, 1000, 5003])
def test_match_many_keeps_order_across_chunks(size: int) -> None:
    # Batches are matched in chunks of 32 by the pool and this thread, handed over in order.
    rules = Ruleset()
    for i in range(40):
        rules.add(f"n{i}", {"n": [{"numeric": [">=", i]}]})
    events = [json.dumps({"n": i % 50}).encode() for i in range(size)]
    assert rules.match_many(events) == [rules.match(e) for e in events]


@pytest.mark.parametrize("bad", [0, 31, 32, 999, 4999])
def test_match_many_names_the_bad_event_in_any_chunk_and_stays_usable(bad: int) -> None:
    rules = Ruleset()
    rules.add("r", {"a": ["x"]})
    events = [b'{"a": "x"}'] * 5000
    events[bad] = b'{"a": x}'
    with pytest.raises(EventError) as info:
        rules.match_many(events)
    assert info.value.index == bad
    # The workers stopped; the next batch is matched in full.
    assert rules.match_many(events[:bad] + events[bad + 1 :]) == [["r"]] * 4999


def test_match_many_from_several_threads_at_once() -> None:
    rules = Ruleset()
    for i in range(20):
        rules.add(f"k{i}", {"k": [{"prefix": f"{i}-"}]})
    batches = [[json.dumps({"k": f"{(t + i) % 25}-v"}).encode() for i in range(2000)] for t in range(4)]
    expected = [[rules.match(e) for e in batch] for batch in batches]
    results: dict[int, list[list[str]]] = {}

    def run(t: int) -> None:
        for _ in range(3):
            results[t] = rules.match_many(batches[t])

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[t] for t in range(4)] == expected


def test_match_many_releases_the_gil() -> None:
    rules = Ruleset()
    for i in range(200):
        rules.add(f"w{i}", {"k": [{"wildcard": f"*{i}*x*"}]})
    events = [json.dumps({"k": f"{i}-abc-{i}-x"}).encode() for i in range(3000)]
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        for _ in range(3):
            rules.match_many(events)
    finally:
        done.set()
        t.join()
    # A thread that holds the GIL for the whole batch would leave the counter near zero.
    assert ticks > 1000


def test_lazy_validation_reads_only_what_rules_need() -> None:
    event = b'{"source": "aws.iam", "detail": {"x": tru}}'
    full = Ruleset()
    full.add("r", {"source": ["aws.iam"]})
    with pytest.raises(EventError):
        full.match(event)
    lazy = Ruleset(validation="lazy")
    lazy.add("r", {"source": ["aws.iam"]})
    assert lazy.match(event) == ["r"]
    with pytest.raises(EventError):
        lazy.match(b'{"source": tru}')
    with pytest.raises(ValueError, match="validation"):
        Ruleset(validation="none")  # type: ignore[arg-type]


def test_limits_are_configurable() -> None:
    long = {"a": ["x" * 3000]}
    with pytest.raises(PatternError, match="limit is 2048"):
        Ruleset().add("long", long)
    Ruleset(max_pattern_length=4096).add("long", long)
    complex_pattern = {"a": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}
    with pytest.raises(PatternError, match="Rule is too complex"):
        Ruleset().add("c", complex_pattern)
    Ruleset(max_wildcard_complexity=11).add("c", complex_pattern)


def test_bad_argument_types() -> None:
    rules = Ruleset()
    with pytest.raises(TypeError):
        rules.add("x", 5)  # type: ignore[arg-type]
    rules.add("x", {"a": ["1"]})
    with pytest.raises(TypeError):
        rules.match(5)  # type: ignore[arg-type]
    with pytest.raises(EventError):
        rules.match({"a": float("nan")})
    with pytest.raises(EventError):
        rules.match({"a": object()})


def test_warnings_for_trailing_text() -> None:
    rules = Ruleset()
    rules.add("t", '{"a": ["x"]} }')
    assert rules.match({"a": "x"}) == ["t"]
    assert "ignored" in rules.warnings("t")[0]


def test_explain_reports_fields() -> None:
    e = trailmatch.explain(
        {"detail": {"eventName": ["CreateUser"], "userIdentity": {"type": ["Root"]}}},
        {"detail": {"eventName": "CreateUser", "userIdentity": {"type": "IAMUser"}}},
    )
    assert not e.matched
    fields = e.branches[0]["fields"]
    assert [f["satisfied"] for f in fields] == [True, False]
    assert fields[1]["values"] == ['"IAMUser"']
    assert "FAIL detail.userIdentity.type" in str(e)


def test_explain_array_consistency() -> None:
    e = trailmatch.explain(
        {"e": {"f": ["Anna"], "l": ["Jones"]}},
        {"e": [{"f": "John", "l": "Doe"}, {"f": "Anna", "l": "Smith"}, {"f": "Peter", "l": "Jones"}]},
    )
    assert not e.matched
    assert e.branches[0]["array_conflict"]
    assert "different elements of the same array" in str(e)


# --- the garbage collector around batch results ----------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_batch_calls_leave_the_garbage_collectors_state_as_they_found_it(enabled: bool) -> None:
    """Batch results are built with the cyclic collector paused (collections triggered by the
    result objects walked the caller's whole heap); its state is restored after the call, also
    when the call fails."""
    import gc

    from trailmatch._core import FilterSet, Replay

    rules = Ruleset()
    rules.add("r", {"source": ["aws.s3"]})
    filters = FilterSet()
    filters.add("f", '{ $.eventName = "GetObject" }')
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", '{"source": ["aws.s3"]}')
    record = {
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "eventType": "AwsApiCall",
        "readOnly": False,
        "managementEvent": True,
    }
    events = [json.dumps({"source": "aws.s3", "n": i}).encode() for i in range(200)]
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert len(rules.match_many(events)) == 200
        assert gc.isenabled() is enabled
        assert sum(map(len, filters.match_many([json.dumps(record)] * 200))) == 200
        assert gc.isenabled() is enabled
        assert len(replay.process(json.dumps({"Records": [record] * 200}).encode())["matches"]) == 200
        assert gc.isenabled() is enabled
        with pytest.raises(EventError):
            rules.match_many([*events, b"{not json"])
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
