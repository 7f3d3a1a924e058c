"""CloudFormation templates deployed offline: parameters, conditions, every intrinsic function,
Ref/GetAtt per resource type, the modelled resources, and errors that name file and line."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import trailmatch
from trailmatch import model
from trailmatch.rules import RulesError, load_rules, load_rules_text

DATA = Path(__file__).parent / "data" / "rules"
SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:sample/secret-wPvfcr"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, name: str = "stack.yaml", **kwargs):
    return load_rules(write(tmp_path, name, text), **kwargs)


def error(tmp_path: Path, text: str, name: str = "stack.yaml", **kwargs) -> RulesError:
    with pytest.raises(RulesError) as info:
        load(tmp_path, text, name, **kwargs)
    return info.value


RULE = """\
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {{source: [aws.iam]}}
      Targets:
{targets}
"""

# --- the scenario templates -----------------------------------------------------------------


def test_scenario_000_template():
    d = load_rules(
        DATA / "scenario-000.yaml",
        regions=["ap-northeast-1"],
        account="111111111111",
        parameters={"Email": "sec@example.com", "SecretArn": SECRET_ARN},
    )
    (rule,) = d.rules
    assert rule.name == "detect-get-secret-value"
    assert rule.state == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert rule.arn == "arn:aws:events:ap-northeast-1:111111111111:rule/detect-get-secret-value"
    assert json.loads(rule.event_pattern)["detail"]["requestParameters"]["secretId"] == [SECRET_ARN]
    (target,) = rule.targets
    assert (target.id, target.logical_id) == ("sns-topic", "SNSTopic")
    assert target.arn == "arn:aws:sns:ap-northeast-1:111111111111:detect-get-secret-value"
    (topic,) = d.topics
    assert topic.arn == target.arn
    assert topic.subscriptions == (model.Subscription("email", "sec@example.com"),)
    assert d.topic(target.arn) is topic
    assert [(u.logical_id, u.type) for u in d.unsupported] == [("SNSTopicPolicy", "AWS::SNS::TopicPolicy")]
    assert d.warnings == []
    # The sample event of the article matches the loaded rule.
    rules = trailmatch.Ruleset()
    rules.add(rule.name, rule.event_pattern)
    event = {
        "source": "aws.secretsmanager",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "requestParameters": {"secretId": SECRET_ARN},
        },
    }
    assert rules.match(event) == [rule.name]


def test_scenario_000_needs_its_parameters():
    with pytest.raises(RulesError) as info:
        load_rules(DATA / "scenario-000.yaml", parameters={"SecretArn": SECRET_ARN})
    e = info.value
    assert (e.line, e.name) == (3, "Email")
    assert "Parameters: [Email] must have values" in e.message
    assert "--parameter Email=Value" in (e.hint or "")


def test_scenario_001_sender_deployed_in_every_region():
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"]
    d = load_rules(DATA / "scenario-001-sender.yaml", regions=regions, account="111111111111")
    assert [r.region for r in d.rules] == regions
    for rule in d.rules:
        assert rule.name == "eventbridge-AcceskeyUsed-rule-sender"
        assert rule.bus == "default"
        assert json.loads(rule.event_pattern) == {
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"userIdentity": {"accessKeyId": ["AKIAxxx"]}},
        }
        (target,) = rule.targets
        assert target.arn == "arn:aws:events:ap-northeast-1:111111111111:event-bus/eventbrdge-bus-receiver"
        assert target.role_arn == "arn:aws:iam::xxx:role/service-role/Amazon_EventBridge_Invoke_Event_Bus_20241013"
        assert target.logical_id is None


def test_scenario_001_receiver():
    d = load_rules(DATA / "scenario-001-receiver.yaml", regions=["ap-northeast-1"], account="111111111111")
    (bus,) = d.buses
    assert (bus.name, bus.region) == ("eventbrdge-bus-receiver", "ap-northeast-1")
    (rule,) = d.rules
    assert rule.bus == "eventbrdge-bus-receiver"
    assert rule.arn.endswith(":rule/eventbrdge-bus-receiver/eventbridge-AcceskeyUsed-rule-receiver")
    pattern = json.loads(rule.event_pattern)
    assert pattern["detail"]["userIdentity"]["accessKeyId"] == ["AKIAIOSFODNN7EXAMPLE"]
    assert pattern["detail"]["sourceIPAddress"] == [{"anything-but": {"prefix": ["203.0.113."]}}]
    (target,) = rule.targets
    assert target.logical_id == "NotificationTopic"
    transformer = target.input_transformer
    assert transformer is not None
    assert transformer.input_paths_map["sourceIPAddress"] == "$.detail.sourceIPAddress"
    assert len(transformer.input_paths_map) == 8
    lines = transformer.input_template.split("\n")
    assert lines[0] == '"通常とは異なる IP アドレスからのアクセスキー利用を検知しました"'
    assert lines[-1] == '"イベント ID : <eventID> "'
    assert len(lines) == 9
    (topic,) = d.topics
    assert topic.subscriptions[0].protocol == "email"
    rules = trailmatch.Ruleset()
    rules.add("r", rule.event_pattern)
    base = {
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"userIdentity": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"}},
    }
    base["detail"]["sourceIPAddress"] = "198.51.100.7"
    assert rules.match(base) == ["r"]
    base["detail"]["sourceIPAddress"] = "203.0.113.9"
    assert rules.match(base) == []


def test_scenario_001_receiver_parameters_override_defaults():
    d = load_rules(
        DATA / "scenario-001-receiver.yaml",
        regions=["ap-northeast-1"],
        parameters={"AccessKeyId": "AKIAEXAMPLE2", "AllowedIpPrefix": "192.0.2.", "Email": "me@example.com"},
    )
    pattern = json.loads(d.rules[0].event_pattern)
    assert pattern["detail"]["userIdentity"]["accessKeyId"] == ["AKIAEXAMPLE2"]
    assert pattern["detail"]["sourceIPAddress"][0]["anything-but"]["prefix"] == ["192.0.2."]
    assert d.topics[0].subscriptions[0].endpoint == "me@example.com"


def test_scenario_002():
    d = load_rules(DATA / "scenario-002.yaml")
    (rule,) = d.rules
    assert rule.region == "us-east-1"
    assert json.loads(rule.event_pattern)["detail"]["eventName"] == [
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "AttachRolePolicy",
        "DetachUserPolicy",
        "DetachGroupPolicy",
        "DetachRolePolicy",
        "CreatePolicyVersion",
    ]
    assert rule.targets[0].logical_id == "IamChangesTopic"
    assert d.topics[0].name == "iam-changes-to-slack"


# --- intrinsic functions and pseudo parameters -----------------------------------------------


@pytest.fixture(scope="module")
def intrinsics() -> model.Deployment:
    return load_rules(
        DATA / "cfn-intrinsics.yaml",
        regions=["us-east-1", "eu-west-1"],
        account="111122223333",
        parameters={"shared-alerts-topic-arn": "arn:aws:sns:us-east-1:111122223333:shared"},
    )


def test_intrinsics_per_region(intrinsics):
    us, eu = intrinsics.rules
    assert (us.region, eu.region) == ("us-east-1", "eu-west-1")
    # Fn::Join + Fn::Select over a CommaDelimitedList (space-trimmed).
    assert us.name == eu.name == "trail-prod-aws.sts"
    # Fn::FindInMap keyed by AWS::Region; Ref of a bus is its name.
    assert (us.bus, eu.bus) == ("central-bus", "europe-bus")
    assert [b.name for b in intrinsics.buses] == ["central-bus", "europe-bus"]
    # Fn::If on Fn::And of conditions that depend on the region.
    assert (us.state, eu.state) == ("ENABLED", "DISABLED")
    assert us.description == base64.b64encode(b"hello").decode()


def test_intrinsics_inside_the_event_pattern(intrinsics):
    us, eu = (json.loads(r.event_pattern) for r in intrinsics.rules)
    assert us["source"] == ["aws.iam", "aws.sts"]  # Fn::Split of Fn::Join
    assert us["detail"]["awsRegion"] == ["us-east-1"]
    assert eu["detail"]["awsRegion"] == ["eu-west-1"]
    assert us["detail"]["sourceIPAddress"] == [{"cidr": "10.0.2.0/24"}]  # Fn::Cidr + Fn::Select
    assert eu["detail"]["requestParameters"]["availabilityZone"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    # Fn::Sub with a variable map, pseudo parameters and the ${!Literal} escape.
    assert us["detail"]["userAgent"] == ["live/aws/amazonaws.com/${Literal}"]


def test_intrinsics_in_targets(intrinsics):
    us, eu = intrinsics.rules
    assert [t.id for t in us.targets] == ["queue", "handler", "us-topic", "imported"]
    assert [t.id for t in eu.targets] == ["queue", "handler", "imported"]  # Fn::If → AWS::NoValue drops it
    queue = us.targets[0]
    assert queue.arn == "arn:aws:sqs:us-east-1:111122223333:cfn-intrinsics-Queue"
    assert queue.logical_id == "Queue"
    assert queue.retry_policy.maximum_retry_attempts == 3  # Ref of a Number parameter
    handler = eu.targets[1]
    assert handler.arn == "arn:aws:lambda:eu-west-1:111122223333:function:cfn-intrinsics-handler"
    assert handler.logical_id == "Handler"
    sent = json.loads(handler.input or "")
    assert sent["env"] == "prod"
    assert sent["zones"] == 3  # Fn::Length of Fn::GetAZs
    assert sent["stack"] == "cfn-intrinsics"
    assert sent["stackId"].startswith("arn:aws:cloudformation:eu-west-1:111122223333:stack/cfn-intrinsics/")
    assert sent["orUs"] == "no"
    assert json.loads(us.targets[1].input or "")["orUs"] == "yes"
    assert json.loads(us.targets[1].input or "")["stackId"] != sent["stackId"]
    topic = us.targets[2]
    assert (topic.arn, topic.logical_id) == (
        "arn:aws:sns:us-east-1:111122223333:cfn-intrinsics-UsOnlyTopic",
        "UsOnlyTopic",
    )
    imported = us.targets[3]
    assert imported.arn == "arn:aws:sns:us-east-1:111122223333:shared"
    assert imported.logical_id is None
    assert imported.role_arn is None  # Fn::If → AWS::NoValue removes the property
    # A topic with a false Condition is not created in eu-west-1.
    assert [(t.name, t.region) for t in intrinsics.topics] == [("cfn-intrinsics-UsOnlyTopic", "us-east-1")]


def test_stack_id_is_deterministic(intrinsics):
    again = load_rules(
        DATA / "cfn-intrinsics.yaml",
        regions=["us-east-1", "eu-west-1"],
        account="111122223333",
        parameters={"shared-alerts-topic-arn": "arn:aws:sns:us-east-1:111122223333:shared"},
    )
    assert again.rules[0].targets[1].input == intrinsics.rules[0].targets[1].input


def test_import_value_without_a_value_is_an_error_with_a_hint():
    with pytest.raises(RulesError) as info:
        load_rules(DATA / "cfn-intrinsics.yaml")
    e = info.value
    assert "Fn::ImportValue 'shared-alerts-topic-arn' cannot be resolved offline" in e.message
    assert "--parameter shared-alerts-topic-arn=Value" in (e.hint or "")
    assert (e.line, e.name) == (79, "Rule")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('!Join ["", [a, !Ref "AWS::Partition", b]]', "aaws-cnb"),
        ("!Select [1, [x, y, z]]", "y"),
        ('!Select ["0", !Split ["/", "p/q"]]', "p"),
        ('!Sub "${AWS::Region}.${AWS::URLSuffix}"', "cn-north-1.amazonaws.com.cn"),
        ('!Ref "AWS::Partition"', "aws-cn"),
        ("!Base64 abc", "YWJj"),
        ('!Select [0, !GetAZs ""]', "cn-north-1a"),
        ("!Select [1, !GetAZs us-west-2]", "us-west-2b"),
        ('!Select [3, !Cidr ["192.168.0.0/24", 6, 5]]', "192.168.0.96/27"),
        ('!Select [1, !Cidr ["2001:db8::/56", 2, 64]]', "2001:db8:0:1::/64"),
        ("!FindInMap [M, k, v]", "mapped"),
        ('!FindInMap [M, missing, v, {DefaultValue: "dflt"}]', "dflt"),
        ('!If [IsW, "t", "f"]', "t"),
        ('!If [IsNotW, "t", "f"]', "f"),
        ("!Join [',', !Ref List]", "a,b,c"),
        ('!Sub ["${A}-${B}", {A: !Ref Word, B: !Select [2, !Ref List]}]', "w-c"),
        ('!Sub "${Topic.TopicName}|${Topic}"', "s-Topic|arn:aws-cn:sns:cn-north-1:123456789012:s-Topic"),
        ("!ToJsonString [1, {a: b}]", '[1,{"a":"b"}]'),
        ('!Join ["", [!Length [a, b]]]', "2"),
        ('!Ref "AWS::StackName"', "s"),
        ('!Join [",", !Ref "AWS::NotificationARNs"]', ""),
    ],
)
def test_each_intrinsic(tmp_path, expression, expected):
    text = f"""\
