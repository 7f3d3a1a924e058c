"""``trailmatch rules lint``: one test per finding, and the rules that must stay quiet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trailmatch import model
from trailmatch.cli import main
from trailmatch.lint import Finding, lint

BOUND = model.DestinationSpec("stdout")


def rule(
    pattern: dict[str, Any],
    *,
    name: str = "r",
    region: str = "us-east-1",
    state: str = "ENABLED",
    bus: str = "default",
    targets: tuple[model.Target, ...] | None = None,
) -> model.Rule:
    if targets is None:
        targets = (model.Target(id="t", arn="arn:aws:sqs:us-east-1:1:q", destination=BOUND),)
    return model.Rule(
        name=name,
        region=region,
        account="111122223333",
        event_pattern=json.dumps(pattern),
        state=state,
        bus=bus,
        targets=targets,
        location=model.Location("rules.yaml", 7, name),
    )


def codes(*rules: model.Rule) -> list[str]:
    return [f.code for f in lint(model.Deployment(rules=list(rules)), environ={})]


@pytest.mark.parametrize(
    "pattern",
    [
        {"detail": {"eventName": ["GetSecretValue"]}},
        {"detail": {"eventName": ["DescribeInstances", "ListUsers", {"prefix": "Get"}]}, "source": ["aws.ec2"]},
        {"detail": {"eventName": [{"wildcard": "List*"}]}, "source": ["aws.iam"]},
        {"detail": {"readOnly": [True]}},
        {"$or": [{"detail": {"eventName": ["GetUser"]}}, {"detail": {"readOnly": [True]}}]},
    ],
)
def test_enabled_rule_matching_only_read_only_calls(pattern: dict[str, Any]) -> None:
    assert codes(rule(pattern)) == ["read-only-unseen"]
    # The state that sees them is fine.
    assert codes(rule(pattern, state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")) == []


@pytest.mark.parametrize(
    "pattern",
    [
        {"detail": {"eventName": ["GetSecretValue", "PutSecretValue"]}},  # one write is enough
        {"detail": {"eventName": ["GetObject"]}},  # an S3 data event: ENABLED rules see it
        {"detail": {"eventName": [{"prefix": "Get"}]}},  # may be GetObject
        {"detail": {"eventName": ["GetUser"], "readOnly": [False]}},
        {"$or": [{"detail": {"eventName": ["GetUser"]}}, {"detail": {"eventName": ["CreateUser"]}}]},
        {"source": ["aws.iam"]},
    ],
)
def test_rules_that_can_see_writes_are_quiet(pattern: dict[str, Any]) -> None:
    assert "read-only-unseen" not in codes(rule(pattern))


def test_global_service_outside_us_east_1() -> None:
    iam = {"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}
    assert codes(rule(iam, region="ap-northeast-1")) == ["global-region"]
    assert codes(rule(iam)) == []
    assert codes(rule({"source": ["aws.cloudfront", "aws.iam"]}, region="eu-west-1")) == ["global-region"]
    assert codes(rule({"source": ["aws.iam", "aws.ec2"]}, region="eu-west-1")) == []
    # A bus in another region that us-east-1 forwards to does receive IAM events.
    receiver = rule(iam, name="receiver", region="ap-northeast-1", bus="central")
    forward = model.Target(id="fwd", arn="arn:aws:events:ap-northeast-1:111122223333:event-bus/central")
    sender = rule({"source": ["aws.iam"]}, name="sender", targets=(forward,))
    assert codes(sender, receiver) == []
    (finding,) = lint(model.Deployment(rules=[rule(iam, region="eu-west-1")]), environ={})
    assert "IAM events" in finding.message
    assert finding.hint is not None
    assert str(finding).startswith("rules.yaml:7 (r): global-region: rule r: ")


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ({"eventName": ["CreateUser"]}, "under detail"),
        ({"source": ["iam.amazonaws.com"]}, "'aws.iam'"),
        ({"detail": {"eventSource": ["aws.iam"]}}, "iam.amazonaws.com"),
        ({"source": ["aws.s3"], "detail": {"eventSource": ["iam.amazonaws.com"]}}, "never occur together"),
        ({"detail-type": ["AWS API Call Via CloudTrail"]}, "AWS API Call via CloudTrail"),
        ({"detail-type": ["AWS Console Signin via CloudTrail"]}, "AWS Console Sign In via CloudTrail"),
        ({"detail": {"eventName": ["createUser"]}}, "PascalCase"),
    ],
)
def test_patterns_that_never_match(pattern: dict[str, Any], words: str) -> None:
    findings = [f for f in lint(model.Deployment(rules=[rule(pattern)]), environ={}) if f.code == "never-matches"]
    assert len(findings) == 1
    assert words in str(findings[0])


def test_targets_and_destinations(monkeypatch: pytest.MonkeyPatch) -> None:
    unbound = model.Target(id="t", arn="arn:aws:sns:us-east-1:111122223333:alerts")
    assert codes(rule({"source": ["aws.iam"]}, targets=(unbound,))) == ["no-destination"]
    assert codes(rule({"source": ["aws.iam"]}, targets=())) == ["no-targets"]
    broken = model.Target(
        id="t",
        arn="arn:aws:sqs:us-east-1:1:q",
        destination=model.DestinationSpec("slack", {"url_env": "NOT_SET_ANYWHERE"}),
    )
    assert codes(rule({"source": ["aws.iam"]}, targets=(broken,))) == ["bad-destination"]
    to_bus = model.Target(
        id="fwd", arn="arn:aws:events:eu-west-1:111122223333:event-bus/nowhere", input_path="$.detail"
    )
    assert codes(rule({"source": ["aws.iam"]}, targets=(to_bus,))) == ["bus-target-input", "unknown-bus"]


def test_pattern_warnings_and_load_warnings() -> None:
    trailing = model.Rule(
        name="r",
        region="us-east-1",
        account="1",
        event_pattern='{"source": ["aws.iam"]} }',
        targets=(model.Target(id="t", arn="arn:aws:sqs:us-east-1:1:q", destination=BOUND),),
    )
    deployment = model.Deployment(rules=[trailing])
    deployment.warnings.append("r.yaml:3: Topic: FilterPolicy is not modelled (ignored)")
    found = lint(deployment, environ={})
    assert [f.code for f in found] == ["load-warning", "pattern-warning"]
    assert "text after the end of the pattern" in found[1].message


def test_each_finding_once_across_regions() -> None:
    rules = [rule({"detail": {"eventName": ["GetUser"]}}, region=r) for r in ("us-east-1", "eu-west-1")]
    found = lint(model.Deployment(rules=rules), environ={})
    assert [f.code for f in found] == ["read-only-unseen"]


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text(
        "rules:\n  - name: iam\n    event_pattern: {source: [aws.iam]}\n"
        "    targets: [{id: t, arn: 'arn:aws:sqs:us-east-1:1:q', destination: {type: stdout}}]\n"
    )
    assert main(["rules", "lint", str(clean)]) == 0
    assert "0 findings in 1 rule from 1 file" in capsys.readouterr().err
    dirty = tmp_path / "dirty.yaml"
    dirty.write_text("rules:\n  - name: bad\n    event_pattern: {eventName: [CreateUser]}\n")
    assert main(["rules", "lint", str(dirty)]) == 1
    out = capsys.readouterr().out
    assert f"{dirty}:2 (bad): never-matches" in out or f"{dirty}:3 (bad): never-matches" in out
    assert "no-targets" in out
    assert main(["rules", "lint", str(tmp_path / "missing.yaml")]) == 2


def test_finding_text() -> None:
    f = Finding("no-targets", "nothing", "r", model.Location("a.yaml", 3), "add one")
    assert str(f) == "a.yaml:3: no-targets: rule r: nothing\n  hint: add one"
