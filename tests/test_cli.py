"""The `trailmatch` command: output and exit codes as promised in DESIGN.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trailmatch.cli import main

ENVELOPE = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.iam",
    "account": "111122223333",
    "time": "2026-11-22T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy"},
}


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "trailmatch", *args], capture_output=True, text=True, check=False, timeout=60
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_match_prints_aws_cli_output() -> None:
    code, out, err = run(
        "test-event-pattern",
        "--event-pattern",
        '{"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Attach"}]}}',
        "--event",
        json.dumps(ENVELOPE),
    )
    assert (code, err) == (0, "")
    assert out == '{\n    "Result": true\n}\n'
    assert json.loads(out) == {"Result": True}


def test_no_match(tmp_path: Path) -> None:
    pattern = tmp_path / "p.json"
    pattern.write_text('{"source": ["aws.ec2"]}')
    event = tmp_path / "e.json"
    event.write_text(json.dumps(ENVELOPE))
    code, out, _ = run("test-event-pattern", "--event-pattern", f"file://{pattern}", "--event", f"file://{event}")
    assert code == 0
    assert json.loads(out) == {"Result": False}


def test_invalid_pattern_exits_2_with_aws_message(tmp_path: Path) -> None:
    pattern = tmp_path / "rule.json"
    pattern.write_text('{\n  "source": ["aws.iam"],\n  "detail": {"eventName": "CreateUser"}\n}\n')
    code, out, err = run("test-event-pattern", "--event-pattern", f"file://{pattern}", "--event", json.dumps(ENVELOPE))
    assert code == 2
    assert out == ""
    first, where, hint = err.splitlines()
    assert first == (
        "An error occurred (InvalidEventPatternException) when calling the TestEventPattern operation: "
        'Event pattern is not valid. Reason: "eventName" must be an object or an array'
    )
    assert where == f"  at $.detail.eventName in {pattern} (line 3, column 27, byte 53)"
    assert hint.startswith("  hint: ")


def test_event_without_envelope_is_rejected_unless_any_json() -> None:
    code, _, err = run("test-event-pattern", "--event-pattern", '{"a": ["x"]}', "--event", '{"a": "x"}')
    assert code == 2
    assert "Parameter Event is not valid." in err.splitlines()[0]
    assert "id, account, source, time, region, detail-type" in err
    code, out, _ = run("test-event-pattern", "--any-json", "--event-pattern", '{"a": ["x"]}', "--event", '{"a": "x"}')
    assert code == 0
    assert json.loads(out) == {"Result": True}


def test_invalid_event_json() -> None:
    code, _, err = run("test-event-pattern", "--any-json", "--event-pattern", '{"a": ["x"]}', "--event", '{"a": }')
    assert code == 2
    assert "byte 6" in err


def test_missing_file() -> None:
    code, _, err = run("test-event-pattern", "--event-pattern", "file:///nonexistent/p.json", "--event", "{}")
    assert code == 2
    assert "Unable to load paramfile file:///nonexistent/p.json" in err


def test_usage_errors_exit_2() -> None:
    assert run("test-event-pattern")[0] == 2
    assert run("no-such-command")[0] == 2


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--event-pattern", '{"a": ["x"], "b": [{"numeric": [">", 5]}]}', "--event", '{"a": "x", "b": 3}']
    assert main(["explain", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Result: NO MATCH\n")
    assert 'ok   a: "x" matches "x"' in out
    assert "FAIL b: found 3" in out
    assert main(["explain", "--json", *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matched"] is False
    assert report["branches"][0]["fields"][1]["path"] == "b"


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.startswith("trailmatch ")