Parameters:
  Word: {{Type: String, Default: w}}
  List: {{Type: CommaDelimitedList, Default: "a,b,c"}}
Mappings:
  M:
    k: {{v: mapped}}
Conditions:
  IsW: !Equals [!Ref Word, w]
  IsNotW: !Not [!Condition IsW]
Resources:
  Topic: {{Type: AWS::SNS::Topic}}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Description: {expression}
      EventPattern: {{source: [x]}}
"""
    d = load(tmp_path, text, "s.yaml", regions=["cn-north-1"])
    assert d.rules[0].description == expected


def test_long_form_intrinsics_in_json(tmp_path):
    d = load_rules(DATA / "cfn-template.json", regions=["us-east-2"])
    (rule,) = d.rules
    assert rule.targets[0].arn == "arn:aws:sns:us-east-2:123456789012:json-alerts"
    assert rule.targets[0].logical_id == "AlertTopic"
    assert rule.targets[0].dead_letter_arn == "arn:aws:sqs:us-east-2:123456789012:dlq"
    assert rule.targets[0].input_path == "$.detail"
    # The pattern keeps the number as written (EventBridge compares some literals by text).
    assert rule.event_pattern.endswith('{"numeric": [">", 1.50]}]}}')
    assert d.topics[0].display_name == "JSON alerts"
    assert d.topics[0].subscriptions == (model.Subscription("https", "https://hooks.example.com/alert"),)


# --- Ref and Fn::GetAtt per resource type ----------------------------------------------------


@pytest.fixture(scope="module")
def refs() -> model.Deployment:
    return load_rules(DATA / "cfn-ref-getatt.yaml", account="111122223333")


def test_ref_and_getatt_values(refs):
    probe = next(r for r in refs.rules if r.name == "probe")
    values = json.loads(probe.targets[0].input or "")
    acct = "111122223333"
    assert values == {
        "TopicRef": f"arn:aws:sns:us-east-1:{acct}:alerts",
        "TopicArn": f"arn:aws:sns:us-east-1:{acct}:alerts",
        "TopicName": "alerts",
        "GeneratedTopicName": "cfn-ref-getatt-GeneratedTopic",
        "FifoTopicName": "cfn-ref-getatt-FifoTopic.fifo",
        "BusRef": "receiver",
        "BusArn": f"arn:aws:events:us-east-1:{acct}:event-bus/receiver",
        "BusName": "receiver",
        "QueueRef": f"https://sqs.us-east-1.amazonaws.com/{acct}/jobs",
        "QueueArn": f"arn:aws:sqs:us-east-1:{acct}:jobs",
        "QueueName": "jobs",
        "FunctionRef": "cfn-ref-getatt-Function",
        "FunctionArn": f"arn:aws:lambda:us-east-1:{acct}:function:cfn-ref-getatt-Function",
        "StateMachineRef": f"arn:aws:states:us-east-1:{acct}:stateMachine:flow",
        "StateMachineName": "flow",
        "LogGroupRef": "/aws/events/trail",
        "LogGroupArn": f"arn:aws:logs:us-east-1:{acct}:log-group:/aws/events/trail:*",
        "StreamRef": "cfn-ref-getatt-Stream",
        "StreamArn": f"arn:aws:kinesis:us-east-1:{acct}:stream/cfn-ref-getatt-Stream",
        "FirehoseArn": f"arn:aws:firehose:us-east-1:{acct}:deliverystream/cfn-ref-getatt-Firehose",
        "RoleRef": "events-invoke",
        "RoleArn": f"arn:aws:iam::{acct}:role/service-role/events-invoke",
        "BucketRef": "cfn-ref-getatt-bucket",
        "BucketArn": "arn:aws:s3:::cfn-ref-getatt-bucket",
        # Ref of a rule: its name, "bus|name" on a custom bus.
        "OnBusRuleRef": "receiver|on-bus",
        "OnBusRuleArn": f"arn:aws:events:us-east-1:{acct}:rule/receiver/on-bus",
        "DefaultBusRuleRef": "cfn-ref-getatt-DefaultBusRule",
        "DefaultBusRuleArn": f"arn:aws:events:us-east-1:{acct}:rule/cfn-ref-getatt-DefaultBusRule",
    }
    assert probe.targets[0].logical_id == "StateMachine"


def test_targets_record_the_logical_id_they_refer_to(refs):
    by_name = {r.name: r for r in refs.rules}
    on_bus = by_name["on-bus"]
    assert on_bus.bus == "receiver"  # EventBusName given as the bus ARN
    assert (on_bus.targets[0].logical_id, on_bus.targets[0].arn.endswith(":log-group:/aws/events/trail:*")) == (
        "LogGroup",
        True,
    )
    forward = by_name["cfn-ref-getatt-DefaultBusRule"].targets[0]
    assert forward.logical_id == "Bus"
    assert forward.role_arn == "arn:aws:iam::111122223333:role/service-role/events-invoke"


def test_getatt_of_an_unknown_attribute_is_a_placeholder_with_a_warning(tmp_path):
    text = RULE.format(targets="        - {Id: u, Arn: !GetAtt Other.Arn}") + "  Other: {Type: AWS::Custom::Thing}\n"
    text = text.replace("      EventPattern:", "      Description: !GetAtt Topic.Arn\n      EventPattern:")
    d = load(tmp_path, text)
    assert d.rules[0].description == "stack-Topic.Arn"
    (target,) = d.rules[0].targets
    assert target.arn == "arn:aws:custom:us-east-1:123456789012:thing/stack-Other"
    assert target.logical_id == "Other"
    assert any("Topic.Arn" in w and "placeholder" in w for w in d.warnings)
    assert any("Other.Arn" in w and "not modelled" in w for w in d.warnings)
    assert [u.type for u in d.unsupported] == ["AWS::Custom::Thing"]


# --- parameters --------------------------------------------------------------------------------


PARAMS = """\
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
    ConstraintDescription: Env is dev or prod
  Size:
    Type: Number
    Default: 5
    MinValue: 1
    MaxValue: 10
  Code:
    Type: String
    Default: ab
    AllowedPattern: "[a-z]+"
    MinLength: 2
    MaxLength: 4
  Ids:
    Type: List<Number>
    Default: "1, 2"
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Description: !Sub "${Env}-${Size}-${Code}-${AWS::AccountId}"
      EventPattern: {source: [x]}
