"""CloudWatch Logs filter patterns: the Python API, the CLI, limits, hostile input, and a
differential test of the engine against the reference evaluator on real CloudTrail records."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

import filter_reference
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailmatch
from samples import cloudtrail_records
from trailmatch._core import FilterSet
from trailmatch.cli import main
from trailmatch.filters import compile_filter_pattern

CIS = json.loads((Path(__file__).parent / "data" / "filter-patterns" / "cis_patterns.json").read_text(encoding="utf-8"))
RECORDS = cloudtrail_records()

# --- test_metric_filter --------------------------------------------------------------------


def test_response_shape_and_one_based_event_numbers() -> None:
    result = trailmatch.test_metric_filter("?ERROR ?WARN", ["INFO a", "WARN b", "ERROR c"])
    assert result == {
        "matches": [
            {"eventNumber": 2, "eventMessage": "WARN b", "extractedValues": {}},
            {"eventNumber": 3, "eventMessage": "ERROR c", "extractedValues": {}},
        ]
    }
    assert trailmatch.test_metric_filter("x", ["y"]) == {"matches": []}


def test_extracted_values_of_delimited_patterns() -> None:
    line = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    result = trailmatch.test_metric_filter("[..., request=*.html*, status_code=4*,]", [line])
    assert result["matches"][0]["extractedValues"] == {
        "$1": "127.0.0.1",
        "$2": "-",
        "$3": "frank",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$7": "1534",
    }


@pytest.mark.parametrize(
    ("messages", "needle"),
    [([], "1 to 50"), (["x"] * 51, "found 51"), (["ok", ""], "message 2 is empty")],
)
def test_message_limits(messages: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        trailmatch.test_metric_filter("x", messages)


def test_exactly_fifty_messages_are_fine() -> None:
    assert len(trailmatch.test_metric_filter("x", ["x"] * 50)["matches"]) == 50


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        trailmatch.test_metric_filter("x", "x")
    with pytest.raises(TypeError):
        trailmatch.test_metric_filter(b"x", ["x"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        trailmatch.test_metric_filter("x", [b"x"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        compile_filter_pattern(None)  # type: ignore[arg-type]


def test_pattern_errors_are_value_errors_with_position_and_hint() -> None:
    with pytest.raises(trailmatch.FilterPatternError) as info:
        compile_filter_pattern("{ $.userIdentity.type = Root && $.x is null }")
    e = info.value
    assert isinstance(e, ValueError)
    assert e.position == 36
    assert e.message == "'is' must be written in upper case"
    assert e.hint is not None
    assert "IS NULL" in e.hint
    assert str(e) == "Invalid filter pattern: 'is' must be written in upper case at character 36"
    copy = pickle.loads(pickle.dumps(e))
    assert (copy.message, copy.position, copy.hint) == (e.message, e.position, e.hint)


def test_positions_count_characters_not_bytes() -> None:
    with pytest.raises(trailmatch.FilterPatternError) as info:
        compile_filter_pattern('"日本語" [x]')
    assert info.value.position == 6


def test_compile_filter_pattern_accepts_every_published_pattern() -> None:
    for item in CIS:
        assert compile_filter_pattern(item["filter_pattern"]) is None


def test_length_limit_is_in_characters() -> None:
    compile_filter_pattern("é" * 1024)
    with pytest.raises(trailmatch.FilterPatternError, match="longer than 1024"):
        compile_filter_pattern("é" * 1025)


# --- FilterSet -----------------------------------------------------------------------------------


def test_filter_set_api() -> None:
    filters = FilterSet()
    filters.add("a", "{ $.a = 1 }", values=["$.a", "$.b"])
    filters.add("t", "ERROR")
    filters.add("d", "[x, y = 2]", values=["$y", "$1", "$5"])
    assert len(filters) == 3
    assert "a" in filters
    assert "zz" not in filters
    assert filters.names() == ["a", "t", "d"]
    assert [filters.kind(n) for n in filters.names()] == ["json", "terms", "delimited"]
    assert filters.match('{"a": 1, "b": [1]}') == [("a", {}, ["1", None])]
    assert filters.match(b"ERROR 2") == [("t", {}, []), ("d", {"$x": "ERROR", "$y": "2"}, ["2", "ERROR", None])]
    assert filters.match(bytearray(b"nothing")) == []
    # Re-adding a name replaces the filter (and keeps its place among the names).
    filters.add("t", "WARN")
    assert filters.match("ERROR") == []
    assert [m[0] for m in filters.match("WARN")] == ["t"]
    filters.remove("t")
    assert "t" not in filters
    assert len(filters) == 2
    with pytest.raises(KeyError):
        filters.remove("t")
    with pytest.raises(KeyError):
        filters.kind("t")
    with pytest.raises(TypeError):
        filters.match(1)  # type: ignore[arg-type]
    assert repr(filters) == "<trailmatch.FilterSet with 2 filters>"


def test_failed_add_leaves_the_set_unchanged() -> None:
    filters = FilterSet()
    filters.add("a", "ERROR")
    with pytest.raises(trailmatch.FilterPatternError):
        filters.add("a", "{ broken")
    with pytest.raises(trailmatch.FilterPatternError, match="value selector 1"):
        filters.add("a", "[x]", values=["$nope"])
    assert [m[0] for m in filters.match("ERROR")] == ["a"]


def test_regex_count_and_strict_mode() -> None:
    filters = FilterSet()
    filters.add("r", "{ $.a = %x% || $.b = %y% }")
    assert filters.regex_count("r") == 2
    with pytest.raises(trailmatch.FilterPatternError, match="more than 2"):
        filters.add("r3", "%a% %b% %c%")
    strict = FilterSet(strict=True)
    with pytest.raises(trailmatch.FilterPatternError) as info:
        strict.add("s", "user-agent")
    assert info.value.position == 4
    assert info.value.hint is not None
    strict.add("s", '"user-agent"')


def test_match_many_agrees_with_match_and_releases_nothing_odd() -> None:
    filters = FilterSet()
    for item in CIS:
        filters.add(item["id"], item["filter_pattern"])
    messages = [json.dumps(r) for _, r in RECORDS[:600]]
    batch = filters.match_many(messages)
    assert batch == [filters.match(m) for m in messages]
    assert sum(1 for got in batch if got) > 100


def test_lone_surrogates_in_messages_do_not_raise() -> None:
    filters = FilterSet()
    filters.add("t", "a")
    assert [m[0] for m in filters.match("a\ud800")] == ["t"]


# --- CLI -------------------------------------------------------------------------------------


def test_cli_prints_the_aws_cli_response(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["test-metric-filter", "--filter-pattern", "[w1=ERROR, w2]", "--log-event-messages", "ERROR x", "y"])
    assert status == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "matches": [{"eventNumber": 1, "eventMessage": "ERROR x", "extractedValues": {"$w1": "ERROR", "$w2": "x"}}]
    }
    assert out.startswith('{\n    "matches": [\n        {')


def test_cli_reads_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = tmp_path / "p.txt"
    pattern.write_text('{ $.eventName = "CreateBucket" }', encoding="utf-8")
    message = tmp_path / "m.json"
    message.write_text('{"eventName": "CreateBucket", "note": "東京"}', encoding="utf-8")
    status = main(
        [
            "test-metric-filter",
            "--filter-pattern",
            f"file://{pattern}",
            "--log-event-messages",
            f"file://{message}",
            "x",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "東京" in out
    assert json.loads(out)["matches"][0]["eventNumber"] == 1


def test_cli_invalid_pattern_shows_a_caret_and_the_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["test-metric-filter", "--filter-pattern", "{ $.a IS NOT NULL }", "--log-event-messages", "{}"])
    assert status == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "An error occurred (InvalidParameterException) when calling the TestMetricFilter operation: "
        "Invalid filter pattern: IS NOT is not supported at character 6"
    )
    assert err[1] == "    { $.a IS NOT NULL }"
    assert err[2] == "          ^"
    assert err[3].startswith("  hint: there is no IS NOT")


def test_cli_error_in_a_pattern_file_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = tmp_path / "p.txt"
    pattern.write_text("{\n  $.a = 1 &&\n  $.b > x\n}\n", encoding="utf-8")
    status = main(["test-metric-filter", "--filter-pattern", f"file://{pattern}", "--log-event-messages", "{}"])
    assert status == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1] == f"  in {pattern} (line 3, column 9)"
    assert err[2] == "      $.b > x"
    assert err[3] == "            ^"


def test_cli_long_lines_show_a_window(capsys: pytest.CaptureFixture[str]) -> None:
    pattern = "{ " + " || ".join(f"$.eventName = E{i}" for i in range(40)) + " || $.x ==1 }"
    assert main(["test-metric-filter", "--filter-pattern", pattern, "--log-event-messages", "{}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith("    ...")
    assert "$.x ==1" in err[1]
    assert err[2].index("^") == err[1].index("==")


def test_cli_limits_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test-metric-filter", "--filter-pattern", "x", "--log-event-messages", ""]) == 2
    assert "at least 1 character" in capsys.readouterr().err
    assert main(["test-metric-filter", "--filter-pattern", "x", "--log-event-messages", *["m"] * 51]) == 2
    assert "1 to 50" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["test-metric-filter", "--filter-pattern", "x"])
    assert info.value.code == 2


# --- hostile input ------------------------------------------------------------------------------

PATTERN_ALPHABET = st.sampled_from(list('{}[]()$.=!<>&|%"\\*?- ,:09azAZ_ISNOTEXULRF\t\né日'))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=st.text(PATTERN_ALPHABET, max_size=60), message=st.text(max_size=80))
def test_random_patterns_and_messages_never_crash(pattern: str, message: str) -> None:
    try:
        result = trailmatch.test_metric_filter(pattern, [message or "x"])
    except trailmatch.FilterPatternError as e:
        position = e.position
    else:
        assert isinstance(result["matches"], list)
        return
    assert 0 <= position <= len(pattern)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(["a", "b", "c"]), JSONISH, max_size=3))
def test_generated_documents_agree_with_the_reference(doc: dict[str, Any]) -> None:
    patterns = [
        "{ $.a = * }",
        "{ $.a != 1 }",
        "{ $.a.b IS NULL || $.c NOT EXISTS }",
        "{ $.a[0] > 0 && $.b[1].c != x }",
        "{ $.a[0][1] IS TRUE || $.b.a = *a* }",
        '{ $.c = "" || $.b < -1.5 }',
        "{ $.a.a.a IS FALSE || ($.b.b = 0 && $.c.c NOT EXISTS) }",
    ]
    message = json.dumps(doc)
    filters = FilterSet()
    for i, p in enumerate(patterns):
        filters.add(str(i), p)
    got = {m[0] for m in filters.match(message)}
    expected = {str(i) for i, p in enumerate(patterns) if filter_reference.matches(p, message)}
    assert got == expected, message


def test_deep_and_huge_messages() -> None:
    filters = FilterSet()
    filters.add("j", "{ $.a.a.a = 1 }")
    filters.add("d", "[a, ...]")
    filters.add("r", "%a|b%")
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert [m[0] for m in filters.match(deep)] == ["d", "r"]
    wide = '{"a": [' + ",".join(["1"] * 200_000) + "]}"
    assert [m[0] for m in filters.match(wide)] == ["d", "r"]


# --- differential: engine vs reference on real CloudTrail records ----------------------------------


def test_cis_patterns_agree_with_the_reference_on_every_record() -> None:
    filters = FilterSet()
    for item in CIS:
        filters.add(item["id"], item["filter_pattern"])
    messages = [json.dumps(r) for _, r in RECORDS]
    for (origin, _), message, got in zip(RECORDS, messages, filters.match_many(messages), strict=True):
        expected = [item["id"] for item in CIS if filter_reference.matches(item["filter_pattern"], message)]
        assert [m[0] for m in got] == expected, origin


_BARE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/")


def _selectors(value: Any, steps: str = "") -> list[tuple[str, Any]]:
    """(selector, value) for every node reachable with AWS selector syntax."""
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k):
                out.append((f"{steps}.{k}", v))
                out.extend(_selectors(v, f"{steps}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            if steps:
                out.append((f"{steps}[{i}]", v))
                out.extend(_selectors(v, f"{steps}[{i}]"))
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _condition(rng: random.Random, selector: str, value: Any) -> str:
    sel = "$" + selector
    if isinstance(value, bool):
        return rng.choice([f"{sel} IS TRUE", f"{sel} IS FALSE", f"{sel} = *", f"{sel} != *", f"{sel} = true"])
    if value is None:
        return rng.choice([f"{sel} IS NULL", f"{sel} NOT EXISTS", f"{sel} = *"])
    if isinstance(value, (dict, list)):
        return rng.choice([f"{sel} NOT EXISTS", f"{sel} = *", f'{sel} != "x"', f"{sel} IS NULL"])
    if isinstance(value, (int, float)):
        n = value
        return rng.choice(
            [f"{sel} = {n}", f"{sel} != {n}", f"{sel} > {n - 1}", f"{sel} <= {n}", f"{sel} < {n}", f'{sel} = "{n}"']
        )
    text = str(value)
    if "*" in text or len(text) > 60 or not text.isprintable():
        return f"{sel} = *"
    k = rng.randint(0, len(text))
    options = [
        f"{sel} = {_quote(text)}",
        f"{sel} != {_quote(text)}",
        f"{sel} = {_quote(text[:k] + '*')}",
        f"{sel} = {_quote('*' + text[k:])}",
        f"{sel} != {_quote(text[:k] + '*')}",
        f"{sel} = {_quote(text.upper())}",
        f"{sel}.nope NOT EXISTS",
        f"{sel} NOT EXISTS",
    ]
    if text and set(text) <= _BARE and filter_reference._number(text) is None and not text.startswith("-"):
        options.append(f"{sel} = {text}")
    if text[:4].isascii() and text[:4].isalnum():
        options.append(f"{sel} = %^{text[:4]}%")
    if filter_reference._number(text) is not None:
        options.append(f"{sel} = {text}")
        options.append(f"{sel} >= {text}")
    return rng.choice(options)


def _generated_patterns(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    patterns: list[str] = []
    while len(patterns) < count:
        _, record = rng.choice(RECORDS)
        candidates = _selectors(record)
        if not candidates:
            continue
        conds = [_condition(rng, *rng.choice(candidates)) for _ in range(rng.randint(1, 3))]
        if len(conds) == 1:
            body = conds[0]
        elif len(conds) == 2:
            body = f"({conds[0]}) {rng.choice(['&&', '||'])} ({conds[1]})"
        else:
            a, b = rng.sample(["&&", "||"], 2)
            body = (
                f"{conds[0]} {a} ({conds[1]} {b} {conds[2]})"
                if rng.random() < 0.5
                else f"{conds[0]} {a} {conds[1]} {b} {conds[2]}"
            )
        pattern = "{ " + body + " }"
        if len(pattern) <= 1024 and pattern.count("%") <= 4:
            patterns.append(pattern)
    return patterns


def test_generated_patterns_agree_with_the_reference_on_real_records() -> None:
    patterns = _generated_patterns(400, seed=7)
    filters = FilterSet()
    for i, p in enumerate(patterns):
        filters.add(f"g{i}", p)
    rng = random.Random(11)
    sample = rng.sample(RECORDS, 500)
    messages = [json.dumps(r) for _, r in sample]
    matched = 0
    for (origin, _), message, got in zip(sample, messages, filters.match_many(messages), strict=True):
        expected = [f"g{i}" for i, p in enumerate(patterns) if filter_reference.matches(p, message)]
        assert [m[0] for m in got] == expected, origin
        matched += len(expected)
    assert matched > 200, "the generated patterns should match something"
