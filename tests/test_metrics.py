"""Metric filters publishing metrics (reference §7): samples, per-minute datapoints, statistics
over periods, diagnostics, export and persistence."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from trailmatch.metrics import (
    CSV_COLUMNS,
    DIAGNOSTIC_KINDS,
    Diagnostic,
    LogEventResult,
    MetricKey,
    MetricStore,
    Statistics,
    event_time,
    selectors_of,
)
from trailmatch.model import MetricFilter, MetricTransformation
from trailmatch.state import StateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "111122223333"


def make_filter(name: str = "f", **transformation: object) -> MetricFilter:
    fields: dict[str, object] = {"metric_name": "Count", "metric_namespace": "App"}
    fields.update(transformation)
    return MetricFilter(
        name=name,
        log_group="trail",
        region="us-east-1",
        account=ACCOUNT,
        filter_pattern="{ $.x = 1 }",
        transformation=MetricTransformation(**fields),  # type: ignore[arg-type]
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def key(name: str = "Count", dimensions: dict[str, str] | None = None) -> MetricKey:
    return MetricKey.of(ACCOUNT, "us-east-1", "App", name, dimensions)


def minutes(store: MetricStore, k: MetricKey | None = None) -> list[tuple[str, int, float, float, float]]:
    return [(d.timestamp.strftime("%H:%M"), d.sample_count, d.sum, d.minimum, d.maximum) for d in store.datapoints(k)]


# --- samples ------------------------------------------------------------------------------------


def test_literal_metric_value_for_matching_events_only() -> None:
    f = make_filter()
    store = MetricStore()
    assert store.add(LogEventResult(at(5), f, True)) is not None
    assert store.add(LogEventResult(at(6), f, False)) is None
    assert minutes(store) == [("12:00", 1, 1.0, 1.0, 1.0)]
    assert store.results == 2
    assert store.diagnostics == {}


def test_default_value_for_non_matching_events() -> None:
    f = make_filter(metric_value="5", default_value=0.0)
    store = MetricStore()
    for second, matched in [(1, False), (2, True), (3, False), (70, False)]:
        store.add(LogEventResult(at(second), f, matched))
    # SampleCount counts the default-value samples too
    assert minutes(store) == [("12:00", 3, 5.0, 0.0, 5.0), ("12:01", 1, 0.0, 0.0, 0.0)]


def test_minutes_without_events_have_no_datapoint() -> None:
    f = make_filter(default_value=0.0)
    store = MetricStore()
    store.add(LogEventResult(at(0), f, False))
    store.add(LogEventResult(at(600), f, True))
    assert [m[0] for m in minutes(store)] == ["12:00", "12:10"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("42", 42.0), ("-1.5", -1.5), (" 7 ", 7.0), ("1e3", 1000.0), ("0.25", 0.25), (".5", 0.5)],
)
def test_extracted_numbers(text: str, expected: float) -> None:
    f = make_filter(metric_value="$.bytes")
    store = MetricStore()
    sample = store.add(LogEventResult(at(0), f, True, {"$.bytes": text}))
    assert sample is not None
    assert sample.value == expected


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"$.bytes": "many"}, "non_numeric_value"),
        ({"$.bytes": "NaN"}, "non_numeric_value"),
        ({"$.bytes": "inf"}, "non_numeric_value"),
        ({"$.bytes": ""}, "non_numeric_value"),
        ({"$.bytes": None}, "missing_value"),
        ({}, "missing_value"),
    ],
)
def test_non_numeric_or_missing_values_emit_nothing_and_count(values: dict[str, str | None], kind: str) -> None:
    f = make_filter(metric_value="$.bytes")
    store = MetricStore()
    assert store.add(LogEventResult(at(0), f, True, values)) is None
    assert store.diagnostics == {Diagnostic(f.key, kind): 1}
    assert list(store.datapoints()) == []
    assert kind in DIAGNOSTIC_KINDS


def test_delimited_field_selectors() -> None:
    f = make_filter(metric_value="$size", dimensions={"Status": "$status_code"})
    assert selectors_of(f) == ("$size", "$status_code")
    store = MetricStore()
    store.add(LogEventResult(at(0), f, True, {"$size": "1534", "$status_code": "404"}))
    store.add(LogEventResult(at(1), f, True, {"$size": "100", "$status_code": "200"}))
    assert [(d.key.dimensions, d.sum) for d in store.datapoints()] == [
        ((("Status", "200"),), 100.0),
        ((("Status", "404"),), 1534.0),
    ]


def test_dimensions() -> None:
    f = make_filter(dimensions={"User": "$.userIdentity.userName", "Type": "$.userIdentity.type"})
    assert selectors_of(f) == ("$.userIdentity.userName", "$.userIdentity.type")
    store = MetricStore()
    alice = {"$.userIdentity.userName": "alice", "$.userIdentity.type": "IAMUser"}
    store.add(LogEventResult(at(0), f, True, alice))
    store.add(LogEventResult(at(10), f, True, alice))
    store.add(LogEventResult(at(20), f, True, {"$.userIdentity.userName": "bob", "$.userIdentity.type": "IAMUser"}))
    store.add(LogEventResult(at(30), f, True, {"$.userIdentity.type": "Root"}))  # no userName
    store.add(LogEventResult(at(40), f, True, {**alice, "$.userIdentity.userName": ""}))
    assert {str(k.dimension_dict()): d for k, d in ((p.key, p.sum) for p in store.datapoints())} == {
        "{'Type': 'IAMUser', 'User': 'alice'}": 2.0,
        "{'Type': 'IAMUser', 'User': 'bob'}": 1.0,
    }
    assert store.diagnostics == {Diagnostic(f.key, "missing_dimension"): 1, Diagnostic(f.key, "invalid_dimension"): 1}
    # a metric with dimensions is another metric than the one without
    assert store.window(key(), 0, 2**40) is None


def test_system_field_dimensions() -> None:
    f = make_filter(dimensions={"Account": "@aws.account", "Region": "@aws.region"})
    assert selectors_of(f) == ()
    store = MetricStore()
    store.add(LogEventResult(at(0), f, True))
    (point,) = store.datapoints()
    assert point.key.dimension_dict() == {"Account": ACCOUNT, "Region": "us-east-1"}


def test_default_value_with_dimensions_is_refused_defensively() -> None:
    f = make_filter(default_value=0.0, dimensions={"User": "$.user"})
    store = MetricStore()
    assert store.add(LogEventResult(at(0), f, False)) is None
    assert store.add(LogEventResult(at(1), f, True, {"$.user": "a"})) is not None
    assert store.diagnostics == {Diagnostic(f.key, "default_with_dimensions"): 1}


def test_invalid_metric_value_literal() -> None:
    f = make_filter(metric_value="one")
    store = MetricStore()
    assert store.add(LogEventResult(at(0), f, True)) is None
    assert store.diagnostics == {Diagnostic(f.key, "invalid_metric_value"): 1}


def test_filters_are_not_retroactive() -> None:
    f = make_filter()
    store = MetricStore(start=at(60))
    store.add(LogEventResult(at(10), f, True))
    store.add(LogEventResult(at(70), f, True))
    assert minutes(store) == [("12:01", 1, 1.0, 1.0, 1.0)]
    assert store.diagnostics == {Diagnostic(f.key, "before_start"): 1}


def test_units_accounts_and_regions_are_separate() -> None:
    store = MetricStore()
    store.put(key(), at(0), 1.0, unit="Count")
    store.put(key(), at(1), 2.0, unit="Seconds")
    store.put(MetricKey.of("999", "us-east-1", "App", "Count"), at(2), 4.0)
    store.put(MetricKey.of(ACCOUNT, "eu-west-1", "App", "Count"), at(3), 8.0)
    assert store.units(key()) == ["Count", "Seconds"]
    assert store.window(key(), 0, 2**40, unit="Count") == Statistics(1, 1.0, 1.0, 1.0)
    assert store.window(key(), 0, 2**40) == Statistics(2, 3.0, 1.0, 2.0)
    assert len(store.keys()) == 3


def test_the_replay_clock_sees_every_event() -> None:
    f = make_filter()
    store = MetricStore()
    store.add(LogEventResult(at(100), f, False))
    store.add(LogEventResult(at(5), f, False))
    assert (store.first_event, store.last_event) == (at(5), at(100))
    assert list(store.datapoints()) == []


def test_naive_times_are_utc() -> None:
    store = MetricStore()
    store.put(key(), datetime(2024, 3, 1, 12, 0, 30), 1.0)
    (point,) = store.datapoints()
    assert point.timestamp == T0
    assert event_time("2024-03-01T21:00:30+09:00") == at(30)


def test_put_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        MetricStore().put(key(), T0, float("nan"))


# --- statistics ---------------------------------------------------------------------------------


def test_statistics_over_periods() -> None:
    store = MetricStore()
    for second, value in [(0, 1.0), (50, 3.0), (130, 10.0), (650, 2.0)]:
        store.put(key(), at(second), value)
    five = store.statistics(key(), start=T0, end=at(900), period=300)
    assert [(p.timestamp.strftime("%H:%M"), p.sample_count, p.sum, p.average, p.period) for p in five] == [
        ("12:00", 3, 14.0, 14.0 / 3, 300),
        ("12:10", 1, 2.0, 2.0, 300),
    ]
    per_minute = store.statistics(key(), start=T0, end=at(900), period=60)
    assert [p.timestamp.minute for p in per_minute] == [0, 2, 10]


def test_sub_minute_periods_see_one_datapoint_per_minute() -> None:
    store = MetricStore()
    store.put(key(), at(5), 1.0)
    store.put(key(), at(45), 2.0)
    store.put(key(), at(61), 4.0)
    points = store.statistics(key(), start=T0, end=at(120), period=10)
    assert [(int((p.timestamp - T0).total_seconds()), p.sum) for p in points] == [(0, 3.0), (60, 4.0)]


def test_sums_are_exact() -> None:
    store = MetricStore()
    store.put(key(), at(0), 1e20)
    store.put(key(), at(60), 1.0)
    store.put(key(), at(120), -1e20)
    assert store.window(key(), 0, 2**40) == Statistics(3, 1.0, -1e20, 1e20)
    assert store.window(key(), int(at(60).timestamp()), int(at(120).timestamp())) == Statistics(1, 1.0, 1.0, 1.0)


def test_datapoints_in_time_order() -> None:
    store = MetricStore()
    store.put(key("B"), at(120), 1.0)
    store.put(key("A"), at(120), 1.0)
    store.put(key("C"), at(0), 1.0)
    assert [(p.timestamp.minute, p.key.name) for p in store.datapoints()] == [(0, "C"), (2, "A"), (2, "B")]


# --- export -------------------------------------------------------------------------------------


def test_json_lines_and_csv_exports() -> None:
    store = MetricStore()
    store.put(key("Bytes", {"User": "alice"}), at(0), 10.0, unit="Bytes")
    store.put(key("Bytes", {"User": "alice"}), at(30), 30.0, unit="Bytes")
    store.put(key(), at(61), 1.0)
    out = io.StringIO()
    assert store.write_jsonl(out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0] == {
        "timestamp": "2024-03-01T12:00:00Z",
        "account": ACCOUNT,
        "region": "us-east-1",
        "namespace": "App",
        "metric_name": "Bytes",
        "dimensions": {"User": "alice"},
        "unit": "Bytes",
        "period": 60,
        "sample_count": 2,
        "sum": 40.0,
        "minimum": 10.0,
        "maximum": 30.0,
        "average": 20.0,
    }
    text = io.StringIO()
    assert store.write_csv(text) == 2
    table = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert tuple(table[0]) == CSV_COLUMNS
    assert table[0]["dimensions"] == '{"User": "alice"}'
    assert (table[1]["metric_name"], table[1]["dimensions"], table[1]["sum"]) == ("Count", "{}", "1.0")


# --- persistence --------------------------------------------------------------------------------


def test_save_and_load(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = MetricStore()
    store.put(key("Bytes", {"User": "alice"}), at(0), 10.0, unit="Bytes")
    store.put(key(), at(86_400 + 5), 1.0)  # the next day
    with StateStore(path) as state:
        assert store.save(state) == 2
        assert store.save(state) == 0  # nothing changed since
    with StateStore(path) as state:
        loaded = MetricStore.load(state)
    assert list(loaded.datapoints()) == list(store.datapoints())
    assert (loaded.first_event, loaded.last_event, loaded.watermark) == (at(0), at(86_405), at(86_405))


def test_incremental_runs_only_write_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as state:
        first = MetricStore()
        first.put(key(), at(0), 1.0)
        first.save(state)
    with StateStore(path) as state:
        second = MetricStore.load(state)
        assert not second.put(key(), at(0), 8.0)  # not newer than the first run's data
        second.put(key(), at(30), 2.0)  # same minute, newer
        second.put(key(), at(90), 4.0)
        assert second.save(state) == 1
    with StateStore(path) as state:
        third = MetricStore.load(state)
    assert minutes(third) == [("12:00", 2, 3.0, 1.0, 2.0), ("12:01", 1, 4.0, 4.0, 4.0)]


def test_reading_the_same_logs_again_publishes_nothing_twice() -> None:
    f = make_filter(default_value=0.0)
    results = [LogEventResult(at(s), f, m) for s, m in [(0, True), (20, False), (65, True)]]
    state = StateStore()
    store = MetricStore()
    store.add_all(results)
    store.save(state)
    again = MetricStore.load(state)
    assert again.add_all(results) == 0
    assert again.diagnostics == {Diagnostic(f.key, "already_published"): 3}
    assert minutes(again) == minutes(store)
    late = MetricStore.load(state, late="accept")
    assert late.add_all(results[:1]) == 1
    assert minutes(late)[0] == ("12:00", 3, 2.0, 0.0, 1.0)


# --- the scan's entry point ---------------------------------------------------------------------


def test_add_event_with_default_values_and_selectors() -> None:
    everything = make_filter("everything", metric_name="Events", default_value=0.0)
    sized = make_filter("sized", metric_name="Bytes", metric_value="$.bytes", dimensions={"User": "$.user"})
    store = MetricStore()
    assert store.add_event(at(0), [everything, sized], {sized.key: ["10", "alice"]}) == 2
    assert store.add_event(at(1), [everything, sized], {everything.key: []}) == 1
    assert store.add_event(at(2), [everything, sized], {sized.key: ["x", "alice"]}) == 1  # non-numeric: nothing
    assert [(d.key.name, d.key.dimensions, d.sample_count, d.sum) for d in store.datapoints()] == [
        ("Bytes", (("User", "alice"),), 1, 10.0),
        ("Events", (), 3, 1.0),
    ]
    assert store.diagnostics == {Diagnostic(sized.key, "non_numeric_value"): 1}
    assert store.last_event == at(2)


def test_cloudtrail_records_through_the_engine_filter_set() -> None:
    """End to end with the engine: CloudTrail records → FilterSet (values of the selectors) →
    add_event → per-minute datapoints."""
    core = pytest.importorskip("trailmatch._core")
    if not hasattr(core, "FilterSet"):
        pytest.skip("this build of trailmatch._core has no FilterSet")
    buckets = MetricFilter(
        name="CreateBucket",
        log_group="trail",
        region="ap-northeast-1",
        account=ACCOUNT,
        filter_pattern='{ ($.eventName = "CreateBucket") }',
        transformation=MetricTransformation(
            "CreateBucketCount", "CloudTrailMetrics", "1", None, {"Bucket": "$.requestParameters.bucketName"}, "Count"
        ),
    )
    errors = MetricFilter(
        name="AccessDenied",
        log_group="trail",
        region="ap-northeast-1",
        account=ACCOUNT,
        filter_pattern='{ $.errorCode = "AccessDenied*" }',
        transformation=MetricTransformation("AccessDenied", "CloudTrailMetrics", "1", 0.0, {}, "Count"),
    )
    filters = core.FilterSet()
    for f in (buckets, errors):
        filters.add(f.key, f.filter_pattern, values=selectors_of(f))
    records = [
        {"eventTime": "2023-12-21T11:35:14Z", "eventName": "CreateBucket", "requestParameters": {"bucketName": "b1"}},
        {"eventTime": "2023-12-21T11:35:40Z", "eventName": "ListBuckets", "errorCode": "AccessDenied"},
        {"eventTime": "2023-12-21T11:36:02Z", "eventName": "CreateBucket", "requestParameters": {}},
    ]
    store = MetricStore()
    for record in records:
        matches = {name: values for name, _, values in filters.match(json.dumps(record))}
        store.add_event(event_time(record["eventTime"]), [buckets, errors], matches)
    assert [(d.timestamp.strftime("%H:%M"), d.key.name, d.key.dimension_dict(), d.sum) for d in store.datapoints()] == [
        ("11:35", "AccessDenied", {}, 1.0),
        ("11:35", "CreateBucketCount", {"Bucket": "b1"}, 1.0),
        ("11:36", "AccessDenied", {}, 0.0),
    ]
    assert store.diagnostics == {Diagnostic(buckets.key, "missing_dimension"): 1}