"""


def test_parameter_values_override_defaults(tmp_path):
    assert load(tmp_path, PARAMS).rules[0].description == "dev-5-ab-123456789012"
    d = load(tmp_path, PARAMS, parameters={"Env": "prod", "Size": "7", "Code": "xyz"}, account="999988887777")
    assert d.rules[0].description == "prod-7-xyz-999988887777"


@pytest.mark.parametrize(
    ("given", "name", "message", "hint"),
    [
        ({"Env": "test"}, "Env", "must be one of AllowedValues (dev, prod), found 'test'", "Env is dev or prod"),
        ({"Size": "11"}, "Size", "must be at most 10", None),
        ({"Size": "0"}, "Size", "must be at least 1", None),
        ({"Size": "five"}, "Size", "must be a number", None),
        ({"Code": "AB"}, "Code", "must match pattern [a-z]+", None),
        ({"Code": "abcde"}, "Code", "must be at most 4 characters", None),
        ({"Ids": "1,x"}, "Ids", "must be a number, found 'x'", None),
    ],
)
def test_parameter_constraints(tmp_path, given, name, message, hint):
    e = error(tmp_path, PARAMS, parameters=given)
    assert e.name == name
    assert message in e.message
    if hint:
        assert e.hint == hint


def test_misspelt_given_parameter_is_a_warning(tmp_path):
    d = load(tmp_path, PARAMS, parameters={"Evn": "prod"})
    assert any("'Evn' is given but the template declares no such parameter" in w and "'Env'" in w for w in d.warnings)
    # Values meant for other files of the same scan are not reported.
    assert not any("SecretArn" in w for w in load(tmp_path, PARAMS, parameters={"SecretArn": "x"}).warnings)


def test_parameter_types(tmp_path):
    text = """\
Parameters:
  Bad: {Type: Strin}
Resources:
  R: {Type: AWS::SNS::Topic}
"""
    e = error(tmp_path, text)
    assert "Unrecognized parameter type: Strin" in e.message
    assert e.line == 2
    assert "'String'" in (e.hint or "")
    ssm = (
        "Parameters:\n  P: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /x}\n"
        "Resources:\n  R: {Type: AWS::SNS::Topic}\n"
    )
    e = error(tmp_path, ssm)
    assert "SSM Parameter Store" in e.message
    assert "--parameter P=Value" in (e.hint or "")
    assert load(tmp_path, ssm, parameters={"P": "v"}).topics[0].name == "stack-R"


def test_aws_specific_parameter_types_are_strings(tmp_path):
    text = """\
Parameters:
  Vpc: {Type: "AWS::EC2::VPC::Id", Default: vpc-1}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>", Default: "subnet-1,subnet-2"}
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Description: !Join ["/", [!Ref Vpc, !Select [1, !Ref Subnets]]]
      EventPattern: {source: [x]}
