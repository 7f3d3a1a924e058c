"""Rule packs: the CIS / Security Hub CloudWatch pack's content and attribution, its alarm
settings, its parameters, every filter compiled by the engine, and every filter matching the
CloudTrail samples its control targets (and only what it should, compared with an EventBridge
pattern of the same intent)."""

from __future__ import annotations

import fnmatch
import importlib.resources
import json
from pathlib import Path

import pytest
import yaml

import trailmatch
from samples import cloudtrail_records
from trailmatch import model
from trailmatch.rules import PackInfo, RulesError, list_packs, load_pack, load_rules
from trailmatch.rules.cloudwatch import default_log_group

ROOT = Path(__file__).parent.parent
SCHEMA = ROOT / "docs" / "rules.schema.json"
DERIVED = Path(__file__).parent / "data" / "packs" / "cis-eventbridge-derived.json"

#: The controls of the CIS pack, in the pack's order, with the names the pack gives them.
CIS_CONTROLS = [
    ("securityhub:CloudWatch.1", "root_usage"),
    ("securityhub:CloudWatch.2", "unauthorized_api_calls"),
    ("securityhub:CloudWatch.3", "no_mfa_console_signin"),
    ("securityhub:CloudWatch.4", "iam_changes"),
    ("securityhub:CloudWatch.5", "cloudtrail_cfg_changes"),
    ("securityhub:CloudWatch.6", "console_signin_failure"),
    ("securityhub:CloudWatch.7", "disable_or_delete_cmk_changes"),
    ("securityhub:CloudWatch.8", "s3_bucket_policy_changes"),
    ("securityhub:CloudWatch.9", "aws_config_changes"),
    ("securityhub:CloudWatch.10", "security_group_changes"),
    ("securityhub:CloudWatch.11", "nacl_changes"),
    ("securityhub:CloudWatch.12", "network_gw_changes"),
    ("securityhub:CloudWatch.13", "route_table_changes"),
    ("securityhub:CloudWatch.14", "vpc_changes"),
    ("cis-aws-v1.4.0:4.15", "organizations_changes"),
]

#: For each control, CloudTrail samples (tests/data/cloudtrail) of what it targets; the filter
#: must match them. Samples it must not match follow "!".
CIS_SAMPLES = {
    "securityhub:CloudWatch.1": ["aws-doc-examples.json#5", "!aws-doc-examples.json#1"],
    "securityhub:CloudWatch.2": ["aws-doc-examples.json#16", "aws.credential-access.ec2-get-password-data.json#0"],
    "securityhub:CloudWatch.3": [
        "aws-doc-examples.json#1",
        "aws.initial-access.console-login-without-mfa.json#0",
        "!aws-doc-examples.json#2",  # MFAUsed: Yes
        "!aws-doc-examples.json#5",  # the root user: CloudWatch.1's business
    ],
    "securityhub:CloudWatch.4": [
        "aws.persistence.iam-create-admin-user.json#0",
        "aws.persistence.iam-create-backdoor-role.json#0",
    ],
    "securityhub:CloudWatch.5": [
        "aws-doc-examples.json#0",
        "aws-doc-examples.json#10",
        "aws.defense-evasion.cloudtrail-delete.json#0",
    ],
    "securityhub:CloudWatch.6": ["aws-doc-examples.json#3", "aws-doc-examples.json#6", "!aws-doc-examples.json#1"],
    "securityhub:CloudWatch.7": [
        "panther:AWS.KMS.CustomerManagedKeyLoss:KMS Key Disabled",
        "panther:AWS.KMS.CustomerManagedKeyLoss:KMS Key Scheduled For Deletion",
    ],
    "securityhub:CloudWatch.8": ["panther:AWS.CloudTrail.ShortLifecycle:1-Day Lifecycle Rule on Known CT Bucket"],
    "securityhub:CloudWatch.9": [
        "panther:AWS.ConfigService.Created:Config Recorder Delivery Channel Created",
        "panther:AWS.ConfigService.Created:Config Recorder Deleted",
    ],
    "securityhub:CloudWatch.10": ["aws.exfiltration.ec2-security-group-open-port-22-ingress.json#0"],
    "securityhub:CloudWatch.11": ["panther:AWS.EC2.NetworkACLModified:Network ACL Modified"],
    "securityhub:CloudWatch.12": ["panther:AWS.EC2.GatewayModified:Network Gateway Modified"],
    "securityhub:CloudWatch.13": ["panther:AWS.EC2.RouteTableModified:Route Table Modified"],
    "securityhub:CloudWatch.14": ["panther:AWS.EC2.VPCModified:VPC Modified"],
    "cis-aws-v1.4.0:4.15": ["aws.defense-evasion.organizations-leave.json#1"],
}


