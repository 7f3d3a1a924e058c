"""The CloudWatch alarm simulator: the truth tables of the alarms doc (reference §9.3), M of N,
operators, statistics, missing data, the premature-alarm rule, StateReason wording, actions and
incremental runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from trailmatch.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmRecord,
    AlarmSimulator,
    Transition,
    breaches,
    decide,
    java_double,
    load_records,
    save_records,
)
from trailmatch.metrics import LogEventResult, MetricKey, MetricStore
from trailmatch.model import Alarm, MetricFilter, MetricTransformation
from trailmatch.state import StateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY = MetricKey.of(ACCOUNT, REGION, "App", "Errors")
RETAIN = "retain current state"
COLUMNS = ("missing", "ignore", "breaching", "notBreaching")

# Evaluation range 5, most recent on the right; 0 not breaching, X breaching, - missing.
# (datapoints, "# to fill", MISSING, IGNORE, BREACHING, NOT BREACHING)
TABLE_M3_N3 = [
    ("0 - X - X", 0, OK, OK, OK, OK),
    ("0 - - - -", 2, OK, OK, OK, OK),
    ("- - - - -", 3, INSUFFICIENT_DATA, RETAIN, ALARM, OK),
    ("0 X X - X", 0, ALARM, ALARM, ALARM, ALARM),
    ("- - X - -", 2, ALARM, RETAIN, ALARM, OK),
]
TABLE_M2_N3 = [
    ("0 - X - X", 0, ALARM, ALARM, ALARM, ALARM),
    ("0 0 X 0 X", 0, ALARM, ALARM, ALARM, ALARM),
    ("0 - X - -", 1, OK, OK, ALARM, OK),
    ("- - - - 0", 2, OK, OK, ALARM, OK),
    ("- - - X -", 2, ALARM, RETAIN, ALARM, OK),
]
CASES = [
    pytest.param(m, row, column, id=f"M{m}-{row[0].replace(' ', '')}-{column}")
    for m, table in ((3, TABLE_M3_N3), (2, TABLE_M2_N3))
    for row in table
    for column in COLUMNS
]


def values_of(text: str) -> list[float | None]:
    return [{"0": 0.0, "X": 1.0, "-": None}[c] for c in text.split()]


def make_alarm(**overrides: object) -> Alarm:
    fields: dict[str, object] = {
        "name": "errors",
        "region": REGION,
        "account": ACCOUNT,
        "metric_name": "Errors",
        "namespace": "App",
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 0.0,
        "comparison_operator": "GreaterThanThreshold",
    }
    fields.update(overrides)
    return Alarm(**fields)  # type: ignore[arg-type]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def hhmm(when: datetime) -> str:
    return when.strftime("%H:%M:%S") if when.second else when.strftime("%H:%M")


def run(alarm: Alarm, store: MetricStore, **kwargs: object) -> list[tuple[str, str, str]]:
    report = AlarmSimulator([alarm], store, **kwargs).run()  # type: ignore[arg-type]
    return [(hhmm(t.time), t.old_state, t.new_state) for t in report.transitions]


# --- the truth tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(("m", "row", "column"), CASES)
def test_truth_table_decision(m: int, row: tuple[str, int, str, str, str, str], column: str) -> None:
    datapoints, to_fill, *expected_by_column = row
    expected = dict(zip(COLUMNS, expected_by_column, strict=True))[column]
    d = decide(values_of(datapoints), n=3, m=m, threshold=0.0, comparison="GreaterThanThreshold", treat_missing=column)
    assert d.to_fill == to_fill
    assert d.state == (None if expected == RETAIN else expected)


@pytest.mark.parametrize(("m", "row", "column"), CASES)
@pytest.mark.parametrize("before", [OK, ALARM])
def test_truth_table_through_the_simulator(
    m: int, row: tuple[str, int, str, str, str, str], column: str, before: str
) -> None:
    """The same rows, as the datapoints of minutes 12:05-12:09 of a metric, evaluated at 12:10
    by an alarm whose state was ``before`` (so "retain current state" is seen to retain both
    OK and ALARM)."""
    datapoints, _, *expected_by_column = row
    expected = dict(zip(COLUMNS, expected_by_column, strict=True))[column]
    store = MetricStore()
    for minute, value in enumerate(values_of(datapoints), start=5):
        if value is not None:
            store.put(KEY, at(minute), value)
    alarm = make_alarm(evaluation_periods=3, datapoints_to_alarm=m, treat_missing_data=column)
    state = StateStore()
    save_records(state, [AlarmRecord(alarm, at(0), at(0), state=before, last_evaluated=at(9))])
    report = AlarmSimulator([alarm], store, state=state, tail="off").run(until=at(10))
    assert report.evaluations == 1
    assert report.records[alarm.arn].state == (before if expected == RETAIN else expected)
    assert [t.time for t in report.transitions] == ([] if expected in (RETAIN, before) else [at(10)])


# --- M of N, operators, statistics --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "m", "n", "state"),
    [
        ([1.0, 1.0, 0.0], 2, 3, ALARM),
        ([1.0, 0.0, 0.0], 2, 3, OK),
        ([0.0, 1.0, 0.0, 1.0, 0.0], 2, 5, ALARM),
        ([0.0, 1.0, 0.0, 0.0, 0.0], 2, 5, OK),
        ([1.0, 1.0, 1.0, 1.0, 0.0], 5, 5, OK),
        ([1.0, 1.0, 1.0, 1.0, 1.0], 5, 5, ALARM),
        ([1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1, 5, OK),  # the oldest is outside the last N
    ],
)
def test_m_of_n(values: list[float], m: int, n: int, state: str) -> None:
    d = decide(values, n=n, m=m, threshold=0.5, comparison="GreaterThanThreshold")
    assert d.state == state
    assert d.evaluated == tuple(range(len(values) - n, len(values)))


@pytest.mark.parametrize(
    ("operator", "below", "equal", "above"),
    [
        ("GreaterThanThreshold", False, False, True),
        ("GreaterThanOrEqualToThreshold", False, True, True),
        ("LessThanThreshold", True, False, False),
        ("LessThanOrEqualToThreshold", True, True, False),
    ],
)
def test_every_comparison_operator(operator: str, below: bool, equal: bool, above: bool) -> None:
    assert (breaches(4.0, 5.0, operator), breaches(5.0, 5.0, operator), breaches(6.0, 5.0, operator)) == (
        below,
        equal,
        above,
    )
    # and through the simulator: a datapoint equal to the threshold
    store = MetricStore()
    store.put(KEY, at(0), 5.0)
    alarm = make_alarm(threshold=5.0, comparison_operator=operator)
    assert run(alarm, store, tail="off") == [("12:01", INSUFFICIENT_DATA, ALARM if equal else OK)]


def test_unknown_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match="LessThanLowerOrGreaterThanUpperThreshold"):
        breaches(1.0, 0.0, "LessThanLowerOrGreaterThanUpperThreshold")


@pytest.mark.parametrize(
    ("statistic", "value"),
    [("SampleCount", 4.0), ("Sum", 10.0), ("Average", 2.5), ("Minimum", 1.0), ("Maximum", 4.0)],
)
def test_every_statistic(statistic: str, value: float) -> None:
    store = MetricStore()
    for second, sample in zip((1, 15, 30, 59), (1.0, 2.0, 3.0, 4.0), strict=True):
        store.put(KEY, at(0) + timedelta(seconds=second), sample)
    # the datapoint equals the threshold: not above it, but not below it either
    above = make_alarm(statistic=statistic, threshold=value, comparison_operator="GreaterThanOrEqualToThreshold")
    below = make_alarm(name="b", statistic=statistic, threshold=value, comparison_operator="LessThanThreshold")
    report = AlarmSimulator([above, below], store, tail="off").run()
    assert {t.alarm_name: t.new_state for t in report.transitions} == {"errors": ALARM, "b": OK}
    assert f"[{java_double(value)} (01/03/24 12:00:00)]" in report.transitions[0].reason


def test_statistic_over_a_period_of_five_minutes_slides_every_minute() -> None:
    store = MetricStore()
    store.put(KEY, at(2.5), 1.0)  # 12:02:30
    alarm = make_alarm(period=300)
    # at 12:03 the period [11:58, 12:03) holds it; at 12:08 the range (N + 2 = 3 periods,
    # 15 minutes) still does; from 12:18 the range is empty
    assert run(alarm, store, tail="show") == [("12:03", INSUFFICIENT_DATA, ALARM)]
    report = AlarmSimulator([alarm], store).run()
    assert [(hhmm(t.time), t.new_state) for t in report.tentative] == [("12:18", INSUFFICIENT_DATA)]


def test_sub_minute_periods_are_evaluated_every_ten_seconds() -> None:
    """Metric filters publish once a minute: a 10-second period sees the minute's datapoint in
    the period holding the minute's first second."""
    store = MetricStore()
    store.put(KEY, at(0) + timedelta(seconds=42), 1.0)
    alarm = make_alarm(period=10, evaluation_periods=1)
    report = AlarmSimulator([alarm], store).run()
    # range 3 periods of 10 s: from 12:00:40 nothing; the data ends at 12:00:50 (the 10 s holding 12:00:42)
    assert [(hhmm(t.time), t.new_state) for t in report.transitions] == [
        ("12:00:10", ALARM),
        ("12:00:40", INSUFFICIENT_DATA),
    ]
    assert report.tentative == []
    assert report.until == at(0) + timedelta(seconds=50)