"""
    assert load(tmp_path, text).rules[0].description == "vpc-1/subnet-2"


# --- rules and targets ---------------------------------------------------------------------------


def test_rule_defaults(tmp_path):
    d = load(tmp_path, RULE.format(targets="        - {Id: t, Arn: !Ref Topic}"), "my_stack.v1.yaml")
    (rule,) = d.rules
    assert rule.name == "my-stack-v1-Rule"  # <stack>-<LogicalId>, stack named after the file
    assert (rule.state, rule.bus, rule.description) == ("ENABLED", "default", "")
    assert rule.location == model.Location(str(tmp_path / "my_stack.v1.yaml"), 4, "Rule")
    assert rule.event_pattern == '{"source": ["aws.iam"]}'


def test_event_pattern_as_a_json_string(tmp_path):
    text = 'Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: \'{"source": ["a"]}\'\n'
    assert load(tmp_path, text).rules[0].event_pattern == '{"source": ["a"]}'


def test_rule_on_a_custom_bus_of_the_template(tmp_path):
    text = """\
Resources:
  Bus: {Type: AWS::Events::EventBus, Properties: {Name: central}}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Name: r
      EventBusName: !Ref Bus
      EventPattern: {source: [x]}
"""
    d = load(tmp_path, text, regions=["us-east-1", "eu-central-1"])
    assert [(r.bus, r.region) for r in d.rules] == [("central", "us-east-1"), ("central", "eu-central-1")]
    assert [r.arn for r in d.rules] == [
        "arn:aws:events:us-east-1:123456789012:rule/central/r",
        "arn:aws:events:eu-central-1:123456789012:rule/central/r",
    ]
    assert [(b.name, b.region) for b in d.buses] == [("central", "us-east-1"), ("central", "eu-central-1")]


def test_scheduled_rule_is_skipped_with_a_warning(tmp_path):
    text = (
        "Resources:\n  Nightly:\n    Type: AWS::Events::Rule\n    Properties:\n      ScheduleExpression: rate(1 day)\n"
    )
    d = load(tmp_path, text)
    assert d.rules == []
    assert len(d.warnings) == 1
    assert "stack.yaml:2 (Nightly)" in d.warnings[0]
    assert "scheduled" in d.warnings[0]


def test_more_than_five_targets_is_a_warning(tmp_path):
    targets = "\n".join(f"        - {{Id: t{i}, Arn: !Ref Topic}}" for i in range(6))
    d = load(tmp_path, RULE.format(targets=targets))
    assert len(d.rules[0].targets) == 6
    assert any("6 targets; EventBridge allows 5" in w for w in d.warnings)


def test_target_arn_must_be_an_arn(tmp_path):
    text = RULE.format(targets="        - {Id: fn, Arn: !Ref Fn}") + "  Fn: {Type: AWS::Lambda::Function}\n"
    e = error(tmp_path, text)
    assert (e.line, e.name) == (9, "Rule")
    assert e.message.startswith("Parameter stack-Fn is not valid. Reason: Provided Arn is not in correct format.")
    assert "!GetAtt <LogicalId>.Arn" in (e.hint or "")
    fixed = text.replace("!Ref Fn", "!GetAtt Fn.Arn")
    assert load(tmp_path, fixed).rules[0].targets[0].arn == "arn:aws:lambda:us-east-1:123456789012:function:stack-Fn"


def test_target_fields(tmp_path):
    targets = """\
        - Id: full
          Arn: !Ref Topic
          RoleArn: arn:aws:iam::123456789012:role/r
          InputTransformer:
            InputPathsMap: {name: $.detail.eventName}
            InputTemplate: '"<name> by <aws.events.rule-name>"'
          RetryPolicy: {MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60}
          DeadLetterConfig: {Arn: arn:aws:sqs:us-east-1:123456789012:dlq}
          SqsParameters: {MessageGroupId: g}
        - Id: 42
          Arn: !Ref Topic
          Input: '{"fixed": true}'"""
    d = load(tmp_path, RULE.format(targets=targets))
    full, fixed = d.rules[0].targets
    assert full.role_arn == "arn:aws:iam::123456789012:role/r"
    assert full.input_transformer == model.InputTransformer(
        '"<name> by <aws.events.rule-name>"', {"name": "$.detail.eventName"}
    )
    assert full.retry_policy == model.RetryPolicy(0, 60)
    assert full.dead_letter_arn == "arn:aws:sqs:us-east-1:123456789012:dlq"
    assert (fixed.id, fixed.input) == ("42", '{"fixed": true}')


@pytest.mark.parametrize(
    ("targets", "line", "message", "hint"),
    [
        (
            "        - Id: t\n          Arn: !Ref Topic\n          Input: '{}'\n          InputPath: $.detail",
            12,
            "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
            "keep one",
        ),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          InputTransformer: {InputTemplate: '\"<who>\"'}",
            11,
            "InputTemplate for target t contains invalid placeholder who.",
            "InputPathsMap",
        ),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          Input: {a: 1}",
            11,
            "Input of target 't' must be a string",
            "quote it",
        ),
        ("        - Id: t\n          Arn: !Ref Topic\n          Input: 'not json'", 11, "is not valid JSON text", None),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          RetryPolicy: {MaximumRetryAttempts: 186}",
            11,
            "MaximumRetryAttempts must be from 0 to 185, found 186",
            None,
        ),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          RetryPolicy: {MaximumEventAgeInSeconds: 59}",
            11,
            "MaximumEventAgeInSeconds must be from 60 to 86400",
            None,
        ),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          InputTransfomer: {}",
            11,
            "unknown target property",
            "InputTransformer",
        ),
        ("        - Arn: !Ref Topic", 9, "a target needs an Id", None),
        ("        - {Id: 'bad id', Arn: !Ref Topic}", 9, "target Id 'bad id' is not valid", None),
        (
            "        - {Id: t, Arn: !Ref Topic}\n        - {Id: t, Arn: !Ref Topic}",
            10,
            "target Id 't' is used twice",
            None,
        ),
        (
            "        - Id: t\n          Arn: !Ref Topic\n          InputTransformer:\n"
            "            InputPathsMap: {AWS.x: $.a}\n            InputTemplate: x",
            12,
            "InputPathsMap key 'AWS.x' is not valid",
            None,
        ),
    ],
)
def test_target_errors(tmp_path, targets, line, message, hint):
    e = error(tmp_path, RULE.format(targets=targets))
    assert e.line == line
    assert e.name == "Rule"
    assert message in e.message
    if hint:
        assert hint in (e.hint or "")


@pytest.mark.parametrize(
    ("properties", "line", "message", "hint"),
    [
        ("State: ENABLE", 5, "State must be one of ENABLED, DISABLED, ENABLED_WITH_ALL", "'ENABLED'"),
        ("Name: 'bad name!'", 5, "rule name 'bad name!' is not valid", None),
        ("Nmae: x", 5, "Encountered unsupported property Nmae", "'Name'"),
        ("Description: x", 2, "EventPattern or ScheduleExpression must be specified", None),
        ("EventBusName: arn:aws:sqs:us-east-1:1:q", 5, "neither a bus name nor an event-bus ARN", None),
    ],
)
def test_rule_errors(tmp_path, properties, line, message, hint):
    text = f"Resources:\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      {properties}\n"
    if "Description" not in properties:
        text += "      EventPattern: {source: [x]}\n"
    e = error(tmp_path, text)
    assert (e.line, e.name) == (line, "Rule")
    assert message in e.message
    if hint:
        assert hint in (e.hint or "")


def test_duplicate_rule_names_are_an_error(tmp_path):
    text = """\
Resources:
  A: {Type: AWS::Events::Rule, Properties: {Name: same, EventPattern: {source: [x]}}}
  B: {Type: AWS::Events::Rule, Properties: {Name: same, EventPattern: {source: [y]}}}