@pytest.fixture(scope="module")
def cis() -> model.Deployment:
    return load_pack("cis", account="111122223333")


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return dict(cloudtrail_records())


def control_of(alarm: model.Alarm) -> str:
    return alarm.description.split(": ", 1)[0]


def matched_messages(pattern: str, messages: list[str]) -> set[str]:
    """The messages ``pattern`` matches, through the public TestMetricFilter API (50 at a time,
    as AWS takes them)."""
    out: set[str] = set()
    for start in range(0, len(messages), 50):
        response = trailmatch.test_metric_filter(pattern, messages[start : start + 50])
        out.update(m["eventMessage"] for m in response["matches"])
    return out


# --- the catalogue ----------------------------------------------------------------------------


def test_list_packs():
    (info,) = list_packs()
    assert isinstance(info, PackInfo)
    assert (info.name, info.metric_filters, info.alarms, info.rules, info.topics) == ("cis", 15, 15, 0, 1)
    assert "CloudWatch.1-14" in info.title
    assert info.source == "https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html"
    assert list(info.parameters) == ["LogGroupName"]
    assert "aws-cloudtrail-logs-<account>" in info.parameters["LogGroupName"]


def test_pack_files_are_package_data():
    files = importlib.resources.files("trailmatch.packs")
    assert files.joinpath("cis.yaml").is_file()


def test_pack_validates_against_the_schema():
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    text = importlib.resources.files("trailmatch.packs").joinpath("cis.yaml").read_text(encoding="utf-8")
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text))]
    assert errors == []


# --- content ------------------------------------------------------------------------------------


def test_counts_and_names(cis):
    assert len(cis.metric_filters) == len(cis.alarms) == 15
    assert [f.name for f in cis.metric_filters] == [f"{base}_metric" for _, base in CIS_CONTROLS]
    assert [a.name for a in cis.alarms] == [f"{base}_alarm" for _, base in CIS_CONTROLS]
    assert [control_of(a) for a in cis.alarms] == [cid for cid, _ in CIS_CONTROLS]
    assert cis.rules == []
    assert cis.warnings == []
    assert cis.unsupported == []
    (topic,) = cis.topics
    assert topic.arn == "arn:aws:sns:us-east-1:111122223333:cis-alarms"


def test_metric_filters_publish_one_per_match(cis):
    for f in cis.metric_filters:
        t = f.transformation
        assert (t.metric_name, t.metric_namespace, t.metric_value) == (f.name, "CISBenchmark", "1")
        assert (t.default_value, t.dimensions, t.unit) == (None, {}, "None")
        assert f.log_group == default_log_group("111122223333") == "aws-cloudtrail-logs-111122223333"
        assert 0 < len(f.filter_pattern) <= 1024


def test_alarm_settings_follow_the_cis_remediation(cis):
    by_metric = {(f.transformation.metric_namespace, f.transformation.metric_name) for f in cis.metric_filters}
    for a in cis.alarms:
        assert (a.namespace, a.metric_name) in by_metric
        assert (a.statistic, a.period, a.evaluation_periods, a.threshold) == ("Sum", 300, 1, 1.0)
        assert a.comparison_operator == "GreaterThanOrEqualToThreshold"
        assert (a.treat_missing_data, a.datapoints_to_alarm, a.m) == ("missing", None, 1)
        assert a.alarm_actions == ("arn:aws:sns:us-east-1:111122223333:cis-alarms",)
        assert a.ok_actions == a.insufficient_data_actions == ()
        assert a.actions_enabled


def test_attribution(cis):
    text = importlib.resources.files("trailmatch.packs").joinpath("cis.yaml").read_text(encoding="utf-8")
    for a in cis.alarms:
        control = control_of(a)
        assert "(https://" in a.description, a.name
        if control.startswith("securityhub:"):
            number = control.rsplit(".", 1)[1]
            assert a.description.endswith(f"cloudwatch-controls.html#cloudwatch-{number})")
        # The comment above each filter repeats the control id, its title and its source.
        assert f"# {control}: " in text
    assert "prowler" in text
    assert "Apache-2.0" in text


def test_the_pitfall_variants_are_not_in_the_pack(cis):
    patterns = {control_of(a): f.filter_pattern for a, f in zip(cis.alarms, cis.metric_filters, strict=True)}
    assert patterns["securityhub:CloudWatch.2"] == (
        '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'
    )
    assert "HeadBucket" not in patterns["securityhub:CloudWatch.2"]
    assert "ModifySecurityGroupRules" not in patterns["securityhub:CloudWatch.10"]
    assert '($.userIdentity.type = "IAMUser")' in patterns["securityhub:CloudWatch.3"]
    assert max(len(p) for p in patterns.values()) == 758  # CIS 4.15, the longest published pattern


