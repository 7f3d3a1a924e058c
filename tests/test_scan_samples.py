"""``trailmatch scan`` over every real CloudTrail sample bundled in tests/data, with the rules of
the three EventBridge scenarios (000, 001, 002).

The expected count of every rule is computed here independently of the engine, by filtering the
records as plain Python dicts with the rule's conditions spelt out (region, state and read-only
semantics included), and compared with the scan's summary.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from samples import CLOUDTRAIL
from trailmatch.cli import main

RULES = Path(__file__).parent / "data" / "rules"
SECRET = "arn:aws:secretsmanager:us-east-1:123837392027:secret:stratus-red-team-retrieve-secret-6-fAVH0t"
KEY = "AKIATFQR7NSC8Q4X20BJ"
ALLOWED_PREFIX = "111."
SENDER_REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2"]
IAM_CHANGES = {
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "DetachUserPolicy",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "CreatePolicyVersion",
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples laid out as a user would have them: CloudTrail files, arrays, and the
    panther records as gzipped JSON Lines (their test wrapper removed)."""
    root = tmp_path_factory.mktemp("logs")
    shutil.copytree(CLOUDTRAIL / "invictus-ir_aws_dataset" / "CloudTrail", root / "invictus")
    shutil.copytree(CLOUDTRAIL / "stratus-red-team_detonation-logs" / "docs" / "detonation-logs", root / "stratus")
    shutil.copy(CLOUDTRAIL / "aws-doc-examples.json", root / "aws-doc-examples.json")
    lines = (CLOUDTRAIL / "panther-analysis_tests" / "panther_cloudtrail_test_records.jsonl").read_text()
    records = "".join(json.dumps(json.loads(line)["record"]) + "\n" for line in lines.splitlines())
    (root / "panther.jsonl.gz").write_bytes(gzip.compress(records.encode()))
    return root