# --- missing data and the premature-alarm rule ---------------------------------------------------


def test_new_alarm_starts_in_insufficient_data() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 0.0)
    store.observe(at(0))
    simulator = AlarmSimulator([make_alarm()], store, tail="off", start=at(-10))
    report = simulator.run(until=at(-5))
    record = report.records[make_alarm().arn]
    assert (record.state, record.reason, record.history) == (INSUFFICIENT_DATA, "Unchecked: Initial alarm creation", [])


@pytest.mark.parametrize(
    ("treat", "expected"),
    [
        ("missing", []),
        ("ignore", []),
        ("breaching", [("12:01", INSUFFICIENT_DATA, ALARM)]),
        ("notBreaching", [("12:01", INSUFFICIENT_DATA, OK)]),
    ],
)
def test_treat_missing_data_without_any_data(treat: str, expected: list[tuple[str, str, str]]) -> None:
    store = MetricStore()
    store.observe(at(0))  # a log event that publishes nothing
    store.observe(at(30))
    assert run(make_alarm(treat_missing_data=treat), store, tail="off") == expected


def test_ignore_keeps_the_state_when_data_stops() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 1.0)
    store.observe(at(30))
    assert run(make_alarm(treat_missing_data="ignore"), store) == [("12:01", INSUFFICIENT_DATA, ALARM)]
    assert run(make_alarm(treat_missing_data="missing"), store) == [
        ("12:01", INSUFFICIENT_DATA, ALARM),
        ("12:04", ALARM, INSUFFICIENT_DATA),
    ]


