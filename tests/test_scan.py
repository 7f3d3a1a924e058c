"""``trailmatch scan``: sources (files, directories, globs, stdin, S3), forwarding between buses,
problems in the input, progress, summaries and exit codes."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trailmatch import model
from trailmatch.cli import main
from trailmatch.scan import Progress, ScanError, Scanner, render_summary
from trailmatch.sources import SourceError, expand

if TYPE_CHECKING:
    from servers import HttpServer

pytest_plugins = ["servers"]

ACCOUNT = "111122223333"


def record(name: str = "CreateUser", *, region: str = "us-east-1", source: str = "iam", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "eventType": "AwsApiCall",
        "eventTime": "2026-11-22T10:00:00Z",
        "awsRegion": region,
        "eventID": f"{name}-{region}-{extra.pop('n', 0)}",
        "recipientAccountId": ACCOUNT,
        "readOnly": False,
        "managementEvent": True,
        "sourceIPAddress": "198.51.100.1",
    }
    r.update(extra)
    return r


def write_log(path: Path, *records: dict[str, Any], compress: bool = False) -> Path:
    data = json.dumps({"Records": list(records)}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def native(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


IAM_RULES = """
account: "111122223333"
rules:
  - name: iam-writes
    event_pattern: {source: [aws.iam]}
    targets:
      - id: out
        arn: arn:aws:sqs:us-east-1:111122223333:q
        destination: {type: stdout, prefix: false}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- sources ------------------------------------------------------------------------------


def test_directories_globs_and_digests(tmp_path: Path) -> None:
    write_log(tmp_path / "logs" / "AWSLogs" / "a.json.gz", record(), compress=True)
    write_log(tmp_path / "logs" / "AWSLogs" / "b.json", record())
    (tmp_path / "logs" / "AWSLogs" / "123_CloudTrail-Digest_us-east-1_x.json.gz").write_bytes(b"")
    (tmp_path / "logs" / "README.md").write_text("notes")
    (tmp_path / "logs" / ".hidden.json").write_text("{}")
    found = expand([str(tmp_path / "logs")])
    assert [Path(s.name).name for s in found.sources] == ["a.json.gz", "b.json"]
    assert sorted(r for _, r in found.ignored) == ["CloudTrail digest file", "hidden file", "not a log file"]
    globbed = expand([str(tmp_path / "logs" / "**" / "*.json*")])
    assert [Path(s.name).name for s in globbed.sources] == ["a.json.gz", "b.json"]
    assert [r for _, r in globbed.ignored] == ["CloudTrail digest file"]
    with pytest.raises(SourceError, match="no such file"):
        expand([str(tmp_path / "missing")])
    with pytest.raises(SourceError, match="matches no file"):
        expand([str(tmp_path / "*.nothing")])