"""
    e = error(tmp_path, text)
    assert (e.line, e.name) == (3, "B")
    assert "already exists" in e.message


# --- event pattern errors name the file, the line and the rule -------------------------------------


def test_pattern_error_in_yaml_object(tmp_path):
    text = """\
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      Name: iam
      EventPattern:
        source: aws.iam
"""
    e = error(tmp_path, text)
    assert (e.file, e.line, e.name) == (str(tmp_path / "stack.yaml"), 6, "Rule")
    assert e.path == "$.source"
    assert e.reason == '"source" must be an object or an array'
    assert "EventPattern of rule 'iam' is not valid at $.source" in e.message
    assert 'write ["value"]' in (e.hint or "")
    assert str(e).startswith(f"{tmp_path / 'stack.yaml'}:6: Rule: ")


def test_pattern_error_inside_a_sub_block_names_the_text_line(tmp_path):
    text = """\
Parameters:
  Name: {Type: String, Default: GetSecretValue}
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: !Sub |
        {
          "source": ["aws.secretsmanager"],
          "detail": {
            "eventName": "${Name}"
          }
        }
"""
    e = error(tmp_path, text)
    assert e.line == 11
    assert e.path == "$.detail.eventName"
    assert "line 4 of the pattern text" in e.message


def test_pattern_error_in_json_template(tmp_path):
    text = """{
  "Resources": {
    "Rule": {
      "Type": "AWS::Events::Rule",
      "Properties": {
        "EventPattern": {"detail": {"eventName": [{"prefix": 1}]}}
      }
    }
  }
}"""
    e = error(tmp_path, text, "stack.json")
    assert (e.line, e.name, e.path) == (6, "Rule", "$.detail.eventName[0].prefix")
    assert "prefix match pattern must be a string" in e.message


def test_sub_given_a_mapping_explains_the_unquoted_json_pitfall(tmp_path):
    text = """\
Parameters:
  Id: {Type: String, Default: x}
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: !Sub {"detail": {"id": ["${Id}"]}}
"""
    e = error(tmp_path, text)
    assert e.line == 7
    assert "Fn::Sub takes a string, found a mapping" in e.message
    assert "!Sub |" in (e.hint or "")


def test_pattern_text_with_a_parameter_but_no_sub_warns(tmp_path):
    text = """\
Parameters:
  SecretArn: {Type: String, Default: x}
Resources:
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: |
        {"detail": {"requestParameters": {"secretId": ["${SecretArn}"]}}}
"""
    d = load(tmp_path, text)
    assert '"${SecretArn}"' in d.rules[0].event_pattern
    assert any("${SecretArn} but is not inside !Sub" in w for w in d.warnings)


# --- template structure errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "name", "message", "hint"),
    [
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Targets: [{Id: t, Arn: !Ref Topik}]\n  Topic: {Type: AWS::SNS::Topic}\n",
            6,
            "R",
            "Unresolved resource dependencies [Topik]",
            "'Topic'",
        ),
        (
            'Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub "${Nope}-x"\n',
            5,
            "R",
            "Unresolved resource dependencies [Nope]",
            "${!Nope}",
        ),
        (
            "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !GetAtt Missing.Name\n",
            5,
            "R",
            "Fn::GetAtt references undefined resource Missing",
            None,
        ),
        (
            "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Condition: Nope\n",
            4,
            "R",
            "Unresolved dependencies [Nope]",
            None,
        ),
        (
            "Resources:\n  My-Topic:\n    Type: AWS::SNS::Topic\n",
            2,
            None,
            "Resource name My-Topic is non alphanumeric",
            None,
        ),
        ("Resources:\n  R:\n    Properties: {}\n", 2, "R", "must contain a Type member", None),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Propertes: {EventPattern: {a: [1]}}\n",
            4,
            "R",
            "Invalid template resource property 'Propertes'",
            "'Properties'",
        ),
        ("Resources: {}\n", 1, None, "At least one Resources member must be defined", None),
        ("Resources:\n  R: {Type: AWS::SNS::Topic}\nOutput: {}\n", 3, None, "Invalid template property", "'Outputs'"),
        (
            "Resources:\n  A: &a {Type: AWS::SNS::Topic}\n  B: *a\n",
            3,
            None,
            "YAML aliases are not allowed in CloudFormation templates",
            "repeat the value",
        ),
        (
            "Conditions:\n  A: !Condition B\n  B: !Condition A\n"
            "Resources:\n  R: {Type: AWS::SNS::Topic, Condition: A}\n",
            None,
            "ANY",
            "circular condition dependency",
            None,
        ),
        (
            "Resources:\n  A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt B.TopicName}}\n"
            "  B: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt A.TopicName}}\n",
            None,
            "ANY",
            "Circular dependency between resources",
            None,
        ),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Description: !Select [5, [a]]\n",
            6,
            "R",
            "Fn::Select cannot select nonexistent value at index 5",
            None,
        ),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Description: !FindInMap [M, a, b]\nMappings:\n  M: {x: {b: 1}}\n",
            6,
            "R",
            "Unable to get mapping for M::a::b",
            "top-level key 'a'",
        ),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Description: {'Fn::Transform': {Name: x}}\n",
            6,
            "R",
            "Fn::Transform is not supported offline",
            None,
        ),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Description: !Join [',', a]\n",
            6,
            "R",
            "Fn::Join's second argument must be a list",
            None,
        ),
        (
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: [x]}\n"
            "      Description: !Cidr ['10.0.0.0/30', 2, 8]\n",
            6,
            "R",
            "does not fit",
            None,
        ),
    ],
)
def test_template_errors(tmp_path, text, line, name, message, hint):
    e = error(tmp_path, text)
    if line is not None:
        assert e.line == line
    if name != "ANY":
        assert e.name == name
    assert message in e.message
    assert e.file == str(tmp_path / "stack.yaml")
    if hint:
        assert hint in (e.hint or "")


def test_reference_to_a_resource_not_created_in_this_region(tmp_path):
    text = """\
Conditions:
  InUs: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Topic: {Type: AWS::SNS::Topic, Condition: InUs}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [x]}
      Targets: [{Id: t, Arn: !Ref Topic}]
"""
    assert load(tmp_path, text).rules[0].targets[0].logical_id == "Topic"
    e = error(tmp_path, text, regions=["eu-west-1"])
    assert (e.line, e.name) == (9, "Rule")
    assert "not created in eu-west-1" in e.message


def test_transform_other_than_language_extensions_is_a_warning(tmp_path):
    text = "Transform: AWS::Serverless-2016-10-31\nResources:\n  F: {Type: AWS::Serverless::Function}\n"
    d = load(tmp_path, text)
    assert any("Transform AWS::Serverless-2016-10-31 is not applied" in w for w in d.warnings)
    assert d.unsupported[0].type == "AWS::Serverless::Function"


# --- SNS -------------------------------------------------------------------------------------------------


def test_topics_and_subscriptions(tmp_path):
    text = """\
Resources:
  Fifo:
    Type: AWS::SNS::Topic
    Properties:
      FifoTopic: "true"
      DisplayName: Ops
      Subscription:
        - {Protocol: sqs, Endpoint: arn:aws:sqs:us-east-1:123456789012:q.fifo}
  Sub:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Fifo
      Protocol: https
      Endpoint: https://example.com/hook
      RawMessageDelivery: true
      FilterPolicy: {severity: [high]}
  External:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: arn:aws:sns:us-east-1:999999999999:elsewhere
      Protocol: email
      Endpoint: a@example.com
