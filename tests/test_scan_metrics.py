"""Metric filters and alarms in a scan: the engine's per-record results (``Replay.process``), their
publication (``MetricStore.add_batch``), the scanner, and the CLI around them (``--pack``,
``--metrics-out``, ``--alarm-tail``, ``rules packs``, ``rules lint`` / ``show`` on alarms)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from trailmatch import _core
from trailmatch.cli import main
from trailmatch.errors import FilterPatternError
from trailmatch.lint import lint
from trailmatch.metrics import MetricStore, event_time, selectors_of
from trailmatch.model import Alarm, Deployment, MetricFilter, MetricTransformation
from trailmatch.scan import ScanError, Scanner
from trailmatch.state import StateStore

DATA = Path(__file__).parent / "data"


def record(second: int, name: str, *, region: str = "us-east-1", size: int | None = None, **extra: object) -> str:
    when = datetime.fromtimestamp(1_700_000_000 + second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc: dict[str, object] = {
        "eventVersion": "1.08",
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "eventID": f"{name}-{second}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        **extra,
    }
    if size is not None:
        doc["additionalEventData"] = {"bytesTransferredIn": size}
    return json.dumps(doc)


def metric_filter(name: str, pattern: str, metric: str, **kwargs: object) -> MetricFilter:
    return MetricFilter(
        name=name,
        log_group="trail",
        region="us-east-1",
        account="111122223333",
        filter_pattern=pattern,
        transformation=MetricTransformation(metric, "Test", **kwargs),  # type: ignore[arg-type]
    )


FILTERS = [
    metric_filter("created", '{ $.eventName = "CreateBucket" }', "Created", default_value=0.0, unit="Count"),
    metric_filter(
        "bytes",
        "{ $.additionalEventData.bytesTransferredIn > 0 }",
        "Bytes",
        metric_value="$.additionalEventData.bytesTransferredIn",
    ),
    metric_filter("by-region", "{ $.eventName = Put* }", "Puts", dimensions={"Region": "$.awsRegion"}),
    metric_filter("all", "", "Events", default_value=1.0),
]


def per_event(texts: list[str], filters: list[MetricFilter], store: MetricStore) -> int:
    """The reference: one ``add_event`` per record, with ``FilterSet.match``."""
    fs = _core.FilterSet()
    for f in filters:
        fs.add(f.key, f.filter_pattern, values=selectors_of(f))
    emitted = 0
    for text in texts:
        found = {name: values for name, _, values in fs.match(text)}
        emitted += store.add_event(event_time(json.loads(text)["eventTime"]), filters, found)
    return emitted


def random_records(seed: int, n: int = 400) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        name = rnd.choice(["CreateBucket", "PutObject", "PutBucketPolicy", "GetObject", "DeleteBucket"])
        size = rnd.choice([None, 0, rnd.randrange(1, 10_000)])
        out.append(record(rnd.randrange(0, 3600), name, region=rnd.choice(["us-east-1", "eu-west-1"]), size=size))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_scan_publishes_what_one_add_event_per_record_publishes(seed: int) -> None:
    texts = random_records(seed)
    reference = MetricStore()
    expected = per_event(texts, FILTERS, reference)
    store = MetricStore()
    summary = Scanner(Deployment(metric_filters=FILTERS)).scan_bytes(
        "\n".join(texts).encode(), lambda *a: None, metrics=store
    )
    assert summary.samples == expected
    assert summary.log_events == len(texts)
    assert [d.to_dict() for d in store.datapoints()] == [d.to_dict() for d in reference.datapoints()]
    assert (store.first_event, store.last_event) == (reference.first_event, reference.last_event)
    assert store.diagnostics == reference.diagnostics


def test_batches_respect_the_watermark_and_the_start() -> None:
    texts = random_records(7, 200)
    first, second = texts[:100], texts[100:]
    scanner = Scanner(Deployment(metric_filters=FILTERS))
    with StateStore() as state:
        store = MetricStore()
        scanner.scan_bytes("\n".join(first).encode(), lambda *a: None, metrics=store)
        store.save(state)
        again = MetricStore.load(state)
        reference = MetricStore.load(state)
    # everything at or before the stored latest event is dropped, the rest published
    scanner.scan_bytes("\n".join(second).encode(), lambda *a: None, metrics=again)
    per_event(second, FILTERS, reference)
    assert [d.to_dict() for d in again.datapoints()] == [d.to_dict() for d in reference.datapoints()]
    assert again.diagnostics == reference.diagnostics
    assert any(d.kind == "already_published" for d in again.diagnostics)
    start = datetime.fromtimestamp(1_700_001_800, tz=timezone.utc)
    late, ref = MetricStore(start=start), MetricStore(start=start)
    scanner.scan_bytes("\n".join(texts).encode(), lambda *a: None, metrics=late)
    per_event(texts, FILTERS, ref)
    assert [d.to_dict() for d in late.datapoints()] == [d.to_dict() for d in ref.datapoints()]
    assert late.diagnostics == ref.diagnostics


def test_every_region_and_every_record_is_a_log_event() -> None:
    """Read-only events, other regions, records EventBridge never gets: all reach the log group."""
    texts = [
        record(0, "CreateBucket", region="ap-southeast-2"),
        record(1, "ListBuckets", readOnly=True),
        record(2, "CreateBucket", eventType="AwsVpceEvent"),
    ]
    f = metric_filter("any", "", "Events")
    summary = Scanner(Deployment(metric_filters=[f])).scan_bytes("\n".join(texts).encode(), lambda *a: None)
    assert summary.filter_matches == {f.key: 3}
    assert summary.skipped == {"VPC endpoint (network activity) event": 1}


def test_records_without_a_time_match_but_publish_nothing() -> None:
    f = metric_filter("any", "", "Events")
    data = b'{"eventName": "X", "eventSource": "s3.amazonaws.com"}\n' + record(5, "Y").encode()
    data += b'\n{"eventName": "Z", "eventTime": "last tuesday"}\n'
    store = MetricStore()
    summary = Scanner(Deployment(metric_filters=[f])).scan_bytes(data, lambda *a: None, metrics=store)
    assert (summary.filter_matches[f.key], summary.samples, summary.untimed, summary.errors) == (3, 1, 2, 0)
    assert [str(p) for p in summary.untimed_examples] == [
        "<bytes>: byte 0: record 0: no eventTime",
        '<bytes>: byte 322: record 2: eventTime "last tuesday" is not an ISO 8601 time such as 2024-01-31T12:00:00Z',
    ]


def test_an_invalid_filter_pattern_names_the_filter() -> None:
    bad = metric_filter("broken", "{ $.a = ", "M")
    with pytest.raises(ScanError, match=r"metric filter broken: Invalid filter pattern: .* at character"):
        Scanner(Deployment(metric_filters=[bad]))
    replay = _core.Replay()
    with pytest.raises(FilterPatternError):
        replay.add_filter(0, "%a%%b%%c%")
    assert replay.filter_count == 0


# --- CLI ------------------------------------------------------------------------------------


def test_rules_packs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "packs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cis  CIS AWS Foundations Benchmark")
    assert "15 metric filters, 15 alarms, 1 topic" in out
    assert "parameter  LogGroupName" in out
    assert main(["rules", "packs", "--json"]) == 0
    (pack,) = json.loads(capsys.readouterr().out)
    assert (pack["name"], pack["metric_filters"], pack["alarms"]) == ("cis", 15, 15)


def test_scan_needs_rules_or_a_pack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text(record(0, "CreateBucket") + "\n")
    assert main(["scan", str(tmp_path / "x.jsonl")]) == 2
    assert "give --rules FILE or --pack NAME" in capsys.readouterr().err
    assert main(["scan", "--pack", "cls", str(tmp_path / "x.jsonl")]) == 2
    assert "--pack cls: no such rule pack (packs: cis)" in capsys.readouterr().err


def test_pack_in_regions_with_its_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "root.jsonl"
    root = {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}
    logs.write_text(record(0, "CreateBucket", userIdentity=root) + "\n")
    summary = tmp_path / "s.json"
    argv = ["scan", "--pack", "cis@eu-west-1,us-east-1", "--parameter", "LogGroupName=trail/logs"]
    # an unrelated --parameter (for other rules files) is not the pack's business
    argv += ["--parameter", "Email=x@example.com", "--dry-run", "--summary-json", str(summary), str(logs)]
    assert main(argv) == 0
    matches = json.loads(summary.read_text())["filter_matches"]
    assert matches == {"eu-west-1/trail/logs/root_usage_metric": 1, "us-east-1/trail/logs/root_usage_metric": 1}
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(x["action"] for x in out) == [
        "arn:aws:sns:eu-west-1:123456789012:cis-alarms",
        "arn:aws:sns:us-east-1:123456789012:cis-alarms",
    ]


def test_metrics_out_and_alarm_tail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = DATA / "rules" / "scenario-004.yaml"
    logs = DATA / "scenarios" / "004"
    out = tmp_path / "m.jsonl"
    base = ["scan", "--rules", f"{rules}@ap-northeast-1", "--parameter", "Email=a@example.com", "--dry-run"]
    assert main([*base, "--metrics-out", str(out), "--alarm-tail", "off", str(logs)]) == 0
    points = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["sum"] for p in points if p["sum"]] == [1.0, 2.0, 1.0, 1.0]
    assert points[0]["metric_name"] == "CreateBucketCount"
    err = capsys.readouterr().err
    assert "tentative" in err
    assert "(tentative: after the data)" not in err
    assert main([*base, "--alarm-tail", "deliver", str(logs)]) == 0
    captured = capsys.readouterr()
    assert "OK -> INSUFFICIENT_DATA: Insufficient Data" in captured.err
    assert len(captured.out.splitlines()) == 4  # no InsufficientDataActions: still four notifications
    bad = tmp_path / "no-such-dir" / "m.csv"
    assert main([*base, "--metrics-out", str(bad), str(logs)]) == 2
    assert "--metrics-out" in capsys.readouterr().err


def alarm(name: str, metric: str, **kwargs: object) -> Alarm:
    settings: dict[str, object] = {
        "region": "us-east-1",
        "account": "111122223333",
        "namespace": "Test",
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "threshold": 0.0,
        "comparison_operator": "GreaterThanThreshold",
        "alarm_actions": ("arn:aws:sns:us-east-1:111122223333:alerts",),
    }
    settings.update(kwargs)
    return Alarm(name=name, metric_name=metric, **settings)  # type: ignore[arg-type]


def test_lint_alarms() -> None:
    deployment = Deployment(
        metric_filters=FILTERS,
        alarms=[
            alarm("fine", "Created"),
            alarm("typo", "Create"),
            alarm("other-region", "Created", region="eu-west-1"),
            alarm("no-dimensions", "Puts"),
            alarm("dimensions", "Puts", dimensions={"Region": "us-east-1"}),
            alarm("unit", "Created", unit="Seconds"),
            alarm("silent", "Created", alarm_actions=()),
        ],
    )
    found = {(f.rule, f.code) for f in lint(deployment)}
    assert found == {
        ("typo", "alarm-no-metric"),
        ("other-region", "alarm-no-metric"),
        ("no-dimensions", "alarm-dimensions"),
        ("unit", "alarm-unit"),
        ("silent", "alarm-no-actions"),
        ("fine", "no-destination"),  # one finding for the action all the alarms share
    }
    text = {f.rule: str(f) for f in lint(deployment)}
    assert "alarm typo: no metric filter publishes Test/Create in us-east-1" in text["typo"]
    assert "hint: metric filters publish Test/Created in us-east-1" in text["other-region"]
    assert "of 6 alarms (fine, typo, other-region (+3 more))" in text["fine"]


def test_rules_show_metric_filters_and_alarms(capsys: pytest.CaptureFixture[str]) -> None:
    rules = f"{DATA / 'rules' / 'scenario-004.yaml'}@ap-northeast-1"
    assert main(["rules", "show", rules, "--parameter", "Email=a@example.com"]) == 0
    out = capsys.readouterr().out
    assert "metric filter s3-create-bucket  ap-northeast-1  log group aws-cloudtrail-logs-qiita-tutorial" in out
    assert "metric   S3BucketMonitoring/CreateBucketCount = 1, default 0, unit Count" in out
    assert "when     Sum of S3BucketMonitoring/CreateBucketCount > 0 for 1 of 1 periods of 60 s" in out
    assert main(["rules", "show", rules, "--parameter", "Email=a@example.com", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (a,) = doc["alarms"]
    assert a["actions"]["ALARM"] == ["arn:aws:sns:ap-northeast-1:123456789012:s3-create-bucket"]
    assert doc["metric_filters"][0]["default_value"] == 0.0
    assert main(["rules", "lint", "--pack", "cis"]) == 1
    captured = capsys.readouterr()
    assert "of 15 alarms" in captured.out
    assert "1 finding in 0 rules, 15 metric filters, 15 alarms from 1 file" in captured.err


def test_lint_regex_quota_per_log_group() -> None:
    filters = [metric_filter(f"re{i}", f"%err{i}%", f"M{i}") for i in range(6)]
    filters.append(metric_filter("plain", "ERROR", "Plain"))
    (finding,) = [f for f in lint(Deployment(metric_filters=filters)) if f.code == "regex-quota"]
    assert finding.rule == "re5"
    assert str(finding).startswith(
        "(rules): regex-quota: metric filter re5: 6 metric filters with %regex% on log group"
    )
    assert not [f for f in lint(Deployment(metric_filters=filters[:5])) if f.code == "regex-quota"]
