"""Rules exported with the AWS CLI: list-rules, describe-rule, list-targets-by-rule, in one
document, several appended documents, a JSON array of pages, or YAML output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trailmatch import model
from trailmatch.rules import RulesError, detect_format, load_rules
from trailmatch.rules.awscli import dump_targets

DATA = Path(__file__).parent / "data" / "rules"


def write(tmp_path: Path, text: str, name: str = "rules.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_list_rules_then_targets():
    d = load_rules(DATA / "cli-list-rules.json", regions=["eu-west-1"], account="999999999999")
    (rule,) = d.rules  # the scheduled rule is skipped
    assert (rule.name, rule.region, rule.account) == ("detect-get-secret-value", "ap-northeast-1", "111111111111")
    assert rule.state == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert json.loads(rule.event_pattern)["detail"]["eventName"] == ["GetSecretValue"]
    # The targets follow the list-rules page; they belong to its last rule (the scheduled one).
    assert rule.targets == ()
    assert any("nightly-report" in w and "scheduled" in w for w in d.warnings)
    assert any("list-rules page of 2 rules" in w for w in d.warnings)
    assert any("'detect-get-secret-value' has no targets" in w for w in d.warnings)
    assert rule.location == model.Location(str(DATA / "cli-list-rules.json"), 4, "detect-get-secret-value")


def test_describe_rule_and_targets_pairs():
    d = load_rules(DATA / "cli-describe-and-targets.json")
    receiver, sender = d.rules
    assert receiver.bus == "eventbrdge-bus-receiver"
    assert receiver.arn == (
        "arn:aws:events:ap-northeast-1:111111111111:rule/eventbrdge-bus-receiver/eventbridge-AcceskeyUsed-rule-receiver"
    )
    (target,) = receiver.targets
    assert target.id == "accesskey-used-notification"
    assert target.retry_policy == model.RetryPolicy(10, 3600)
    assert target.dead_letter_arn == "arn:aws:sqs:ap-northeast-1:111111111111:events-dlq"
    assert target.input_transformer is not None
    assert target.input_transformer.input_template.startswith(
        '"通常とは異なる IP アドレスからのアクセスキー利用を検知しました"\n'
    )
    assert len(target.input_transformer.input_paths_map) == 8
    assert (sender.region, sender.bus, sender.description) == (
        "us-east-1",
        "default",
        "eventbridge-AcceskeyUsed-rule-sender",
    )
    assert sender.targets[0].arn == "arn:aws:events:ap-northeast-1:111111111111:event-bus/eventbrdge-bus-receiver"
    assert sender.targets[0].role_arn is not None
    assert d.warnings == []


def test_array_of_pages_and_rules_without_arn_use_the_given_regions():
    d = load_rules(DATA / "cli-pages.json", regions=["us-east-1", "us-west-2"], account="222222222222")
    assert [(r.name, r.region, r.account) for r in d.rules] == [
        ("iam-create-user", "us-east-1", "222222222222"),
        ("iam-create-user", "us-west-2", "222222222222"),
        ("iam-delete-user", "us-east-1", "222222222222"),
        ("iam-delete-user", "us-west-2", "222222222222"),
    ]
    assert [t.id for t in d.rules[0].targets] == ["t1"]
    assert d.rules[2].state == "DISABLED"
    assert d.rules[2].description == "second page"
    assert any("'iam-delete-user' has no targets" in w for w in d.warnings)


def test_yaml_output():
    d = load_rules(DATA / "cli-output.yaml")
    (rule,) = d.rules
    assert rule.name == "iam-policy-changes"
    assert rule.targets[0].arn == "arn:aws:sns:us-east-1:123456789012:iam-changes-to-slack"
    assert detect_format(DATA / "cli-output.yaml") == "awscli"


def test_put_targets_shape_names_its_rule(tmp_path):
    text = """
{"Name": "a", "EventPattern": "{\\"source\\": [\\"x\\"]}"}
{"Name": "b", "EventPattern": "{\\"source\\": [\\"y\\"]}", "EventBusName": "custom"}
{"Rule": "a", "Targets": [{"Id": "ta", "Arn": "arn:aws:sqs:us-east-1:1:q"}]}
{"Rule": "b", "EventBusName": "custom", "Targets": [{"Id": "tb", "Arn": "arn:aws:sqs:us-east-1:1:q"}]}
"""
    d = load_rules(write(tmp_path, text))
    assert {r.name: [t.id for t in r.targets] for r in d.rules} == {"a": ["ta"], "b": ["tb"]}
    assert d.rules[1].arn == "arn:aws:events:us-east-1:123456789012:rule/custom/b"


def test_targets_pages_accumulate_and_a_rule_listed_twice_is_one_rule(tmp_path):
    text = """
{"Rules": [{"Name": "r", "Arn": "arn:aws:events:us-east-1:1:rule/r", "EventPattern": "{\\"a\\": [1]}"}]}
{"Name": "r", "Arn": "arn:aws:events:us-east-1:1:rule/r", "EventPattern": "{\\"a\\": [1]}", "State": "ENABLED"}
{"Targets": [{"Id": "t1", "Arn": "arn:aws:sqs:us-east-1:1:q1"}], "NextToken": "n"}
{"Targets": [{"Id": "t2", "Arn": "arn:aws:sqs:us-east-1:1:q2"}]}
"""
    d = load_rules(write(tmp_path, text))
    (rule,) = d.rules
    assert [t.id for t in rule.targets] == ["t1", "t2"]
    assert d.warnings == []


def test_unknown_keys_are_ignored(tmp_path):
    text = json.dumps(
        {
            "Name": "r",
            "EventPattern": '{"a": ["b"]}',
            "ManagedBy": "x",
            "CreatedBy": "1",
            "Future": {"x": 1},
        }
    )
    assert load_rules(write(tmp_path, text)).rules[0].name == "r"


def test_event_pattern_error_names_line_and_rule(tmp_path):
    text = (
        '{\n  "Rules": [\n    {\n      "Name": "bad",\n'
        '      "EventPattern": "{\\"source\\": \\"aws.iam\\"}"\n    }\n  ]\n}'
    )
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, text))
    e = info.value
    assert (e.line, e.name, e.path) == (5, "bad", "$.source")
    assert '"source" must be an object or an array' in e.message
    assert e.hint is not None


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        ('{"Targets": [{"Id": "t", "Arn": "x"}]}', 1, "before any rule", "describe-rule"),
        ('{"Name": "r", "EventPattern": "{}", "State": "ON"}', 1, "State must be one of", None),
        (
            '{"Name": "r", "EventPattern": "{\\"a\\": [1]}"}\n{"Targets": [\n'
            ' {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:1:q", "Input": "{}", "InputPath": "$"}]}',
            3,
            "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
            None,
        ),
        (
            '{"Name": "r", "Arn": "arn:aws:sns:us-east-1:1:t", "EventPattern": "{}"}',
            1,
            "not an EventBridge rule ARN",
            None,
        ),
        ('{"Rule": "nope", "Targets": []}', 1, "which no document before them defines", None),
        ('{"Rules": []}\n{"Something": 1}', 2, "not an AWS CLI output document", "list-rules"),
        ('{"Name": "r", "State": "ENABLED"}', 1, "neither EventPattern nor ScheduleExpression", None),
    ],
)
def test_cli_errors(tmp_path, text, line, message, hint):
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, text))
    assert info.value.line == line
    assert message in info.value.message
    if hint:
        assert hint in (info.value.hint or "")


def test_dump_targets_round_trips(tmp_path):
    d = load_rules(DATA / "cli-describe-and-targets.json")
    text = json.dumps({"Name": "again", "EventPattern": '{"a": [1]}'}) + "\n" + dump_targets(d.rules[0].targets)
    again = load_rules(write(tmp_path, text))
    assert again.rules[0].targets == d.rules[0].targets


# --- aws logs describe-metric-filters, aws cloudwatch describe-alarms ---------------------------


def test_describe_metric_filters():
    d = load_rules(
        DATA / "cli-describe-metric-filters.json", regions=["ap-northeast-1", "us-east-1"], account="111111111111"
    )
    assert [(f.region, f.name) for f in d.metric_filters] == [
        ("ap-northeast-1", "CreateBucket"),
        ("us-east-1", "CreateBucket"),
        ("ap-northeast-1", "RootAccountUsage"),
        ("us-east-1", "RootAccountUsage"),
        ("ap-northeast-1", "ApiCallsBySource"),
        ("us-east-1", "ApiCallsBySource"),
    ]
    create = d.metric_filters[0]
    assert create.log_group == "aws-cloudtrail-logs-111111111111-0fc50be1"
    assert create.filter_pattern == '{ ($.eventName = "CreateBucket") }'
    assert create.transformation == model.MetricTransformation(
        "CreateBucketCount", "CloudTrailMetrics", metric_value="1", default_value=0.0, unit="Count"
    )
    assert create.account == "111111111111"
    assert create.location == model.Location(str(DATA / "cli-describe-metric-filters.json"), 3, "CreateBucket")
    assert d.metric_filters[4].transformation.dimensions == {"EventSource": "$.eventSource"}
    assert d.rules == []
    assert d.warnings == []


def test_describe_alarms():
    d = load_rules(DATA / "cli-describe-alarms.json", regions=["us-east-1"], account="999999999999")
    created, root = d.alarms
    # Region and account come from AlarmArn, not from the loader's.
    assert (created.name, created.region, created.account) == ("s3-bucket-created", "ap-northeast-1", "111111111111")
    assert created.arn == "arn:aws:cloudwatch:ap-northeast-1:111111111111:alarm:s3-bucket-created"
    assert (created.statistic, created.period, created.evaluation_periods, created.datapoints_to_alarm) == (
        "Sum",
        60,
        1,
        1,
    )
    assert (created.threshold, created.comparison_operator, created.treat_missing_data) == (
        0.0,
        "GreaterThanThreshold",
        "missing",
    )
    assert created.alarm_actions == ("arn:aws:sns:ap-northeast-1:111111111111:s3-bucket-created",)
    assert created.description == "A new S3 bucket was created"
    assert (root.threshold, root.comparison_operator, root.datapoints_to_alarm) == (
        1.0,
        "GreaterThanOrEqualToThreshold",
        None,
    )
    file = str(DATA / "cli-describe-alarms.json")
    assert d.unsupported == [
        model.Unsupported("s3-api-error-rate", "AWS::CloudWatch::Alarm", model.Location(file, 49, "s3-api-error-rate")),
        model.Unsupported("security-any", "AWS::CloudWatch::CompositeAlarm", model.Location(file, 92, "security-any")),
    ]
    math, composite = d.warnings
    assert "metric math or multi-metric alarm (Metrics)" in math
    assert "composite alarm 'security-any' is not simulated" in composite


def test_cloudwatch_and_eventbridge_output_in_one_file(tmp_path):
    text = "\n".join(
        [
            (DATA / "cli-describe-and-targets.json").read_text(encoding="utf-8"),
            (DATA / "cli-describe-metric-filters.json").read_text(encoding="utf-8"),
            json.dumps(
                {"MetricAlarms": json.loads((DATA / "cli-describe-alarms.json").read_text())["MetricAlarms"][:2]}
            ),
        ]
    )
    path = write(tmp_path, text)
    assert detect_format(path) == "awscli"
    d = load_rules(path)
    assert len(d.rules) == 2
    assert len(d.metric_filters) == 3
    assert len(d.alarms) == 2


def test_alarms_without_arn_are_deployed_in_each_region(tmp_path):
    alarm = {
        "AlarmName": "a",
        "MetricName": "m",
        "Namespace": "n",
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Dimensions": [{"Name": "EventSource", "Value": "iam.amazonaws.com"}],
        "Unit": "Count",
    }
    d = load_rules(write(tmp_path, json.dumps({"MetricAlarms": [alarm]})), regions=["eu-west-1", "eu-west-2"])
    assert [(a.region, a.account) for a in d.alarms] == [
        ("eu-west-1", model.DEFAULT_ACCOUNT),
        ("eu-west-2", model.DEFAULT_ACCOUNT),
    ]
    assert d.alarms[0].dimensions == {"EventSource": "iam.amazonaws.com"}
    assert d.alarms[0].unit == "Count"


def test_yaml_output_of_describe_alarms(tmp_path):
    text = """\