def test_premature_alarm_rule_over_time() -> None:
    """M = N = 3: a single breaching datapoint followed by missing ones alarms once it is 3
    periods old (``- - X - -``), not before (``- - - - X``, ``- - - X -``)."""
    store = MetricStore()
    store.put(KEY, at(0), 1.0)
    store.observe(at(10))
    alarm = make_alarm(evaluation_periods=3, datapoints_to_alarm=3)
    # 12:01 - - - - X and 12:02 - - - X -: no alarm (nor OK: nothing is not breaching)
    assert run(alarm, store, tail="off") == [
        ("12:03", INSUFFICIENT_DATA, ALARM),  # - - X - -
        ("12:06", ALARM, INSUFFICIENT_DATA),  # the range is empty
    ]
    d = decide([None, None, None, None, 1.0], n=3, m=3, threshold=0.0, comparison="GreaterThanThreshold")
    assert (d.state, d.premature, d.breaching) == (None, False, 1)


def test_fill_as_few_missing_datapoints_as_possible() -> None:
    # 0 - - - - with breaching: the real 0 and two filled points: 2 of 3 breach, M = 3 → OK;
    # a minute later the 0 has left the last N and all is filled: ALARM
    store = MetricStore()
    store.put(KEY, at(0), 0.0)
    store.observe(at(10))
    alarm = make_alarm(evaluation_periods=3, datapoints_to_alarm=3, treat_missing_data="breaching")
    assert run(alarm, store, tail="off") == [("12:01", INSUFFICIENT_DATA, OK), ("12:06", OK, ALARM)]