"""
    d = load(tmp_path, text)
    fifo, external = d.topics
    assert fifo.name == "stack-Fifo.fifo"
    assert fifo.display_name == "Ops"
    assert fifo.logical_id == "Fifo"
    assert fifo.subscriptions == (
        model.Subscription("sqs", "arn:aws:sqs:us-east-1:123456789012:q.fifo"),
        model.Subscription("https", "https://example.com/hook", True),
    )
    assert (external.arn, external.subscriptions) == (
        "arn:aws:sns:us-east-1:999999999999:elsewhere",
        (model.Subscription("email", "a@example.com"),),
    )
    assert any("FilterPolicy is not applied" in w for w in d.warnings)
    assert any("which this template does not define" in w for w in d.warnings)


def test_subscription_protocol_is_checked(tmp_path):
    text = (
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n"
        "      Subscription: [{Protocol: mail, Endpoint: x}]\n"
    )
    e = error(tmp_path, text)
    assert (e.line, e.name) == (5, "T")
    assert "Invalid parameter: Protocol 'mail'" in e.message
    assert "'email'" in (e.hint or "")


# --- multi-region deployment --------------------------------------------------------------------


def test_each_region_is_a_stack(tmp_path):
    text = RULE.format(targets="        - {Id: t, Arn: !Ref Topic}")
    d = load(tmp_path, text, regions=["us-east-1", "ap-northeast-1", "eu-west-1"], account="111122223333")
    assert [r.key for r in d.rules] == [
        "us-east-1/default/stack-Rule",
        "ap-northeast-1/default/stack-Rule",
        "eu-west-1/default/stack-Rule",
    ]
    assert [t.arn for t in d.topics] == [
        "arn:aws:sns:us-east-1:111122223333:stack-Topic",
        "arn:aws:sns:ap-northeast-1:111122223333:stack-Topic",
        "arn:aws:sns:eu-west-1:111122223333:stack-Topic",
    ]
    assert [r.targets[0].arn for r in d.rules] == [t.arn for t in d.topics]
    assert len(d.unsupported) == 0


def test_stack_name_from_text_loader():
    d = load_rules_text(RULE.format(targets="        - {Id: t, Arn: !Ref Topic}"), file="dir/prod-alerts.yaml")
    assert d.rules[0].name == "prod-alerts-Rule"
    assert d.rules[0].location is not None
    assert d.rules[0].location.file == "dir/prod-alerts.yaml"


def test_object_patterns_are_serialised_as_json_dumps_would():
    import yaml

    text = (DATA / "scenario-002.yaml").read_text(encoding="utf-8")
    block = text[text.index("      EventPattern:") : text.index("      Targets:")]
    expected = json.dumps(yaml.safe_load(block.replace("      ", "", 1))["EventPattern"])
    assert load_rules(DATA / "scenario-002.yaml").rules[0].event_pattern == expected


def test_event_bus_needs_a_name(tmp_path):
    e = error(tmp_path, "Resources:\n  Bus:\n    Type: AWS::Events::EventBus\n")
    assert (e.line, e.name) == (2, "Bus")
    assert "needs a Name" in e.message


# --- metric filters and alarms ------------------------------------------------------------------


def test_scenario_004_template():
    d = load_rules(
        DATA / "scenario-004.yaml",
        regions=["ap-northeast-1"],
        account="111111111111",
        parameters={"Email": "sec@example.com"},
    )
    (f,) = d.metric_filters
    assert (f.name, f.log_group, f.region, f.account) == (
        "s3-create-bucket",
        "aws-cloudtrail-logs-qiita-tutorial",
        "ap-northeast-1",
        "111111111111",
    )
    assert f.filter_pattern == '{ ($.eventName = "CreateBucket") }'
    assert f.transformation == model.MetricTransformation(
        "CreateBucketCount", "S3BucketMonitoring", metric_value="1", default_value=0.0, unit="Count"
    )
    (alarm,) = d.alarms
    assert (alarm.statistic, alarm.period, alarm.evaluation_periods, alarm.threshold) == ("Sum", 60, 1, 0.0)
    assert alarm.comparison_operator == "GreaterThanThreshold"
    assert (alarm.namespace, alarm.metric_name) == (f.transformation.metric_namespace, f.transformation.metric_name)
    assert alarm.treat_missing_data == "missing"
    assert alarm.arn == "arn:aws:cloudwatch:ap-northeast-1:111111111111:alarm:s3-create-bucket"
    (topic,) = d.topics
    assert alarm.alarm_actions == (topic.arn,)
    assert topic.subscriptions == (model.Subscription("email", "sec@example.com"),)
    assert topic.logical_id == "NotificationTopic"
    assert d.unsupported == []
    assert d.warnings == []
    assert f.location == model.Location(str(DATA / "scenario-004.yaml"), 16, "CreateBucketMetricFilter")


def test_metric_filter_alarm_template():
    d = load_rules(
        DATA / "cfn-metric-filter-alarm.yaml",
        regions=["us-east-1", "eu-west-1"],
        account="111122223333",
        parameters={"Email": "sec@example.com", "LogGroupName": "CloudTrail/logs"},
    )
    assert d.unsupported == []  # the log group is modelled (a name), not unsupported
    assert d.warnings == []
    names = [(f.region, f.name) for f in d.metric_filters]
    assert names[:4] == [
        ("us-east-1", "cfn-metric-filter-alarm-SecurityGroupChangesMetricFilter"),
        ("us-east-1", "ConsoleSignInFailures"),
        ("us-east-1", "cfn-metric-filter-alarm-AuthorizationFailuresMetricFilter"),
        ("us-east-1", "ApiCallsBySource"),
    ]
    assert len(names) == 8
    assert {f.log_group for f in d.metric_filters} == {"CloudTrail/logs"}  # !Ref of the AWS::Logs::LogGroup
    sg = d.metric_filters[0]
    assert sg.filter_pattern.startswith("{ ($.eventName = AuthorizeSecurityGroupIngress) || ")
    assert "\n" not in sg.filter_pattern  # folded scalar
    by_source = d.metric_filters[3].transformation
    assert by_source.dimensions == {"EventSource": "$.eventSource"}
    assert by_source.unit == "Count"
    alarms = {(a.region, a.name): a for a in d.alarms}
    topic = "arn:aws:sns:eu-west-1:111122223333:cloudtrail-alarms"
    failures = alarms[("eu-west-1", "CloudTrailConsoleSignInFailures")]
    assert (failures.threshold, failures.treat_missing_data, failures.unit) == (3.0, "notBreaching", "Count")
    assert failures.alarm_actions == failures.ok_actions == (topic,)
    authz = alarms[("eu-west-1", "CloudTrailAuthorizationFailures-eu-west-1")]
    assert (authz.evaluation_periods, authz.datapoints_to_alarm, authz.m) == (5, 3, 3)
    iam = alarms[("eu-west-1", "CloudTrailIamApiCalls")]
    assert iam.dimensions == {"EventSource": "iam.amazonaws.com"}
    assert iam.actions_enabled is False
    assert iam.period == 3600
    assert alarms[("us-east-1", "CloudTrailSecurityGroupChanges")].description.startswith("An API call")


def test_conditions_apply_to_metric_filters_and_alarms():
    d = load_rules(DATA / "cfn-metric-filter-alarm.yaml", parameters={"Email": "a@example.com", "Environment": "dev"})
    assert "cfn-metric-filter-alarm-AuthorizationFailuresMetricFilter" not in [f.name for f in d.metric_filters]
    assert not any(a.name.startswith("CloudTrailAuthorizationFailures") for a in d.alarms)


ALARM_TEMPLATE = """\
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Filter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: CloudTrail/logs
      FilterPattern: '{{ $.eventName = "CreateBucket" }}'
      MetricTransformations:
        - {{MetricName: Buckets, MetricNamespace: Trail, MetricValue: "1"}}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: Buckets
      Namespace: Trail
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref Topic]
{extra}"""


def test_default_names_ref_and_getatt(tmp_path):
    extra = """\
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.cloudwatch]}
      Description: !Sub "${Filter} ${Alarm} ${Alarm.Arn}"
