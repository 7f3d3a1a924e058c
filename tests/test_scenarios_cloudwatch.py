"""The two CloudWatch Logs scenarios of the articles (../shared/seeds), end to end through the CLI.

* 003: the article's filter patterns (the CIS-style IAM policy-change pattern, then with the
  maintenance role excluded, and the IAM-user form) on the article's events and variants, with
  ``trailmatch test-metric-filter`` as the console's "Test pattern" — and the same patterns as
  metric filters in a scan.
* 004: CreateBucket records over 25 minutes (two CloudTrail files, as delivered to S3) →
  the per-minute ``CreateBucketCount`` metric → the alarm (Sum, 1 minute, threshold 0) → one
  e-mail per ``ALARM`` transition on a real local SMTP server, through the SNS topic's e-mail
  subscription; the ``OK`` transitions are recorded in the state file.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trailmatch.alarms import load_records
from trailmatch.cli import main
from trailmatch.state import StateStore

if TYPE_CHECKING:
    from servers import SmtpServer

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data"
RULES = DATA / "rules"
SCENARIO_004 = DATA / "scenarios" / "004"
CORPUS_003 = DATA / "filter-patterns" / "scenario_003.jsonl"

# --- 003: IAM policy changes, with and without the maintenance role ---------------------------


def cases_003() -> dict[str, list[dict[str, object]]]:
    by_pattern: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in CORPUS_003.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        by_pattern[str(case["pattern"])].append(case)
    return dict(by_pattern)


ARTICLE_EVENTS = [
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
]
ORIGINAL = "{" + "||".join(f"($.eventName={e})" for e in ARTICLE_EVENTS) + "}"
ROLE_FORM = "{($.userIdentity.sessionContext.sessionIssuer.userName!=cm-policymaintainer)&&(" + ORIGINAL[1:-1] + ")}"


def test_003_the_articles_patterns_are_in_the_corpus() -> None:
    patterns = cases_003()
    assert ORIGINAL in patterns
    assert ROLE_FORM in patterns
    assert any("$.userIdentity.userName!=" in p for p in patterns)  # the IAM-user form
    assert sum(len(c) for c in patterns.values()) >= 13


@pytest.mark.parametrize("pattern", sorted(cases_003()), ids=lambda p: f"{len(p)}-chars")
def test_003_test_metric_filter_reports_what_the_article_reports(
    pattern: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = cases_003()[pattern]
    messages = [str(c["message"]) for c in cases]
    assert main(["test-metric-filter", "--filter-pattern", pattern, "--log-event-messages", *messages]) == 0
    response = json.loads(capsys.readouterr().out)
    assert list(response) == ["matches"]
    for match in response["matches"]:
        assert list(match) == ["eventNumber", "eventMessage", "extractedValues"]
        assert match["eventMessage"] == messages[match["eventNumber"] - 1]
        assert match["extractedValues"] == {}  # JSON patterns extract nothing
    expected = [i + 1 for i, c in enumerate(cases) if c["match"]]
    assert [m["eventNumber"] for m in response["matches"]] == expected, [c["name"] for c in cases]


def test_003_role_exclusion_as_a_metric_filter_in_a_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The article's final pattern deployed as a metric filter: over the article's events, only the
    other role's policy change counts; IAM-user events never do (``!=`` on a missing field)."""
    rules = tmp_path / "iam-policy-changes.yaml"
    rules.write_text(
        "metric_filters:\n"
        "  - name: iam-policy-changes\n"
        "    log_group: aws-cloudtrail-logs\n"
        f"    filter_pattern: '{ROLE_FORM}'\n"
        "    metric: {name: IAMPolicyEventCount, namespace: CloudTrailMetrics}\n",
        encoding="utf-8",
    )
    records = tmp_path / "003.jsonl"
    messages = {str(c["message"]) for cases in cases_003().values() for c in cases}
    records.write_text("".join(m + "\n" for m in sorted(messages)), encoding="utf-8")
    summary_json = tmp_path / "summary.json"
    assert main(["scan", "--rules", str(rules), "--summary-json", str(summary_json), "--dry-run", str(records)]) == 0
    summary = json.loads(summary_json.read_text(encoding="utf-8"))
    expected = sum(
        1
        for m in messages
        if (e := json.loads(m))["eventName"] in ARTICLE_EVENTS
        and e["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("userName", "cm-policymaintainer")
        != "cm-policymaintainer"
    )
    assert expected >= 2
    assert summary["log_events"] == len(messages)
    assert summary["filter_matches"] == {"us-east-1/aws-cloudtrail-logs/iam-policy-changes": expected}
    assert "iam-policy-changes" in capsys.readouterr().err


# --- 004: a bucket was created → metric → alarm → e-mail --------------------------------------

# (time of the evaluation, old state, new state), as one run over both files gives them
TRANSITIONS_004 = [
    ("11:31", "INSUFFICIENT_DATA", "OK"),
    ("11:36", "OK", "ALARM"),  # CreateBucket at 11:35:14
    ("11:37", "ALARM", "OK"),
    ("11:43", "OK", "ALARM"),  # two at 11:42 (Sum 2)
    ("11:44", "ALARM", "OK"),
    ("11:48", "OK", "ALARM"),  # a bucket created in us-east-1: the trail covers every region
    ("11:49", "ALARM", "OK"),
    ("11:52", "OK", "ALARM"),  # a failed CreateBucket: the article's filter ignores errorCode
    ("11:53", "ALARM", "OK"),
]


@pytest.fixture
def smtp_env(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    monkeypatch.setenv("TRAILMATCH_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("TRAILMATCH_SMTP_PORT", str(smtp_server.port))
    monkeypatch.chdir(tmp_path)
    return smtp_server


def scenario_004(state: Path, *paths: Path, extra: tuple[str, ...] = ()) -> int:
    return main(
        [
            "scan",
            "--rules",
            f"{RULES / 'scenario-004.yaml'}@ap-northeast-1",
            "--parameter",
            "Email=me@example.com",
            "--state",
            str(state),
            *extra,
            *(str(p) for p in paths),
        ]
    )


def transitions(state: Path) -> list[tuple[str, str, str]]:
    with StateStore(state) as store:
        (record,) = load_records(store).values()
    return [(t.time.strftime("%H:%M"), t.old_state, t.new_state) for t in record.history]


def test_004_one_email_per_alarm_transition(
    smtp_env: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.db"
    metrics_csv = tmp_path / "metrics.csv"
    assert scenario_004(state, SCENARIO_004, extra=("--metrics-out", str(metrics_csv))) == 0
    mails = smtp_env.wait_for(4)
    assert len(mails) == 4
    assert {m.subject for m in mails} == {'ALARM: "s3-create-bucket" in Asia Pacific (Tokyo)'}
    assert all(m.rcpt_tos == ["me@example.com"] for m in mails)
    bodies = sorted(m.body for m in mails)
    assert all(
        'You are receiving this email because your Amazon CloudWatch Alarm "s3-create-bucket"' in b for b in bodies
    )
    assert any("[2.0 (21/12/23 11:42:00)] was greater than the threshold (0.0)" in b for b in bodies)
    # The OK transitions are recorded with the ALARM ones (and sent nowhere: no OKActions).
    assert transitions(state) == TRANSITIONS_004
    err = capsys.readouterr().err
    assert "Metric filters saw 47 log events and published 47 samples" in err
    assert "s3-create-bucket  ap-northeast-1  OK               9         4          1" in err
    # The per-minute metric: default 0 in quiet minutes, 1 per bucket in the others.
    with metrics_csv.open(encoding="utf-8") as f:
        rows = {r["timestamp"][11:16]: r for r in csv.DictReader(f)}
    assert len(rows) == 26  # 11:30 ... 11:55, every minute has log events
    assert (rows["11:35"]["sum"], rows["11:42"]["sum"], rows["11:36"]["sum"]) == ("1.0", "2.0", "0.0")
    assert rows["11:42"]["unit"] == "Count"


def test_004_incremental_runs_give_the_same_transitions_and_never_mail_twice(
    smtp_env: SmtpServer, tmp_path: Path
) -> None:
    first, second = sorted(SCENARIO_004.glob("*.json.gz"))
    state = tmp_path / "state.db"
    assert scenario_004(state, first) == 0
    assert len(smtp_env.wait_for(2)) == 2
    assert transitions(state) == TRANSITIONS_004[:5]
    assert scenario_004(state, second) == 0
    assert len(smtp_env.wait_for(4)) == 4
    assert transitions(state) == TRANSITIONS_004
    # Reading everything again publishes nothing twice and sends nothing.
    assert scenario_004(state, SCENARIO_004) == 0
    assert transitions(state) == TRANSITIONS_004
    assert len(smtp_env.messages) == 4


def test_004_dry_run_prints_the_notifications(smtp_env: SmtpServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert scenario_004(Path("unused.db"), SCENARIO_004, extra=("--dry-run",)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [list(x) for x in lines] == [["alarm", "action", "state", "payload"]] * 4
    assert {x["action"] for x in lines} == {"arn:aws:sns:ap-northeast-1:123456789012:s3-create-bucket"}
    assert [x["payload"]["NewStateValue"] for x in lines] == ["ALARM"] * 4
    assert lines[1]["payload"]["StateChangeTime"].startswith("2023-12-21T11:43:00")
    assert smtp_env.messages == []
    assert not Path("unused.db").exists()


def test_004_alarm_commands_read_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    state = tmp_path / "state.db"
    assert scenario_004(state, SCENARIO_004, extra=("--dry-run",)) == 0
    assert not state.exists()  # a dry run writes no state
    # A real run whose SNS topic is bound to a file (no SMTP needed).
    config = tmp_path / "config.yaml"
    sink = tmp_path / "notifications.jsonl"
    config.write_text(
        f"destinations:\n  - match: arn:aws:sns:ap-northeast-1:123456789012:s3-create-bucket\n"
        f"    type: file\n    path: {sink}\n",
        encoding="utf-8",
    )
    assert scenario_004(state, SCENARIO_004, extra=("--rules", str(config))) == 0
    assert len(sink.read_text(encoding="utf-8").splitlines()) == 4
    capsys.readouterr()
    assert main(["alarms", "show", "--state", str(state), "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert (shown["name"], shown["state"], shown["transitions"]) == ("s3-create-bucket", "OK", 9)
    out = tmp_path / "plots"
    assert main(["alarms", "plot", "--state", str(state), "--out", str(out)]) == 0
    (png,) = out.glob("*.png")
    assert png.name == "ap-northeast-1_s3-create-bucket.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.rmtree(out)