def test_evaluation_range_is_configurable() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 1.0)
    store.observe(at(10))
    alarm = make_alarm()
    assert run(alarm, store, tail="off", evaluation_range=0) == [
        ("12:01", INSUFFICIENT_DATA, ALARM),
        ("12:02", ALARM, INSUFFICIENT_DATA),
    ]
    assert run(alarm, store, tail="off", evaluation_range=lambda a: a.evaluation_periods + 4) == [
        ("12:01", INSUFFICIENT_DATA, ALARM),
        ("12:06", ALARM, INSUFFICIENT_DATA),
    ]


# --- StateReason and StateReasonData ------------------------------------------------------------


def reasons(alarm: Alarm, store: MetricStore) -> list[str]:
    return [t.reason for t in AlarmSimulator([alarm], store, tail="off").run().transitions]


def test_reason_with_datapoints_to_alarm() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 2.0)
    store.put(KEY, at(1), 0.0)
    store.put(KEY, at(2), 0.0)
    store.put(KEY, at(3), 0.0)
    alarm = make_alarm(evaluation_periods=3, datapoints_to_alarm=1, threshold=1.0)
    assert reasons(alarm, store) == [
        "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (01/03/24 12:00:00)] was greater than the "
        "threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
        "Threshold Crossed: 3 out of the last 3 datapoints [0.0 (01/03/24 12:03:00), 0.0 (01/03/24 12:02:00), "
        "0.0 (01/03/24 12:01:00)] were not greater than the threshold (1.0) (minimum 3 datapoints for "
        "ALARM -> OK transition).",
    ]


def test_reason_without_datapoints_to_alarm() -> None:
    store = MetricStore()
    for minute in range(7):
        store.put(KEY, at(minute), 1.0)
    store.put(KEY, at(7), 0.0)
    alarm = make_alarm(evaluation_periods=6)  # DatapointsToAlarm not set: M = N = 6
    first, second = reasons(alarm, store)[-2:]
    assert first == (
        "Threshold Crossed: 6 datapoints were greater than the threshold (0.0). The most recent datapoints which "
        "crossed the threshold: [1.0 (01/03/24 12:05:00), 1.0 (01/03/24 12:04:00), 1.0 (01/03/24 12:03:00), "
        "1.0 (01/03/24 12:02:00), 1.0 (01/03/24 12:01:00)]."
    )
    assert (
        second == "Threshold Crossed: 1 datapoint [0.0 (01/03/24 12:07:00)] was not greater than the threshold (0.0)."
    )


def test_reason_of_filled_and_unknown_datapoints() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 0.0)
    store.observe(at(10))
    breaching = make_alarm(evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data="breaching")
    assert reasons(breaching, store) == [
        "Threshold Crossed: 1 datapoint was received for 3 periods and 2 missing datapoints were treated as "
        "[Breaching].",
    ]
    store2 = MetricStore()
    store2.observe(at(0))
    store2.observe(at(5))
    not_breaching = make_alarm(treat_missing_data="notBreaching")
    assert reasons(not_breaching, store2) == [
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as "
        "[NonBreaching]."
    ]
    store3 = MetricStore()
    store3.put(KEY, at(0), 5.0)
    store3.observe(at(20))
    assert reasons(make_alarm(evaluation_periods=3), store3)[-1] == "Insufficient Data: 3 datapoints were unknown."


def test_state_reason_data() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 3.0, unit="Count")
    store.put(KEY, at(0) + timedelta(seconds=5), 4.0, unit="Count")
    alarm = make_alarm(unit="Count", datapoints_to_alarm=1)
    (transition,) = AlarmSimulator([alarm], store, tail="off").run().transitions
    data = json.loads(transition.reason_data)
    assert list(data) == [
        "version",
        "queryDate",
        "startDate",
        "unit",
        "statistic",
        "period",
        "recentDatapoints",
        "threshold",
        "evaluatedDatapoints",
    ]
    assert data == {
        "version": "1.0",
        "queryDate": "2024-03-01T12:01:00.000+0000",
        "startDate": "2024-03-01T12:00:00.000+0000",
        "unit": "Count",
        "statistic": "Sum",
        "period": 60,
        "recentDatapoints": [7.0],
        "threshold": 0.0,
        "evaluatedDatapoints": [{"timestamp": "2024-03-01T12:00:00.000+0000", "sampleCount": 2.0, "value": 7.0}],
    }