"""
    d = load(tmp_path, ALARM_TEMPLATE.format(extra=extra), account="111122223333")
    (f,) = d.metric_filters
    (alarm,) = d.alarms
    assert f.name == "stack-Filter"
    assert alarm.name == "stack-Alarm"
    assert d.rules[0].description == (
        "stack-Filter stack-Alarm arn:aws:cloudwatch:us-east-1:111122223333:alarm:stack-Alarm"
    )
    assert alarm.location == model.Location(str(tmp_path / "stack.yaml"), 11, "Alarm")


@pytest.mark.parametrize(
    ("old", "new", "line", "name", "message", "hint"),
    [
        (
            "Period: 300",
            "Period: 90",
            17,
            "Alarm",
            "Period must be 10, 20, 30 or a multiple of 60 seconds, found 90",
            "60 or 120",
        ),
        ("Period: 300", "Period: 45", 17, "Alarm", "found 45", "30 or 60"),
        ("Period: 300", "Period: five", 17, "Alarm", "Period must be an integer", None),
        ("      Period: 300\n", "", 11, "Alarm", "Period is required", None),
        ("EvaluationPeriods: 1", "EvaluationPeriods: 0", 18, "Alarm", "EvaluationPeriods must be at least 1", None),
        (
            "EvaluationPeriods: 1",
            "EvaluationPeriods: 289",
            18,
            "Alarm",
            "EvaluationPeriods is too large: 289 periods of 300 seconds make 86,700",
            None,
        ),
        (
            "EvaluationPeriods: 1",
            "EvaluationPeriods: 3\n      DatapointsToAlarm: 4",
            19,
            "Alarm",
            "DatapointsToAlarm must be from 1 to EvaluationPeriods (3), found 4",
            "M out of N",
        ),
        (
            "EvaluationPeriods: 1",
            "EvaluationPeriods: 3\n      DatapointsToAlarm: 0",
            19,
            "Alarm",
            "DatapointsToAlarm must be at least 1",
            None,
        ),
        ("Statistic: Sum", "Statistic: sum", 16, "Alarm", "Statistic must be one of SampleCount", "'Sum'"),
        ("Statistic: Sum", "Statistic: p99", 16, "Alarm", "found 'p99'", "ExtendedStatistic"),
        ("      Statistic: Sum\n", "", 11, "Alarm", "Statistic is required", "Sum"),
        (
            "ComparisonOperator: GreaterThanOrEqualToThreshold",
            "ComparisonOperator: GreaterOrEqual",
            20,
            "Alarm",
            "ComparisonOperator must be one of GreaterThanOrEqualToThreshold",
            None,
        ),
        ("Threshold: 1", "Threshold: high", 19, "Alarm", "Threshold must be a number", None),
        ("      Threshold: 1\n", "", 11, "Alarm", "Threshold is required", None),
        (
            "Threshold: 1",
            "Threshold: 1\n      TreatMissingData: notbreaching",
            20,
            "Alarm",
            "TreatMissingData must be one of missing, notBreaching",
            "'notBreaching'",
        ),
        ("Threshold: 1", "Threshold: 1\n      Unit: count", 20, "Alarm", "Unit must be a CloudWatch unit", "'Count'"),
        (
            "Threshold: 1",
            "Threshold: 1\n      ActionsEnabled: maybe",
            20,
            "Alarm",
            "ActionsEnabled must be true or false",
            None,
        ),
        ("      Namespace: Trail\n", "", 11, "Alarm", "Namespace is required", "MetricNamespace"),
        (
            "Threshold: 1",
            "Threshold: 1\n      Dimensions: [{Key: a, Value: b}]",
            20,
            "Alarm",
            "Dimensions[0] must be {Name: ..., Value: ...}",
            None,
        ),
        (
            "Threshold: 1",
            "Threshold: 1\n      Dimensions: [{Name: a, Value: b}, {Name: a, Value: c}]",
            20,
            "Alarm",
            "has dimension 'a' twice",
            None,
        ),
        (
            "AlarmActions: [!Ref Topic]",
            "AlarmActions: [alerts]",
            21,
            "Alarm",
            "AlarmActions[0] 'alerts' is not an ARN",
            "!Ref of the topic",
        ),
        (
            "AlarmActions: [!Ref Topic]",
            "AlarmActions: [!Ref Topic, !Ref Topic, !Ref Topic, !Ref Topic, !Ref Topic, !Ref Topic]",
            21,
            "Alarm",
            "AlarmActions may hold at most 5 ARNs, found 6",
            None,
        ),
        (
            "Threshold: 1",
            "Threshold: 1\n      Priod: 60",
            20,
            "Alarm",
            "Encountered unsupported property Priod",
            "'Period'",
        ),
        (
            "Threshold: 1",
            "Threshold: 1\n      ExtendedStatistic: p99",
            20,
            "Alarm",
            "ExtendedStatistic cannot be given together with Statistic",
            None,
        ),
        (
            "LogGroupName: CloudTrail/logs",
            "LogGroupName: arn:aws:logs:us-east-1:1:log-group:CloudTrail/logs:*",
            7,
            "Filter",
            "is not a log group name",
            "not its ARN",
        ),
        ("      LogGroupName: CloudTrail/logs\n", "", 4, "Filter", "LogGroupName is required", "aws-cloudtrail-logs-"),
        (
            "LogGroupName: CloudTrail/logs",
            "LogGroupName: CloudTrail/logs\n      FilterName: 'a:b'",
            8,
            "Filter",
            "FilterName 'a:b' may not contain ':' or '*'",
            None,
        ),
        (
            "        - {MetricName: Buckets,",
            "        - {MetricName: 'Buck*ets',",
            10,
            "Filter",
            "MetricTransformations[0].MetricName 'Buck*ets' is not a valid metric name",
            None,
        ),
        (
            'MetricValue: "1"',
            'MetricValue: "one"',
            10,
            "Filter",
            "MetricTransformations[0].MetricValue must be a number",
            None,
        ),
        (
            'MetricValue: "1"',
            'MetricValue: "1", Unit: count',
            10,
            "Filter",
            "MetricTransformations[0].Unit must be a CloudWatch unit",
            "'Count'",
        ),
        (
            'MetricValue: "1"',
            'MetricValue: "1", DefaultValue: 0, Dimensions: [{Key: src, Value: $.eventSource}]',
            10,
            "Filter",
            "MetricTransformations[0].DefaultValue cannot be combined with dimensions",
            "drop one",
        ),
        (
            'MetricValue: "1"',
            'MetricValue: "1", Dimensions: [{Key: a, Value: $.a}, {Key: b, Value: $.b}, {Key: c, Value: $.c},'
            " {Key: d, Value: $.d}]",
            10,
            "Filter",
            "Dimensions may hold at most 3 dimensions, found 4",
            None,
        ),
        (
            'MetricValue: "1"',
            'MetricValue: "1", Metric: x',
            10,
            "Filter",
            "Encountered unsupported property Metric in MetricTransformations",
            None,
        ),
        (
            'MetricValue: "1"}',
            'MetricValue: "1"}\n        - {MetricName: B2, MetricNamespace: Trail, MetricValue: "1"}',
            9,
            "Filter",
            "MetricTransformations must hold exactly one metric transformation, found 2",
            "one metric filter per metric",
        ),
        (
            "      MetricTransformations:\n        - {{",
            "      MetricTransformations: []\n      X:\n        - {{",
            10,
            "Filter",
            "Encountered unsupported property X",
            None,
        ),
    ],
)
def test_metric_filter_and_alarm_errors(tmp_path, old, new, line, name, message, hint):
    template = ALARM_TEMPLATE.format(extra="")
    old, new = old.replace("{{", "{"), new.replace("{{", "{")
    assert old in template, old
    e = error(tmp_path, template.replace(old, new, 1))
    assert (e.line, e.name) == (line, name), str(e)
    assert message in e.message
    if hint:
        assert hint in (e.hint or ""), e.hint


def test_duplicate_alarm_and_filter_names(tmp_path):
    extra = """\
  Again:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmName: stack-Alarm, MetricName: m, Namespace: n, Statistic: Sum, Period: 60,
                 EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanThreshold}