def all_records(root: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".json":
            doc = json.loads(path.read_text(encoding="utf-8"))
            out.extend(doc["Records"] if isinstance(doc, dict) else doc)
        elif path.name.endswith(".jsonl.gz"):
            out.extend(json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines())
    return out


def api_call(r: dict[str, Any]) -> bool:
    """detail-type "AWS API Call via CloudTrail"."""
    return r.get("eventType", "AwsApiCall") == "AwsApiCall" and "eventSource" in r


def hidden_from_enabled(r: dict[str, Any]) -> bool:
    management = r.get("managementEvent", r.get("eventCategory", "Management") == "Management")
    return management is True and r.get("readOnly") is True


def expected_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    def ident(r: dict[str, Any]) -> dict[str, Any]:
        u = r.get("userIdentity")
        return u if isinstance(u, dict) else {}

    secret_reads = [
        r
        for r in records
        if r.get("awsRegion") == "us-east-1"
        and api_call(r)
        and r.get("eventSource") == "secretsmanager.amazonaws.com"
        and r.get("eventName") == "GetSecretValue"
        and isinstance(r.get("requestParameters"), dict)
        and r["requestParameters"].get("secretId") == SECRET
    ]
    counts = {"us-east-1/default/detect-get-secret-value": len(secret_reads)}
    forwarded = []
    for region in SENDER_REGIONS:
        sent = [
            r for r in records if r.get("awsRegion") == region and api_call(r) and ident(r).get("accessKeyId") == KEY
        ]
        sent = [r for r in sent if not hidden_from_enabled(r)]
        counts[f"{region}/default/eventbridge-AcceskeyUsed-rule-sender"] = len(sent)
        forwarded.extend(sent)
    received = [
        r
        for r in forwarded
        if isinstance(r.get("sourceIPAddress"), str) and not r["sourceIPAddress"].startswith(ALLOWED_PREFIX)
    ]
    counts["ap-northeast-1/eventbrdge-bus-receiver/eventbridge-AcceskeyUsed-rule-receiver"] = len(received)
    iam = [
        r
        for r in records
        if r.get("awsRegion") == "us-east-1"
        and api_call(r)
        and r.get("eventSource") == "iam.amazonaws.com"
        and r.get("eventName") in IAM_CHANGES
        and not hidden_from_enabled(r)
    ]
    counts["us-east-1/default/iam-policy-changes-to-slack"] = len(iam)
    return {k: v for k, v in counts.items() if v}


def test_scan_all_samples_with_the_scenarios_rules(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = tmp_path / "sender.yaml"
    sender.write_text((RULES / "scenario-001-sender.yaml").read_text(encoding="utf-8").replace("AKIAxxx", KEY))
    summary_path = tmp_path / "summary.json"
    status = main(
        [
            "scan",
            "--rules",
            f"{RULES / 'scenario-000.yaml'}@us-east-1",
            "--rules",
            f"{sender}@{','.join(SENDER_REGIONS)}",
            "--rules",
            f"{RULES / 'scenario-001-receiver.yaml'}@ap-northeast-1",
            "--rules",
            str(RULES / "scenario-002.yaml"),
            "--parameter",
            f"SecretArn={SECRET}",
            "--parameter",
            "Email=security@example.com",
            "--parameter",
            f"AccessKeyId={KEY}",
            "--parameter",
            f"AllowedIpPrefix={ALLOWED_PREFIX}",
            "--account",
            "123837392027",
            "--dry-run",
            "--summary-json",
            str(summary_path),
            str(logs),
        ]
    )
    assert status == 0
    records = all_records(logs)
    expected = expected_counts(records)
    summary = json.loads(summary_path.read_text())
    assert summary["matches"] == expected
    # Every scenario's rule fires on the real data.
    assert {k.rsplit("/", 1)[1] for k in expected} == {
        "detect-get-secret-value",
        "eventbridge-AcceskeyUsed-rule-sender",
        "eventbridge-AcceskeyUsed-rule-receiver",
        "iam-policy-changes-to-slack",
    }
    assert summary["records"] == len(records) == 3694
    assert summary["errors"] == 0
    assert summary["files"] == 55 + 35 + 1 + 1
    # Senders forward to the receiver bus; only its rule and the others deliver.
    forwarded = sum(v for k, v in expected.items() if "rule-sender" in k)
    assert summary["forwarded"] == {"ap-northeast-1/eventbrdge-bus-receiver": forwarded}
    deliveries = capsys.readouterr().out.splitlines()
    delivering = sum(v for k, v in expected.items() if "rule-sender" not in k)
    assert len(deliveries) == summary["deliveries"] == delivering
    # Records CloudTrail would not deliver are counted, not lost.
    delivered = summary["events"] + sum(summary["skipped"].values())
    assert delivered == summary["records"]


def test_scan_all_samples_with_the_cis_pack(logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--pack cis`` over every sample: each record is one log event of the trail's log group,
    whatever its region; each metric filter's count equals the reference evaluator's
    (``tests/filter_reference.py``, ``json.loads`` and the reference tables)."""
    from filter_reference import matches

    from trailmatch.rules.packs import load_pack

    summary_path = tmp_path / "summary.json"
    metrics_path = tmp_path / "metrics.jsonl"
    argv = ["scan", "--pack", "cis", "--dry-run", "--summary-json", str(summary_path)]
    assert main([*argv, "--metrics-out", str(metrics_path), str(logs)]) == 0
    summary = json.loads(summary_path.read_text())
    records = all_records(logs)
    messages = [json.dumps(r) for r in records]
    filters = load_pack("cis").metric_filters
    expected = {f.key: sum(matches(f.filter_pattern, m) for m in messages) for f in filters}
    assert summary["filter_matches"] == {k: v for k, v in expected.items() if v}
    assert summary["log_events"] == len(records) == 3694
    assert summary["errors"] == 0
    # The pack's filters publish 1 per match (no default value): one sample per match of a
    # record with a time (some Panther test records have none, or "redacted").
    timed = [m for r, m in zip(records, messages, strict=True) if str(r.get("eventTime", "x"))[:2] in ("19", "20")]
    published = sum(matches(f.filter_pattern, m) for f in filters for m in timed)
    assert summary["untimed"] == len(records) - len(timed) > 0
    assert summary["samples"] == published < sum(expected.values())
    points = [json.loads(line) for line in metrics_path.read_text().splitlines()]
    assert sum(p["sum"] for p in points) == published
    # Alarms went into ALARM and their notifications were printed, one JSON line each.
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    to_alarm = [t for t in summary["alarms"]["transitions"] if t["new_state"] == "ALARM"]
    assert len(lines) == len(to_alarm) > 0
    assert {x["action"] for x in lines} == {"arn:aws:sns:us-east-1:123456789012:cis-alarms"}