def test_java_double() -> None:
    assert [java_double(v) for v in (1e7, 1.5e-5, 123456.789, -0.0, 1e21)] == [
        "1.0E7",
        "1.5E-5",
        "123456.789",
        "-0.0",
        "1.0E21",
    ]


# --- dimensions and units -----------------------------------------------------------------------


def test_an_alarm_sees_only_its_dimensions_and_unit() -> None:
    store = MetricStore()
    store.put(MetricKey.of(ACCOUNT, REGION, "App", "Errors", {"Service": "api"}), at(0), 1.0, unit="Count")
    store.put(KEY, at(0), 1.0, unit="Seconds")
    with_dims = make_alarm(name="dims", dimensions={"Service": "api"})
    no_dims = make_alarm(name="plain")
    counted = make_alarm(name="count-unit", unit="Count")
    report = AlarmSimulator([with_dims, no_dims, counted], store, tail="off").run()
    assert sorted((t.alarm_name, t.new_state) for t in report.transitions) == [("dims", ALARM), ("plain", ALARM)]
    assert any("count-unit" in w and "Unit Count" in w for w in report.warnings)


def test_warns_about_an_alarm_without_the_dimensions_the_metric_is_published_with() -> None:
    store = MetricStore()
    store.put(MetricKey.of(ACCOUNT, REGION, "App", "Errors", {"Service": "api"}), at(0), 1.0)
    report = AlarmSimulator([make_alarm()], store).run()
    assert report.transitions == []
    (warning,) = report.warnings
    assert "published only with: {'Service': 'api'}" in warning


def test_unsupported_alarms_are_reported_not_simulated() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 1.0)
    simulator = AlarmSimulator([make_alarm(statistic="p99"), make_alarm(name="ok")], store)
    assert [a.name for a in simulator.alarms] == ["ok"]
    assert simulator.problems == [
        "alarm errors (us-east-1): statistic 'p99' is not one of " + "SampleCount, "
        "Average, Sum, Minimum, Maximum; not simulated"
    ]


# --- actions ------------------------------------------------------------------------------------


def test_actions_run_only_on_transitions_for_the_new_state() -> None:
    store = MetricStore()
    for minute in (0, 1, 2):
        store.put(KEY, at(minute), 1.0)
    store.put(KEY, at(3), 0.0)
    store.observe(at(20))
    alarm = make_alarm(
        alarm_actions=("arn:aws:sns:us-east-1:1:alarm", "arn:aws:sns:us-east-1:1:pager"),
        ok_actions=("arn:aws:sns:us-east-1:1:ok",),
        insufficient_data_actions=("arn:aws:sns:us-east-1:1:nodata",),
    )
    seen: list[tuple[str, str]] = []
    report = AlarmSimulator([alarm], store, tail="off").run(
        notify=lambda a: seen.append((hhmm(a.transition.time), a.action_arn.rsplit(":", 1)[1]))
    )
    assert [(hhmm(t.time), t.new_state) for t in report.transitions] == [
        ("12:01", ALARM),
        ("12:04", OK),
        ("12:07", INSUFFICIENT_DATA),
    ]
    assert seen == [("12:01", "alarm"), ("12:01", "pager"), ("12:04", "ok"), ("12:07", "nodata")]
    assert [a.notification.dedup_key for a in report.actions][:2] == ["2024-03-01T12:01:00.000+0000|ALARM"] * 2


def test_no_actions_when_actions_are_disabled() -> None:
    store = MetricStore()
    store.put(KEY, at(0), 1.0)
    alarm = make_alarm(actions_enabled=False, alarm_actions=("arn:aws:sns:us-east-1:1:alarm",))
    report = AlarmSimulator([alarm], store).run(notify=lambda a: pytest.fail("no action expected"))
    assert [t.new_state for t in report.transitions] == [ALARM]
    assert report.actions == []


# --- the end of the data and incremental runs ---------------------------------------------------


def events(store: MetricStore, spec: list[tuple[float, float]]) -> None:
    for minute, value in spec:
        store.put(KEY, at(minute), value)