MetricAlarms:
- AlarmName: root
  AlarmArn: arn:aws:cloudwatch:us-east-1:111122223333:alarm:root
  MetricName: RootAccountUsage
  Namespace: CISBenchmark
  Statistic: Sum
  Period: 300
  EvaluationPeriods: 1
  Threshold: 1.0
  ComparisonOperator: GreaterThanOrEqualToThreshold
  StateValue: ALARM
CompositeAlarms: []
"""
    d = load_rules(write(tmp_path, text, "alarms.yaml"))
    (alarm,) = d.alarms
    assert (alarm.name, alarm.region, alarm.account, alarm.threshold) == ("root", "us-east-1", "111122223333", 1.0)
    assert alarm.location == model.Location(str(tmp_path / "alarms.yaml"), 2, "root")


def test_the_same_filter_or_alarm_listed_twice_is_one(tmp_path):
    page = (DATA / "cli-describe-metric-filters.json").read_text(encoding="utf-8")
    d = load_rules(write(tmp_path, page + page))
    assert len(d.metric_filters) == 3
    assert d.warnings == []
    changed = page.replace(
        '"metricValue": "1",\n                    "defaultValue"',
        '"metricValue": "2",\n                    "defaultValue"',
    )
    assert changed != page
    d = load_rules(write(tmp_path, page + changed))
    (create,) = [f for f in d.metric_filters if f.name == "CreateBucket"]
    assert create.transformation.metric_value == "2"
    assert any("appears again with other settings" in w for w in d.warnings)
    alarms = json.loads((DATA / "cli-describe-alarms.json").read_text())
    two = json.dumps({"MetricAlarms": alarms["MetricAlarms"][:1]})
    d = load_rules(write(tmp_path, two + "\n" + two))
    assert len(d.alarms) == 1


ALARM = {
    "AlarmName": "a",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:a",
    "MetricName": "m",
    "Namespace": "n",
    "Statistic": "Sum",
    "Period": 300,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
}
FILTER = {
    "filterName": "f",
    "filterPattern": "",
    "logGroupName": "CloudTrail/logs",
    "metricTransformations": [{"metricName": "m", "metricNamespace": "n", "metricValue": "1"}],
}


@pytest.mark.parametrize(
    ("doc", "message", "hint"),
    [
        (
            {"MetricAlarms": [{**ALARM, "Period": 45}]},
            "Period must be 10, 20, 30 or a multiple of 60 seconds",
            "30 or 60",
        ),
        (
            {"MetricAlarms": [{**ALARM, "AlarmArn": "arn:aws:sns:us-east-1:1:a"}]},
            "is not a CloudWatch alarm ARN",
            "alarm:<name>",
        ),
        ({"MetricAlarms": [{**ALARM, "TreatMissingData": "Missing"}]}, "TreatMissingData must be one of", "'missing'"),
        (
            {"MetricAlarms": [{k: v for k, v in ALARM.items() if k != "AlarmName"}]},
            "an alarm entry has no AlarmName",
            None,
        ),
        ({"MetricAlarms": ["a"]}, "an alarm entry must be a JSON object", None),
        ({"metricFilters": [{k: v for k, v in FILTER.items() if k != "filterName"}]}, "has no filterName", None),
        (
            {"metricFilters": [{**FILTER, "metricTransformations": []}]},
            "metricTransformations must hold exactly one metric transformation, found 0",
            None,
        ),
        (
            {"metricFilters": [{**FILTER, "metricTransformations": [{"metricName": "m", "metricNamespace": "n"}]}]},
            "metricTransformations[0].metricValue is required",
            None,
        ),
        (
            {
                "metricFilters": [
                    {**FILTER, "metricTransformations": [{**FILTER["metricTransformations"][0], "dimensions": [1]}]}
                ]
            },
            "metricTransformations[0].dimensions must be a mapping",
            None,
        ),
        ({"metricFilters": [{**FILTER, "logGroupName": "Cloud Trail"}]}, "'Cloud Trail' is not a log group name", None),
    ],
)
def test_cloudwatch_output_errors(tmp_path, doc, message, hint):
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, json.dumps(doc, indent=1)))
    e = info.value
    assert message in e.message
    assert e.line is not None
    if hint:
        assert hint in (e.hint or "")


def test_cloudwatch_output_error_names_the_line_and_the_name(tmp_path):
    text = json.dumps({"MetricAlarms": [ALARM, {**ALARM, "AlarmName": "b", "Period": 90}]}, indent=2)
    with pytest.raises(RulesError) as info:
        load_rules(write(tmp_path, text))
    e = info.value
    assert e.name == "b"
    assert text.splitlines()[e.line - 1].strip() == '"Period": 90,'
