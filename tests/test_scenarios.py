"""The three EventBridge scenarios of the articles (../shared/seeds), end to end through the CLI.

Each test runs ``trailmatch scan`` on a CloudTrail log written from the article, with the
article's rules, and checks what a real local server received: e-mails on an SMTP server
(scenarios 000 and 001, through the SNS topic's e-mail subscription) and Slack webhook POSTs on
an HTTP server (scenario 002).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from trailmatch.cli import main

if TYPE_CHECKING:
    from servers import HttpServer, SmtpServer

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data"
RULES = DATA / "rules"
SCENARIOS = DATA / "scenarios"
SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:sample/secret-wPvfcr"
SNS_FOOTER_START = "\n\n--\nIf you wish to stop receiving notifications"


@pytest.fixture
def smtp_env(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SmtpServer:
    monkeypatch.setenv("TRAILMATCH_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("TRAILMATCH_SMTP_PORT", str(smtp_server.port))
    monkeypatch.chdir(tmp_path)  # the dead-letter spool, if any, lands here
    return smtp_server


def message_of(body: str) -> str:
    """The message of an SNS e-mail notification (the body without SNS's footer)."""
    return body.split(SNS_FOOTER_START, 1)[0]


# --- 000: GetSecretValue, read-only, seen only with ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS ---


def scenario_000(rules: Path, extra: list[str] | None = None) -> int:
    return main(
        [
            "scan",
            "--rules",
            f"{rules}@ap-northeast-1",
            "--account",
            "111111111111",
            "--parameter",
            "Email=security@example.com",
            "--parameter",
            f"SecretArn={SECRET_ARN}",
            *(extra or []),
            str(SCENARIOS / "000-cloudtrail.json"),
        ]
    )


def test_000_get_secret_value_is_mailed(smtp_env: SmtpServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert scenario_000(RULES / "scenario-000.yaml") == 0
    (mail,) = smtp_env.wait_for(1)
    assert mail.rcpt_tos == ["security@example.com"]
    assert mail.subject == "AWS Notification Message"
    event = json.loads(message_of(mail.body))
    expected = json.loads((SCENARIOS / "000-expected-event.json").read_text(encoding="utf-8"))
    # The article's event, field for field; only the id differs (AWS draws a random one).
    assert list(event) == list(expected)
    assert event["id"] != expected["id"]
    event.pop("id")
    expected.pop("id")
    assert event == expected
    summary = capsys.readouterr().err
    assert "detect-get-secret-value" in summary
    assert "3 records, 3 events (2 read-only), 1 matched" in summary
    assert len(smtp_env.messages) == 1


def test_000_enabled_rule_sees_no_read_only_call(
    smtp_env: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = (RULES / "scenario-000.yaml").read_text(encoding="utf-8")
    assert "State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" in template
    enabled = tmp_path / "scenario-000-enabled.yaml"
    enabled.write_text(template.replace("State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "State: ENABLED"))
    assert scenario_000(enabled) == 0
    assert "0 matched" in capsys.readouterr().err
    assert smtp_env.messages == []
    # The linter points at the trap.
    lint = ["rules", "lint", f"{enabled}@ap-northeast-1", "--parameter", f"SecretArn={SECRET_ARN}"]
    assert main([*lint, "--parameter", "Email=security@example.com"]) == 1
    out = capsys.readouterr().out
    assert "read-only-unseen" in out
    assert "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" in out


def test_000_dry_run_prints_the_payload(smtp_env: SmtpServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert scenario_000(RULES / "scenario-000.yaml", ["--dry-run"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    delivery = json.loads(line)
    assert list(delivery) == ["rule", "target", "payload"]
    assert (delivery["rule"], delivery["target"]) == ("detect-get-secret-value", "sns-topic")
    assert delivery["payload"]["detail"]["eventID"] == "903caaaa-7777-4444-9999-example"
    assert smtp_env.messages == []


# --- 001: access key used from outside the usual range, forwarded from every region ---------

ARTICLE_001_TEXT = """\
"通常とは異なる IP アドレスからのアクセスキー利用を検知しました"
"Account ID : xxxxxxxx "
"AccessKey ID : AKIxxx "
"リージョン : us-east-1 "
"実行されたイベント : RunInstances "
"ソースIPアドレス : 100.xxx.xxx.xxx "
"イベントソース : ec2.amazonaws.com "
"発生時間 : 2024-10-22T22:24:57Z "
"イベント ID : fba272f1-xxx-xxx-xxx-xxx \""""


def scenario_001(tmp_path: Path, extra: list[str] | None = None, sender_regions: str = "") -> int:
    # The article's sender template names the key as "AKIAxxx", its text as "AKIxxx": the reader
    # puts their key in both places; here it is the article's "AKIxxx".
    sender = tmp_path / "sender.yaml"
    sender.write_text((RULES / "scenario-001-sender.yaml").read_text(encoding="utf-8").replace("AKIAxxx", "AKIxxx"))
    regions = sender_regions or "us-east-1,eu-west-1,ap-northeast-1"
    return main(
        [
            "scan",
            "--rules",
            f"{sender}@{regions}",
            "--rules",
            f"{RULES / 'scenario-001-receiver.yaml'}@ap-northeast-1",
            "--parameter",
            "AccessKeyId=AKIxxx",
            "--parameter",
            "Email=security@example.com",
            "--account",
            "111111111111",
            *(extra or []),
            str(SCENARIOS / "001"),
        ]
    )


def test_001_unusual_ip_is_mailed_with_the_articles_text(
    smtp_env: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scenario_001(tmp_path) == 0
    mails = smtp_env.wait_for(2)
    texts = [message_of(m.body) for m in mails]
    # Files are read in name order: ap-northeast-1 (a read-only call: not seen by the ENABLED
    # sender), eu-west-1, sa-east-1 (no sender rule there), us-east-1.
    assert texts[1] == ARTICLE_001_TEXT
    assert "リージョン : eu-west-1 " in texts[0]
    assert "ソースIPアドレス : 198.51.100.77 " in texts[0]
    assert len(smtp_env.messages) == 2
    err = capsys.readouterr().err
    assert "Forwarded to buses: ap-northeast-1/eventbrdge-bus-receiver 3" in err


def test_001_allowed_range_and_other_regions_are_quiet(smtp_env: SmtpServer, tmp_path: Path) -> None:
    # The sender only in ap-northeast-1: the us-east-1 and eu-west-1 calls are never forwarded.
    assert scenario_001(tmp_path, sender_regions="ap-northeast-1") == 0
    assert smtp_env.messages == []


def test_001_dry_run_payloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scenario_001(tmp_path, ["--dry-run"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["rule"] for d in lines] == ["eventbridge-AcceskeyUsed-rule-receiver"] * 2
    assert lines[1]["payload"] == ARTICLE_001_TEXT


# --- 002: risky IAM changes to Slack --------------------------------------------------------


def test_002_iam_changes_post_to_slack(
    http_server: HttpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{http_server.url}/services/T000/B000/XXXX")
    monkeypatch.chdir(tmp_path)
    status = main(
        [
            "scan",
            "--rules",
            str(RULES / "scenario-002.yaml"),
            "--rules",
            str(RULES / "scenario-002-destinations.yaml"),
            str(SCENARIOS / "002-cloudtrail.jsonl"),
        ]
    )
    assert status == 0
    posts = http_server.requests
    assert [p.path for p in posts] == ["/services/T000/B000/XXXX"] * 4
    bodies = [p.json() for p in posts]
    text = [json.dumps(b, ensure_ascii=False) for b in bodies]
    for name, body in zip(
        ["AttachUserPolicy", "CreatePolicyVersion", "DetachRolePolicy", "AttachGroupPolicy"], text, strict=True
    ):
        assert name in body
    assert all("ListUsers" not in t and "CreateUser" not in t and "RunInstances" not in t for t in text)
    err = capsys.readouterr().err
    assert "iam-policy-changes-to-slack" in err
    # The webhook URL is a secret: it is never printed.
    assert "B000/XXXX" not in err


def test_002_rerun_with_state_delivers_nothing_twice(
    http_server: HttpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{http_server.url}/hook")
    monkeypatch.chdir(tmp_path)
    args = [
        "scan",
        "--rules",
        str(RULES / "scenario-002.yaml"),
        "--rules",
        str(RULES / "scenario-002-destinations.yaml"),
        "--state",
        str(tmp_path / "state.sqlite"),
        "--quiet",
        str(SCENARIOS / "002-cloudtrail.jsonl"),
    ]
    assert main(args) == 0
    assert len(http_server.requests) == 4
    assert main(args) == 0
    assert len(http_server.requests) == 4


def test_002_iam_rule_outside_us_east_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", f"{RULES / 'scenario-002.yaml'}@ap-northeast-1"]) == 1
    out = capsys.readouterr().out
    assert "global-region" in out
    assert "us-east-1" in out


def test_scan_through_the_installed_command(tmp_path: Path) -> None:
    """The console script runs the same scan (the three scenarios' files in one directory)."""
    import subprocess
    import sys

    logs = tmp_path / "logs"
    shutil.copytree(SCENARIOS / "001", logs / "001")
    shutil.copy(SCENARIOS / "002-cloudtrail.jsonl", logs)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmatch",
            "scan",
            "--rules",
            str(RULES / "scenario-002.yaml"),
            "--dry-run",
            "--summary-json",
            str(tmp_path / "summary.json"),
            str(logs),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["files"] == 5
    assert summary["records"] == 6 + 8
    assert summary["matches"] == {"us-east-1/default/iam-policy-changes-to-slack": 4}