def test_stdin(tmp_path: Path) -> None:
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    data = b"\n".join(json.dumps(record(n=i)).encode() for i in range(3))
    result = subprocess.run(
        [sys.executable, "-m", "trailmatch", "scan", "--rules", str(rules), "--dry-run", "-"],
        input=data,
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert b"<stdin>" not in result.stderr
    assert b"3 records" in result.stderr


def test_s3_through_a_local_endpoint(moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="trail")
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/22/"
    for i in range(3):
        body = gzip.compress(json.dumps({"Records": [record(n=i)]}).encode())
        s3.put_object(Bucket="trail", Key=f"{prefix}{ACCOUNT}_CloudTrail_us-east-1_{i}.json.gz", Body=body)
    s3.put_object(
        Bucket="trail", Key=f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/x_CloudTrail-Digest_y.json.gz", Body=b""
    )
    s3.put_object(Bucket="trail", Key="other/ignored.json", Body=b"{}")
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    summary = tmp_path / "s.json"
    status, out, _ = run(
        capsys,
        "scan",
        "--rules",
        str(rules),
        "--s3-endpoint-url",
        moto_server,
        "--dry-run",
        "--summary-json",
        str(summary),
        f"s3://trail/AWSLogs/{ACCOUNT}/",
    )
    assert status == 0
    assert len(out.splitlines()) == 3
    doc = json.loads(summary.read_text())
    assert (doc["files"], doc["gzip_files"], doc["records"]) == (3, 3, 3)
    assert doc["ignored"] == [
        {
            "name": f"s3://trail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/x_CloudTrail-Digest_y.json.gz",
            "reason": "CloudTrail digest file",
        }
    ]
    status, _, err = run(capsys, "scan", "--rules", str(rules), "--s3-endpoint-url", moto_server, "s3://trail/none/")
    assert status == 2
    assert "no objects under this prefix" in err


# --- problems in the input -----------------------------------------------------------------


def test_bad_files_are_reported_and_the_rest_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "logs"
    write_log(logs / "1-good.json", record(n=1))
    whole = gzip.compress(json.dumps({"Records": [record(n=i) for i in range(2000)]}).encode())
    (logs / "2-truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    good = json.dumps(record(n=3))
    (logs / "3-bad-record.jsonl").write_text(f'{good}\n{{"eventSource": "iam.amazonaws.com", "x": tru}}\n{good}\n')
    write_log(logs / "4-good.json", record(n=4))
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    status, out, err = run(capsys, "scan", "--rules", str(rules), "--dry-run", str(logs))
    assert status == 1  # the scan ran to the end, but not everything could be read
    assert "2-truncated.json.gz" in err
    assert "truncated or corrupt" in err
    assert "3-bad-record.jsonl: byte" in err
    assert "record 1" in err
    lines = out.splitlines()
    assert 4 < len(lines) < 2000 + 4
    assert "Errors: 2 (each reported" in err
    assert "and everything after it are lost" in err


def test_an_unreadable_file_does_not_stop_the_scan(tmp_path: Path) -> None:
    from trailmatch.rules import load_rules
    from trailmatch.sources import Source

    deployment = load_rules(native(tmp_path / "r.yaml", IAM_RULES))
    a = write_log(tmp_path / "a.json", record(n=1))
    c = write_log(tmp_path / "c.json", record(n=2))

    def fail() -> bytes:
        raise ConnectionError("the object store went away")

    sources = [
        Source(str(a), path=str(a)),
        Source("gone.json", path=str(tmp_path / "gone.json")),  # deleted after the listing
        Source("s3://b/k.json.gz", load=fail),
        Source(str(c), path=str(c)),
    ]
    seen: list[str] = []
    summary = Scanner(deployment).scan(sources, lambda r, t, e, i: seen.append(i))
    assert len(seen) == 2
    assert summary.files == 4
    assert summary.errors == 2
    assert [str(p) for p in summary.problems] == [
        "gone.json: cannot read: No such file or directory",
        "s3://b/k.json.gz: cannot read: ConnectionError: the object store went away",
    ]


def test_invalid_rules_exit_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = native(tmp_path / "r.yaml", "rules:\n  - name: bad\n    event_pattern: {source: aws.iam}\n")
    write_log(tmp_path / "a.json", record())
    status, out, err = run(capsys, "scan", "--rules", str(rules), str(tmp_path / "a.json"))
    assert status == 2
    assert out == ""
    assert f"{rules}:3: bad:" in err
    assert 'write ["value"]' in err


def test_parameter_and_override_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    status, _, err = run(capsys, "scan", "--rules", str(rules), "--parameter", "NoEquals", str(tmp_path))
    assert status == 2
    assert "Name=Value" in err
    status, _, err = run(capsys, "scan", "--rules", str(rules), "--source-override", "x", str(tmp_path))
    assert status == 2
    assert "EVENTSOURCE=SOURCE" in err


# --- regions, buses, forwarding --------------------------------------------------------------

FORWARDING = """
account: "111122223333"
buses:
  - {name: central, region: eu-west-1}
  - {name: third, region: eu-west-1}
rules:
  - name: sender
    regions: [us-east-1, ap-northeast-1]
    event_pattern: {source: [aws.iam, aws.ec2]}
    targets:
      - {id: to-central, arn: "arn:aws:events:eu-west-1:111122223333:event-bus/central"}
  - name: central-rule
    region: eu-west-1
    bus: central
    event_pattern: {detail: {eventName: [CreateUser, RunInstances]}}
    targets:
      - {id: out, arn: "arn:aws:sqs:eu-west-1:111122223333:q", destination: {type: stdout, prefix: false}}
      - {id: onward, arn: "arn:aws:events:eu-west-1:111122223333:event-bus/third"}
  - name: third-rule
    region: eu-west-1
    bus: third
    event_pattern: {source: [aws.iam]}
    targets:
      - {id: out, arn: "arn:aws:sqs:eu-west-1:111122223333:q3", destination: {type: stdout, prefix: false}}
"""


def test_forwarding_is_one_hop_across_regions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = native(tmp_path / "r.yaml", FORWARDING)
    log = write_log(
        tmp_path / "a.json",
        record("CreateUser"),  # us-east-1 → central (eu-west-1) → (not) third
        record("RunInstances", region="ap-northeast-1", source="ec2"),
        record("RunInstances", region="sa-east-1", source="ec2"),  # no sender there
        record("DeleteUser"),  # forwarded, but central-rule does not match it
    )
    summary = tmp_path / "s.json"
    status, out, err = run(capsys, "scan", "--rules", str(rules), "--summary-json", str(summary), str(log))
    assert status == 0
    delivered = [json.loads(line) for line in out.splitlines()]
    assert [d["detail"]["eventName"] for d in delivered] == ["CreateUser", "RunInstances"]
    # The forwarded event is the original one (its region is the sender's).
    assert [d["region"] for d in delivered] == ["us-east-1", "ap-northeast-1"]
    doc = json.loads(summary.read_text())
    assert doc["forwarded"] == {"eu-west-1/central": 3, "eu-west-1/third": 0} or doc["forwarded"] == {
        "eu-west-1/central": 3
    }
    assert doc["not_forwarded_again"] == 2
    assert doc["matches"] == {
        "us-east-1/default/sender": 2,
        "ap-northeast-1/default/sender": 1,
        "eu-west-1/central/central-rule": 2,
    }
    assert "Not forwarded a second time (one hop only): 2" in err


def test_threads_do_not_change_the_result(tmp_path: Path) -> None:
    rules_text = FORWARDING
    deployment_rules = native(tmp_path / "r.yaml", rules_text)
    from trailmatch.rules import load_rules

    deployment = load_rules(deployment_rules)
    logs = [
        write_log(tmp_path / "logs" / f"{i:03}.json.gz", *[record(n=i * 10 + j) for j in range(5)], compress=True)
        for i in range(40)
    ]
    sources = expand([str(tmp_path / "logs")]).sources
    assert len(sources) == len(logs)
    from trailmatch.sources import Source

    # The same files through loaders: read by Python threads instead of Rust's (as S3 is).
    loaded = [Source(s.name, load=lambda p=s.path: Path(p).read_bytes()) for s in sources if s.path]
    results = []
    summaries = []
    for threads, inputs in ((1, sources), (4, sources), (2, loaded), (3, loaded)):
        seen: list[tuple[str, str, str]] = []
        summary = Scanner(deployment, threads=threads).scan(
            inputs, lambda r, t, e, i, seen=seen: seen.append((r.key, t.id, i, json.loads(e.text)["id"]))
        )
        results.append(seen)
        summary.seconds = 0
        summaries.append(summary.to_dict())
    assert all(r == results[0] for r in results)
    assert all(s == summaries[0] for s in summaries)
    assert len(results[0]) == 200
    assert summaries[0]["matches"]
    assert summaries[0]["forwarded"]


def test_scanner_api_errors_name_every_bad_rule() -> None:
    rules = [
        model.Rule(
            name=f"r{i}",
            region="us-east-1",
            account=ACCOUNT,
            event_pattern='{"a": "x"}',
            location=model.Location("rules.yaml", 3 + i),
        )
        for i in range(2)
    ]
    with pytest.raises(ScanError) as e:
        Scanner(model.Deployment(rules=rules))
    assert "rules.yaml:3 (None)" not in str(e.value)
    assert "rule r0" in str(e.value)
    assert "rule r1" in str(e.value)


# --- progress and summary ------------------------------------------------------------------


def test_progress_bar_on_a_terminal_only() -> None:
    out = io.StringIO()
    Progress(out, total_files=2, total_bytes=10).update(files=1, bytes=5, records=1, matches=0)
    assert out.getvalue() == ""  # not a terminal
    p = Progress(out, total_files=2, total_bytes=None, force=True, hz=0)
    p.update(files=1, bytes=5, records=1, matches=0)
    p.update(files=2, bytes=10, records=3, matches=1, final=True)
    p.close()
    assert out.getvalue().count("\r") == 2
    assert "2/2 files" in out.getvalue()
    assert out.getvalue().endswith("\n")


def test_progress_on_a_multi_file_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        write_log(tmp_path / "logs" / f"{i}.json", record(n=i))
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    status, _, err = run(capsys, "scan", "--rules", str(rules), "--progress", "--dry-run", str(tmp_path / "logs"))
    assert status == 0
    assert "3/3 files" in err
    assert "\r[" in err


def test_summary_lists_every_rule_and_outcome() -> None:
    rules = [
        model.Rule(name="a", region="us-east-1", account="1", event_pattern="{}"),
        model.Rule(name="b", region="eu-west-1", account="1", event_pattern="{}", state="DISABLED"),
    ]
    from trailmatch.scan import ScanSummary

    s = ScanSummary(files=1, records=5, events=5, matched_events=2)
    s.matches_by_rule[rules[0].key] = 2
    from collections import Counter

    text = render_summary(s, rules, {rules[0].arn: Counter(delivered=1, failed=1)})
    header, _, row_a, row_b = text.splitlines()[1:5]
    assert header.split() == ["rule", "region", "bus", "state", "matches", "delivered", "failed"]
    assert row_a.split() == ["a", "us-east-1", "default", "ENABLED", "2", "1", "1"]
    assert row_b.split() == ["b", "eu-west-1", "default", "DISABLED", "0", "0", "0"]


# --- delivery through the scan ---------------------------------------------------------------


def test_failed_delivery_goes_to_the_dead_letter_spool(
    http_server: HttpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.always(500)
    monkeypatch.setenv("HOOK_URL", f"{http_server.url}/hook")
    rules = native(
        tmp_path / "r.yaml",
        """
rules:
  - name: iam
    event_pattern: {source: [aws.iam]}
    targets:
      - id: hook
        arn: arn:aws:lambda:us-east-1:123456789012:function:f
        retry_policy: {maximum_retry_attempts: 2, maximum_event_age_in_seconds: 60}
        destination: {type: webhook, url_env: HOOK_URL, timeout: 2}
""",
    )
    log = write_log(tmp_path / "a.json", record())
    dlq = tmp_path / "dlq.jsonl"
    monkeypatch.setattr("time.sleep", lambda s: None)
    status, _, err = run(capsys, "scan", "--rules", str(rules), "--dlq", str(dlq), str(log))
    assert status == 1
    assert len(http_server.requests) == 3
    (dead,) = [json.loads(line) for line in dlq.read_text().splitlines()]
    assert dead["RULE_ARN"] == "arn:aws:events:us-east-1:123456789012:rule/iam"
    assert dead["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert dead["RETRY_ATTEMPTS"] == 2
    assert "Failed deliveries: 1" in err
    assert "/hook" not in err  # the URL comes from the environment: a secret


def test_rules_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = native(tmp_path / "r.yaml", FORWARDING)
    status, out, _ = run(capsys, "rules", "show", str(rules))
    assert status == 0
    assert "rule sender  us-east-1/default  ENABLED" in out
    assert "-> forward to bus central in eu-west-1" in out
    assert "bus central  eu-west-1" in out
    status, out, _ = run(capsys, "rules", "show", "--json", f"{rules}@us-west-2")
    doc = json.loads(out)
    # The sender keeps its own regions; rules without any would go to us-west-2.
    assert [(r["name"], r["region"]) for r in doc["rules"]] == [
        ("sender", "us-east-1"),
        ("sender", "ap-northeast-1"),
        ("central-rule", "eu-west-1"),
        ("third-rule", "eu-west-1"),
    ]
    assert doc["rules"][2]["targets"][0]["destination"] == "stdout"


def test_environment_is_untouched_by_a_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = native(tmp_path / "r.yaml", IAM_RULES)
    log = write_log(tmp_path / "a.json", record())
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        status, out, _ = run(capsys, "scan", "--rules", str(rules), "--dry-run", "--state", "s.sqlite", str(log))
    finally:
        os.chdir(cwd)
    assert status == 0
    assert json.loads(out)["target"] == "out"
    assert not (tmp_path / "s.sqlite").exists()
    assert not (tmp_path / "trailmatch-dead-letters.jsonl").exists()


def test_readme_main_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's first set-up command: the example detections over the bundled logs."""
    root = Path(__file__).parent.parent
    monkeypatch.chdir(root)
    status, out, err = run(
        capsys,
        "scan",
        "--rules",
        "examples/rules/detections.yaml",
        "tests/data/cloudtrail/invictus-ir_aws_dataset/CloudTrail",
    )
    assert status == 0
    assert "Scanned 55 files" in err
    assert "2,900 records, 2,900 events (2,326 read-only), 165 matched" in err
    rows = {
        line.split()[0]: line.split()[-2:]
        for line in err.splitlines()
        if line.startswith(("iam-", "secret", "access", "logging"))
    }
    assert rows == {
        "iam-policy-changes": ["18", "18"],
        "secret-reads": ["60", "60"],
        "access-key-outside-office": ["78", "78"],
        "logging-tampering": ["9", "9"],
    }
    assert len(out.splitlines()) == 18 + 60 + 78 + 9
    assert out.splitlines()[0].startswith('"')