DAY = [(0.2, 0.0), (1.5, 0.0), (3.1, 1.0), (3.7, 2.0), (4.2, 0.0), (9.9, 0.0), (10.1, 5.0), (30.5, 0.0), (31.2, 1.0)]


def test_tail_show_deliver_off() -> None:
    alarm = make_alarm(
        alarm_actions=("arn:aws:sns:us-east-1:1:a",),
        ok_actions=("arn:aws:sns:us-east-1:1:o",),
        insufficient_data_actions=("arn:aws:sns:us-east-1:1:i",),
    )
    store = MetricStore()
    events(store, [(0.5, 1.0)])
    show = AlarmSimulator([alarm], store, tail="show").run()
    assert [(hhmm(t.time), t.new_state, t.tentative) for t in show.transitions + show.tentative] == [
        ("12:01", ALARM, False),
        ("12:04", INSUFFICIENT_DATA, True),
    ]
    assert [a.action_arn[-1] for a in show.actions] == ["a"]
    assert show.records[alarm.arn].state == ALARM
    assert [t.new_state for t in show.records[alarm.arn].tail] == [INSUFFICIENT_DATA]

    deliver = AlarmSimulator([alarm], store, tail="deliver").run()
    assert [(hhmm(t.time), t.new_state, t.tentative) for t in deliver.transitions] == [
        ("12:01", ALARM, False),
        ("12:04", INSUFFICIENT_DATA, False),
    ]
    assert [a.action_arn[-1] for a in deliver.actions] == ["a", "i"]
    assert deliver.records[alarm.arn].state == INSUFFICIENT_DATA
    assert (show.until, deliver.until) == (at(1), at(4))
    assert deliver.records[alarm.arn].last_evaluated == at(4)

    off = AlarmSimulator([alarm], store, tail="off").run()
    assert (len(off.transitions), off.tentative) == (1, [])


def test_two_runs_over_consecutive_ranges_equal_one_run(tmp_path: object) -> None:
    alarm = make_alarm(
        evaluation_periods=3,
        datapoints_to_alarm=2,
        threshold=0.5,
        alarm_actions=("arn:aws:sns:us-east-1:1:a",),
        ok_actions=("arn:aws:sns:us-east-1:1:o",),
    )
    single = MetricStore()
    events(single, DAY)
    whole = AlarmSimulator([alarm], single, tail="off").run()

    path = f"{tmp_path}/state.db"
    actions: list[str] = []
    with StateStore(path) as state:
        first = MetricStore.load(state)
        events(first, [e for e in DAY if e[0] < 20])  # split at a minute boundary
        first.save(state)
        AlarmSimulator([alarm], first, state=state, tail="off").run(notify=lambda a: actions.append(a.action_arn))
    with StateStore(path) as state:
        second = MetricStore.load(state)
        events(second, [e for e in DAY if e[0] >= 20])
        second.save(state)
        AlarmSimulator([alarm], second, state=state, tail="off").run(notify=lambda a: actions.append(a.action_arn))
        records = load_records(state)
    assert records[alarm.arn].history == whole.transitions
    assert len(whole.transitions) >= 3
    assert actions == [a.action_arn for a in whole.actions]
    assert records[alarm.arn].last_evaluated == at(32)

    # the same range again: nothing published twice, nothing new, no action
    with StateStore(path) as state:
        again = MetricStore.load(state)
        before = list(again.datapoints())
        events(again, [e for e in DAY if e[0] >= 20])
        assert list(again.datapoints()) == before
        rerun = AlarmSimulator([alarm], again, state=state, tail="off").run(
            notify=lambda a: pytest.fail("nothing is sent twice")
        )
    assert rerun.transitions == []
    assert rerun.evaluations == 0


def test_tentative_transitions_are_recomputed_not_committed(tmp_path: object) -> None:
    alarm = make_alarm()
    path = f"{tmp_path}/state.db"
    with StateStore(path) as state:
        store = MetricStore()
        events(store, [(0.5, 1.0)])
        store.save(state)
        report = AlarmSimulator([alarm], store, state=state).run()
        assert [t.new_state for t in report.tentative] == [INSUFFICIENT_DATA]
    with StateStore(path) as state:
        store = MetricStore.load(state)
        events(store, [(2.5, 1.0)])  # data came: the alarm never left ALARM
        report = AlarmSimulator([alarm], store, state=state).run()
        record = load_records(state)[alarm.arn]
    assert [(hhmm(t.time), t.new_state) for t in record.history] == [("12:01", ALARM)]
    assert [(hhmm(t.time), t.new_state) for t in record.tail] == [("12:06", INSUFFICIENT_DATA)]