"""
    e = error(tmp_path, ALARM_TEMPLATE.format(extra=extra))
    assert (e.line, e.name) == (22, "Again")
    assert "alarm 'stack-Alarm' already exists in us-east-1 (defined by Alarm)" in e.message
    extra = """\
  Filter2:
    Type: AWS::Logs::MetricFilter
    Properties:
      FilterName: stack-Filter
      LogGroupName: CloudTrail/logs
      FilterPattern: ''
      MetricTransformations: [{MetricName: m, MetricNamespace: n, MetricValue: "1"}]
"""
    e = error(tmp_path, ALARM_TEMPLATE.format(extra=extra))
    assert (e.line, e.name) == (22, "Filter2")
    assert "metric filter 'stack-Filter' already exists on log group 'CloudTrail/logs'" in e.message
    # The same name on another log group is another filter.
    d = load(tmp_path, ALARM_TEMPLATE.format(extra=extra.replace("CloudTrail/logs", "Other")))
    assert [f.name for f in d.metric_filters] == ["stack-Filter", "stack-Filter"]


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ("ExtendedStatistic: p99\n      Period: 60", "percentile ExtendedStatistic p99"),
        (
            "Statistic: Sum\n      Period: 60\n      ThresholdMetricId: ad1\n      Metrics:\n"
            "        - {Id: m1, MetricStat: {Metric: {MetricName: x, Namespace: y}, Period: 60, Stat: Sum}}\n"
            "        - {Id: ad1, Expression: 'ANOMALY_DETECTION_BAND(m1, 2)'}",
            "metric math or multi-metric alarm (Metrics)",
        ),
        (
            "Statistic: Sum\n      Period: 60\n      ThresholdMetricId: ad1",
            "anomaly detection alarm (ThresholdMetricId)",
        ),
    ],
)
def test_alarms_not_simulated_are_listed_once(tmp_path, properties, reason):
    operator = (
        "LessThanLowerOrGreaterThanUpperThreshold" if "ThresholdMetricId" in properties else "GreaterThanThreshold"
    )
    text = f"""\
Resources:
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      MetricName: x
      Namespace: y
      {properties}
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: {operator}
"""
    d = load(tmp_path, text, regions=["us-east-1", "eu-west-1"])
    assert d.alarms == []
    assert d.unsupported == [
        model.Unsupported("Alarm", "AWS::CloudWatch::Alarm", model.Location(str(tmp_path / "stack.yaml"), 2, "Alarm"))
    ]
    (warning,) = d.warnings
    assert reason in warning
    assert "alarm 'stack-Alarm' is not simulated" in warning


def test_anomaly_band_operator_is_listed(tmp_path):
    text = ALARM_TEMPLATE.format(extra="").replace(
        "ComparisonOperator: GreaterThanOrEqualToThreshold", "ComparisonOperator: GreaterThanUpperThreshold"
    )
    d = load(tmp_path, text)
    assert d.alarms == []
    assert [u.logical_id for u in d.unsupported] == ["Alarm"]
    assert "anomaly detection band" in d.warnings[0]


def test_metric_filter_properties_not_applied_are_warnings(tmp_path):
    text = ALARM_TEMPLATE.format(extra="").replace(
        "      LogGroupName: CloudTrail/logs\n",
        "      LogGroupName: CloudTrail/logs\n      ApplyOnTransformedLogs: true\n"
        "      EmitSystemFieldDimensions: ['@aws.region']\n",
    )
    d = load(tmp_path, text)
    assert len(d.metric_filters) == 1
    assert any("ApplyOnTransformedLogs is not applied" in w for w in d.warnings)
    assert any("EmitSystemFieldDimensions is not modelled" in w for w in d.warnings)


def test_filter_pattern_with_a_parameter_but_no_sub_warns(tmp_path):
    text = """\
Parameters:
  Event: {Type: String, Default: CreateBucket}
Resources:
  Filter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: CloudTrail/logs
      FilterPattern: '{ $.eventName = "${Event}" }'
      MetricTransformations: [{MetricName: m, MetricNamespace: n, MetricValue: "1"}]
"""
    d = load(tmp_path, text)
    assert any("FilterPattern contains ${Event} but is not inside !Sub" in w for w in d.warnings)
    d = load(tmp_path, text.replace("FilterPattern: '", "FilterPattern: !Sub '"))
    assert d.metric_filters[0].filter_pattern == '{ $.eventName = "CreateBucket" }'
    assert d.warnings == []


def test_filter_pattern_longer_than_1024_characters(tmp_path):
    pattern = "{ " + " || ".join(f'($.eventName = "Event{i:04d}")' for i in range(40)) + " }"
    assert len(pattern) > 1024
    text = ALARM_TEMPLATE.format(extra="").replace("'{ $.eventName = \"CreateBucket\" }'", f"'{pattern}'")
    e = error(tmp_path, text)
    assert (e.line, e.name) == (8, "Filter")
    assert f"has {len(pattern)} characters; CloudWatch Logs allows at most 1024" in e.message


# The engine compiles every filter pattern when the file is loaded (trailmatch.filters).


def test_invalid_filter_pattern_names_the_character(tmp_path):
    text = ALARM_TEMPLATE.format(extra="").replace(
        "'{ $.eventName = \"CreateBucket\" }'", "'{ $.errorCode IS NOT NULL }'"
    )
    e = error(tmp_path, text)
    assert (e.file, e.line, e.name) == (str(tmp_path / "stack.yaml"), 8, "Filter")
    assert e.position == 14
    assert e.message.startswith("FilterPattern of metric filter 'stack-Filter' is not valid: ")
    assert "IS NOT" in e.message
    assert e.reason is not None
    assert e.reason in e.message
    assert e.hint


def test_invalid_filter_pattern_inside_a_sub_block_names_the_text_line(tmp_path):
    text = """\
Parameters:
  Code: {Type: String, Default: AccessDenied}
Resources:
  Filter:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: CloudTrail/logs
      FilterPattern: !Sub |
        { ($.errorCode = "${Code}") ||
          ($.errorCode IS NOT NULL) }
      MetricTransformations: [{MetricName: m, MetricNamespace: n, MetricValue: "1"}]
"""
    e = error(tmp_path, text)
    pattern = '{ ($.errorCode = "AccessDenied") ||\n  ($.errorCode IS NOT NULL) }\n'
    assert e.position is not None
    pattern_line = pattern[: e.position].count("\n") + 1
    assert e.line == 9 + pattern_line - 1
    assert f"(line {pattern_line} of the pattern text)" in e.message
    assert e.name == "Filter"
