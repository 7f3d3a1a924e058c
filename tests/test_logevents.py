"""Metric filters over log events that are not CloudTrail files: the forms users have them in
(``aws logs filter-log-events`` output, subscription payloads, JSON Lines, text lines), their
times, problems, and ``trailmatch scan --log-events`` end to end with an alarm."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from trailmatch.cli import main
from trailmatch.logevents import LogEventScanner, parse_log_events
from trailmatch.metrics import MetricStore
from trailmatch.model import MetricFilter, MetricTransformation
from trailmatch.scan import ScanError

T0 = 1_714_564_800_000  # 2024-05-01T12:00:00Z in ms


def times(data: bytes) -> list[tuple[int, str]]:
    events, problems = parse_log_events(data, "x")
    assert problems == []
    return [(e.timestamp_ms - T0, e.message) for e in events]


def test_filter_log_events_output() -> None:
    doc = {
        "events": [
            {"logStreamName": "s", "timestamp": T0 + 5, "message": "ERROR a", "ingestionTime": T0 + 9},
            {"logStreamName": "s", "timestamp": T0 + 70_000, "message": "INFO b"},
        ],
        "searchedLogStreams": [],
    }
    assert times(json.dumps(doc).encode()) == [(5, "ERROR a"), (70_000, "INFO b")]


def test_subscription_payloads_gzipped_and_concatenated() -> None:
    def payload(kind: str, *events: tuple[int, str]) -> str:
        items = [{"id": str(i), "timestamp": T0 + t, "message": m} for i, (t, m) in enumerate(events)]
        return json.dumps({"messageType": kind, "logGroup": "app", "logEvents": items})

    data = (
        payload("CONTROL_MESSAGE", (0, "CWL CONTROL MESSAGE")) + payload("DATA_MESSAGE", (1, "a"), (2, "b"))
    ).encode()
    assert times(gzip.compress(data)) == [(1, "a"), (2, "b")]


def test_json_lines_and_text_lines() -> None:
    lines = [
        json.dumps({"timestamp": T0 + 1000, "message": "from an export"}),
        json.dumps({"timestamp": "2024-05-01T12:00:02.500Z", "message": "iso time"}),
        json.dumps({"level": "error", "time": "2024-05-01T21:00:03+09:00"}),
        "2024-05-01T12:00:04Z app/stream ERROR text line",
        "2024-05-01 12:00:05,123 INFO python logging",
        '192.0.2.1 - alice [01/May/2024:12:00:06 +0000] "GET / HTTP/1.1" 404 153',
    ]
    got = times(("\n".join(lines) + "\n").encode())
    assert [t for t, _ in got] == [1000, 2500, 3000, 4000, 5000, 6000]
    assert got[0][1] == "from an export"
    assert got[2][1] == lines[2]  # a JSON log record is its own message


def test_lines_without_a_time_are_reported_and_the_rest_read() -> None:
    data = b'no time here\n2024-05-01T12:00:00Z fine\n{"message": "x"}\n'
    events, problems = parse_log_events(data, "app.log")
    assert [e.message for e in events] == ["2024-05-01T12:00:00Z fine"]
    assert [(p.index, p.offset) for p in problems] == [(0, 0), (2, 39)]
    assert str(problems[0]).startswith("app.log: byte 0: line 1: no time (start the line with an ISO 8601 time")


def metric(name: str, pattern: str, **kwargs: object) -> MetricFilter:
    return MetricFilter(
        name=name,
        log_group="app",
        region="us-east-1",
        account="111122223333",
        filter_pattern=pattern,
        transformation=MetricTransformation(name, "App", **kwargs),  # type: ignore[arg-type]
    )


def test_space_delimited_metric_values_from_access_logs() -> None:
    f = metric("bytes", "[ip, id, user, timestamp, request, status = 4*, size]", metric_value="$size")
    log = b"\n".join(
        f'192.0.2.{i} - u [01/May/2024:12:00:{i:02d} +0000] "GET /{i}" {404 if i % 2 else 200} {100 * i}'.encode()
        for i in range(1, 7)
    )
    store = MetricStore()
    summary = LogEventScanner([f]).scan_bytes(log, metrics=store)
    assert summary.filter_matches == {f.key: 3}
    (point,) = store.datapoints()
    assert (point.sample_count, point.sum) == (3, 100.0 + 300.0 + 500.0)


def test_invalid_patterns_are_named() -> None:
    with pytest.raises(ScanError, match="metric filter broken: Invalid filter pattern"):
        LogEventScanner([metric("broken", "[a, b")])


def test_scan_log_events_with_an_alarm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "app.yaml"
    rules.write_text(
        """
metric_filters:
  - name: app-errors
    log_group: /app/prod
    filter_pattern: '{ $.level = "error" }'
    metric: {name: Errors, namespace: App, default_value: 0}
alarms:
  - name: app-errors
    metric_name: Errors
    namespace: App
    statistic: Sum
    period: 60
    evaluation_periods: 1
    threshold: 2
    comparison_operator: GreaterThanOrEqualToThreshold
    actions: {alarm: [arn:aws:sns:us-east-1:123456789012:oncall]}
""",
        encoding="utf-8",
    )
    lines = []
    for minute, errors in enumerate([0, 1, 3, 0]):
        for i in range(4):
            level = "error" if i < errors else "info"
            lines.append(json.dumps({"time": f"2024-05-01T12:{minute:02d}:{10 * i:02d}Z", "level": level}))
    logs = tmp_path / "app.jsonl.gz"
    logs.write_bytes(gzip.compress(("\n".join(lines) + "\nnot a log line\n").encode()))
    summary = tmp_path / "s.json"
    argv = ["scan", "--rules", str(rules), "--log-events", "--dry-run", "--summary-json", str(summary), str(logs)]
    assert main(argv) == 1  # the line without a time is reported; everything else is read
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["alarm"], x["state"]) for x in out] == [("app-errors", "ALARM")]
    assert out[0]["payload"]["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [3.0 (01/05/24 12:02:00)]")
    doc = json.loads(summary.read_text())
    assert (doc["log_events"], doc["filter_matches"], doc["samples"], doc["errors"]) == (
        16,
        {"us-east-1//app/prod/app-errors": 4},
        16,
        1,
    )
    assert [t["new_state"] for t in doc["alarms"]["transitions"]] == ["OK", "ALARM", "OK"]


def test_log_events_need_metric_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.log").write_text("2024-05-01T12:00:00Z hello\n")
    rules = Path(__file__).parent / "data" / "rules" / "scenario-002.yaml"
    assert main(["scan", "--rules", str(rules), "--log-events", str(tmp_path / "x.log")]) == 2
    assert "--log-events: the rules define no metric filter" in capsys.readouterr().err