# --- parameters, regions, account ----------------------------------------------------------------


def test_parameters_regions_and_account():
    d = load_pack(
        "cis",
        regions=["ap-northeast-1", "us-east-1"],
        account="111111111111",
        parameters={"LogGroupName": "aws-cloudtrail-logs-111111111111-0fc50be1"},
    )
    assert len(d.metric_filters) == len(d.alarms) == 30
    assert {f.log_group for f in d.metric_filters} == {"aws-cloudtrail-logs-111111111111-0fc50be1"}
    assert {(a.region, a.account) for a in d.alarms} == {
        ("ap-northeast-1", "111111111111"),
        ("us-east-1", "111111111111"),
    }
    tokyo = [a for a in d.alarms if a.region == "ap-northeast-1"]
    assert {a.alarm_actions for a in tokyo} == {("arn:aws:sns:ap-northeast-1:111111111111:cis-alarms",)}


def test_defaults():
    d = load_pack("cis")
    assert {f.region for f in d.metric_filters} == {model.DEFAULT_REGION}
    assert {f.log_group for f in d.metric_filters} == {f"aws-cloudtrail-logs-{model.DEFAULT_ACCOUNT}"}


@pytest.mark.parametrize(
    ("name", "parameters", "message", "hint"),
    [
        ("cls", None, "there is no rule pack named 'cls'", "did you mean 'cis'?"),
        ("cis", {"LogGroup": "x"}, "rule pack 'cis' has no parameter 'LogGroup'", "did you mean 'LogGroupName'?"),
        ("cis", {"Email": "x"}, "rule pack 'cis' has no parameter 'Email'", "LogGroupName"),
        (
            "cis",
            {"LogGroupName": "arn:aws:logs:us-east-1:1:log-group:CloudTrail/logs:*"},
            "is not a log group name",
            "not its ARN",
        ),
    ],
)
def test_errors(name, parameters, message, hint):
    with pytest.raises(RulesError) as info:
        load_pack(name, parameters=parameters)
    assert message in info.value.message
    assert hint in (info.value.hint or "")


def test_pack_combines_with_bindings(tmp_path):
    bindings = tmp_path / "bindings.yaml"
    bindings.write_text('destinations:\n  - {match: "arn:aws:sns:*:*:cis-alarms", type: stdout}\n', encoding="utf-8")
    d = load_pack("cis")
    d.extend(load_rules(bindings))
    (binding,) = d.bindings
    assert all(fnmatch.fnmatchcase(arn, binding.match) for a in d.alarms for arn in a.alarm_actions)


# --- the engine: every filter compiles and matches what its control targets -----------------------


def test_every_filter_compiles(cis):
    from trailmatch.filters import compile_filter_pattern

    for f in cis.metric_filters:
        compile_filter_pattern(f.filter_pattern)


@pytest.mark.parametrize(("control", "base"), CIS_CONTROLS, ids=[c for c, _ in CIS_CONTROLS])
def test_filter_matches_the_samples_its_control_targets(cis, records, control, base):
    (f,) = [f for f in cis.metric_filters if f.name == f"{base}_metric"]
    expected = CIS_SAMPLES[control]
    messages = {key.lstrip("!"): json.dumps(records[key.lstrip("!")]) for key in expected}
    matched = matched_messages(f.filter_pattern, list(messages.values()))
    for key in expected:
        should_match = not key.startswith("!")
        assert (messages[key.lstrip("!")] in matched) == should_match, key


@pytest.mark.parametrize(("control", "base"), CIS_CONTROLS, ids=[c for c, _ in CIS_CONTROLS])
def test_filter_agrees_with_an_eventbridge_pattern_of_the_same_intent(cis, records, control, base):
    """Over every CloudTrail sample, the filter pattern matches what the derived EventBridge
    pattern matches on the record as ``detail``; in particular no filter matches nearly
    everything (the CIS v1.4 CloudWatch.2 pitfall)."""
    (f,) = [f for f in cis.metric_filters if f.name == f"{base}_metric"]
    derived = json.loads(DERIVED.read_text(encoding="utf-8"))["patterns"][control]
    ruleset = trailmatch.Ruleset()
    ruleset.add(control, derived)
    messages = {key: json.dumps(record) for key, record in records.items()}
    expected = {key for key, record in records.items() if ruleset.match({"detail": record})}
    matched = matched_messages(f.filter_pattern, list(messages.values()))
    got = {key for key, message in messages.items() if message in matched}
    assert got == expected
    assert 0 < len(got) < len(records) / 10