def test_an_updated_alarm_keeps_its_state() -> None:
    store = MetricStore()
    events(store, [(0.5, 3.0)])
    state = StateStore()
    alarm = make_alarm()
    AlarmSimulator([alarm], store, state=state, tail="off").run()
    events(store, [(5.5, 3.0)])
    changed = make_alarm(threshold=5.0)
    report = AlarmSimulator([changed], store, state=state, tail="off").run()
    record = report.records[alarm.arn]
    assert record.alarm.threshold == 5.0
    assert record.configuration_updated == at(2)
    assert [(hhmm(t.time), t.new_state) for t in record.history] == [
        ("12:01", ALARM),
        ("12:02", OK),  # the new threshold on the same datapoint
        ("12:04", INSUFFICIENT_DATA),
        ("12:06", OK),
    ]


def test_until_sets_the_end_of_the_committed_evaluations() -> None:
    store = MetricStore()
    events(store, [(0.5, 1.0), (10.5, 0.0)])
    report = AlarmSimulator([make_alarm()], store, tail="off").run(until=at(5))
    assert report.until == at(5)
    assert [(hhmm(t.time), t.new_state) for t in report.transitions] == [("12:01", ALARM), ("12:04", INSUFFICIENT_DATA)]


def test_transition_round_trip() -> None:
    t = Transition("arn", "n", at(1), OK, ALARM, "r", "{}", tentative=True)
    assert Transition.from_dict(json.loads(json.dumps(t.to_dict()))) == t


# --- scenario 004: notify when an S3 bucket is created -------------------------------------------


def test_scenario_004_bucket_created() -> None:
    """CloudTrail → CloudWatch Logs → metric filter { ($.eventName = "CreateBucket") } (value 1,
    default 0, unit Count) → alarm Sum over 1 minute > 0 → SNS e-mail."""
    f = MetricFilter(
        name="CreateBucket",
        log_group="aws-cloudtrail-logs-qiita-tutorial",
        region="ap-northeast-1",
        account=ACCOUNT,
        filter_pattern='{ ($.eventName = "CreateBucket") }',
        transformation=MetricTransformation("CreateBucketCount", "CloudTrailMetrics", "1", 0.0, {}, "Count"),
    )
    alarm = Alarm(
        name="s3-bucket-created",
        region="ap-northeast-1",
        account=ACCOUNT,
        metric_name="CreateBucketCount",
        namespace="CloudTrailMetrics",
        statistic="Sum",
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=0.0,
        comparison_operator="GreaterThanThreshold",
        alarm_actions=(f"arn:aws:sns:ap-northeast-1:{ACCOUNT}:bucket-created",),
    )
    records = [
        ("2023-12-21T11:30:05Z", "ConsoleLogin"),
        ("2023-12-21T11:33:40Z", "ListBuckets"),
        ("2023-12-21T11:35:14Z", "CreateBucket"),
        ("2023-12-21T11:35:20Z", "PutBucketEncryption"),
        ("2023-12-21T11:41:02Z", "ListBuckets"),
    ]
    store = MetricStore()
    for time, name in records:
        store.add(LogEventResult(datetime.fromisoformat(time.replace("Z", "+00:00")), f, name == "CreateBucket"))
    report = AlarmSimulator([alarm], store).run()
    # default value 0 for every other event: OK between events, ALARM at the end of the minute of
    # CreateBucket; the range (N + 2 = 3 minutes) empties before the next event
    assert [(hhmm(t.time), t.old_state, t.new_state) for t in report.transitions] == [
        ("11:31", INSUFFICIENT_DATA, OK),
        ("11:36", OK, ALARM),
        ("11:39", ALARM, INSUFFICIENT_DATA),
        ("11:42", INSUFFICIENT_DATA, OK),
    ]
    assert report.transitions[1].reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (21/12/23 11:35:00)] was greater than the "
        "threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    (action,) = report.actions
    assert action.notification.subject == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
