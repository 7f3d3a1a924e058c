"""trailmatch's native rules format: structure, precedence of regions and account, targets,
bindings to destinations, settings, and errors naming file, line and key path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from trailmatch import model
from trailmatch.rules import RulesError, detect_format, load_rules

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "rules"
SCHEMA = ROOT / "docs" / "rules.schema.json"
NATIVE_FIXTURES = [
    "native-example.yaml",
    "native-minimal.json",
    "scenario-002-destinations.yaml",
    "native-metric-filters.yaml",
]


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **kwargs) -> model.Deployment:
    return load_rules(write(tmp_path, text), **kwargs)


def error(tmp_path: Path, text: str, **kwargs) -> RulesError:
    with pytest.raises(RulesError) as info:
        load(tmp_path, text, **kwargs)
    return info.value


def validator():
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def read_plain(path: Path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


# --- the example files -------------------------------------------------------------------------


def test_example_file():
    d = load_rules(DATA / "native-example.yaml")
    assert [(r.name, r.region) for r in d.rules] == [
        ("accesskey-used-sender", "us-east-1"),
        ("accesskey-used-sender", "us-west-2"),
        ("accesskey-used-sender", "ap-northeast-1"),
        ("accesskey-used-receiver", "ap-northeast-1"),
    ]
    sender = d.rules[0]
    assert sender.account == "111111111111"
    assert sender.targets[0].arn == "arn:aws:events:ap-northeast-1:111111111111:event-bus/eventbrdge-bus-receiver"
    assert sender.targets[0].role_arn == (
        "arn:aws:iam::111111111111:role/service-role/Amazon_EventBridge_Invoke_Event_Bus"
    )
    receiver = d.rules[3]
    assert receiver.bus == "eventbrdge-bus-receiver"
    notification, audit = receiver.targets
    assert notification.arn == "arn:aws:sns:ap-northeast-1:111111111111:accesskey-used-notification"
    assert notification.logical_id == "accesskey-used-notification"
    assert notification.retry_policy == model.RetryPolicy(10, 3600)
    assert notification.dead_letter_arn == "arn:aws:sqs:ap-northeast-1:111111111111:events-dlq"
    assert notification.input_transformer is not None
    assert notification.input_transformer.input_paths_map["eventName"] == "$.detail.eventName"
    assert audit.input_path == "$.detail"
    assert audit.destination == model.DestinationSpec(
        "file", {"path": "audit.jsonl"}, model.Location(str(DATA / "native-example.yaml"), 67)
    )
    assert d.topics[0].display_name == "Access key alerts"
    assert d.topics[0].subscriptions == (model.Subscription("email", "security-alerts@example.com"),)
    assert [(b.name, b.region) for b in d.buses] == [("eventbrdge-bus-receiver", "ap-northeast-1")]
    assert [b.match for b in d.bindings] == [
        "arn:aws:sns:*:*:accesskey-used-notification",
        "arn:aws:events:*:*:event-bus/*",
        "*:log-group:*",
        "*",
    ]
    email = d.bindings[0].destination
    assert (email.type, email.options["to"], email.options["from"]) == (
        "email",
        ["security-alerts@example.com"],
        "trailmatch@example.com",
    )
    assert d.bindings[1].destination is d.bindings[2].destination
    assert d.bindings[1].destination.options == {"prefix": False}
    webhook = d.bindings[3].destination.options
    assert webhook == {
        "url_env": "ALERT_WEBHOOK_URL",
        "headers": {"X-Source": "trailmatch", "Authorization_env": "ALERT_WEBHOOK_TOKEN"},
        "timeout": 10,
    }
    assert d.settings["smtp"] == {
        "host": "smtp.example.com",
        "port": 587,
        "starttls": True,
        "username_env": "SMTP_USERNAME",
        "password_env": "SMTP_PASSWORD",
        "from": "trailmatch@example.com",
    }
    assert d.settings["sns"] == {"endpoint_url": "http://127.0.0.1:4566", "region": "ap-northeast-1"}
    assert d.warnings == []
    assert type(d.settings["smtp"]["port"]) is int  # plain data, not position-tracking subclasses


def test_json_native_file_with_tabs():
    d = load_rules(DATA / "native-minimal.json", regions=["eu-west-1"], account="222233334444")
    (rule,) = d.rules
    assert (rule.region, rule.account) == ("eu-west-1", "222233334444")
    assert rule.targets[0].id == "target-1"
    assert rule.targets[0].arn == "arn:aws:sns:eu-west-1:222233334444:root-alerts"
    assert rule.targets[0].destination is not None
    assert rule.targets[0].destination.type == "stdout"


def test_destinations_only_file():
    d = load_rules(DATA / "scenario-002-destinations.yaml")
    assert d.rules == []
    assert [(b.match, b.destination.type, b.destination.options) for b in d.bindings] == [
        ("IamChangesTopic", "slack", {"url_env": "SLACK_WEBHOOK_URL"})
    ]
    assert detect_format(DATA / "scenario-002-destinations.yaml") == "native"


@pytest.mark.parametrize("name", NATIVE_FIXTURES)
def test_example_files_validate_against_the_schema(name):
    v = validator()
    errors = [f"{e.json_path}: {e.message}" for e in v.iter_errors(read_plain(DATA / name))]
    assert errors == []


# --- regions and account: the command line wins over the file -----------------------------------


PRECEDENCE = """\
account: "111111111111"
regions: [eu-west-1, eu-central-1]
topics:
  - name: t
rules:
  - name: follows
    event_pattern: {source: [x]}
    targets: [{topic: t}]
  - name: pinned
    region: ap-northeast-1
    event_pattern: {source: [y]}
"""


def test_file_regions_and_account_are_defaults(tmp_path):
    d = load(tmp_path, PRECEDENCE)
    assert [(r.name, r.region, r.account) for r in d.rules] == [
        ("follows", "eu-west-1", "111111111111"),
        ("follows", "eu-central-1", "111111111111"),
        ("pinned", "ap-northeast-1", "111111111111"),
    ]
    assert [t.region for t in d.topics] == ["eu-west-1", "eu-central-1"]
    assert d.rules[1].targets[0].arn == "arn:aws:sns:eu-central-1:111111111111:t"


def test_command_line_regions_and_account_win(tmp_path):
    d = load(tmp_path, PRECEDENCE, regions=["us-west-2"], account="999999999999")
    assert [(r.name, r.region, r.account) for r in d.rules] == [
        ("follows", "us-west-2", "999999999999"),
        ("pinned", "ap-northeast-1", "999999999999"),
    ]


def test_without_regions_anywhere_us_east_1(tmp_path):
    d = load(tmp_path, "rules:\n  - {name: r, event_pattern: {a: [1]}}\n")
    assert [(r.region, r.account) for r in d.rules] == [("us-east-1", model.DEFAULT_ACCOUNT)]


def test_unquoted_account_is_accepted(tmp_path):
    assert load(tmp_path, "account: 111122223333\nrules: []\n").rules == []
    d = load(tmp_path, "account: 111122223333\nrules:\n  - {name: r, event_pattern: {a: [1]}}\n")
    assert d.rules[0].account == "111122223333"


# --- rules and targets -------------------------------------------------------------------------------


def test_rule_fields(tmp_path):
    text = """\
rules:
  - name: r
    description: about r
    regions: us-east-2
    bus: arn:aws:events:us-east-2:123456789012:event-bus/custom
    state: DISABLED
    event_pattern: '{"source": ["aws.s3"], "detail": {"size": [{"numeric": [">", 1.50]}]}}'
    targets:
      - arn: arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:f
        input: {fixed: [1, 2.50]}
      - id: second
        arn: arn:aws:sqs:us-east-2:123456789012:q
        input: '"text"'
"""
    d = load(tmp_path, text)
    (rule,) = d.rules
    assert (rule.region, rule.bus, rule.state, rule.description) == ("us-east-2", "custom", "DISABLED", "about r")
    first, second = rule.targets
    assert first.id == "target-1"
    assert first.arn == "arn:aws:lambda:us-east-2:123456789012:function:f"
    assert first.input == '{"fixed": [1, 2.50]}'
    assert (second.id, second.input) == ("second", '"text"')
    assert any("bus 'custom'" in w for w in d.warnings) is False  # no buses listed: nothing to check against


def test_rule_on_a_bus_the_file_does_not_define_warns(tmp_path):
    text = "buses: [{name: a}]\nrules:\n  - {name: r, bus: b, event_pattern: {x: [1]}}\n"
    d = load(tmp_path, text)
    assert any("on bus 'b', which this file does not define in us-east-1" in w for w in d.warnings)


def test_same_rule_name_on_different_buses_is_fine_but_not_twice_on_one(tmp_path):
    ok = "rules:\n  - {name: r, event_pattern: {x: [1]}}\n  - {name: r, bus: other, event_pattern: {x: [1]}}\n"
    assert len(load(tmp_path, ok).rules) == 2
    e = error(tmp_path, "rules:\n  - {name: r, event_pattern: {x: [1]}}\n  - {name: r, event_pattern: {x: [2]}}\n")
    assert (e.line, e.name) == (3, "r")
    assert "defined twice" in e.message


# --- structural errors: file, line, key path, expected vs found ---------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "path", "message", "hint"),
    [
        (
            "rules:\n  - name: r\n    EventPattern: {a: [1]}\n",
            3,
            "rules[0].EventPattern",
            "unknown key",
            "'event_pattern'",
        ),
        (
            "rules:\n  - name: r\n    event_patern: {a: [1]}\n",
            3,
            "rules[0].event_patern",
            "unknown key",
            "'event_pattern'",
        ),
        ("rules:\n  - name: r\n", 2, "rules[0]", "missing required key 'event_pattern'", None),
        ("rules:\n  name: r\n", 1, "rules", "expected a list, found a mapping", None),
        ("rules:\n  - r\n", 2, "rules[0]", "expected a mapping, found the string 'r'", None),
        (
            "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n      - {id: t}\n",
            5,
            "rules[0].targets[0]",
            "exactly one of arn and topic",
            None,
        ),
        (
            "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n      - {topic: nope}\n",
            5,
            "rules[0].targets[0].topic",
            "topic 'nope' is not defined",
            None,
        ),
        (
            "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n"
            "      - {arn: 'arn:aws:sns:us-east-1:123456789012:t', InputPath: $.a}\n",
            5,
            "rules[0].targets[0].InputPath",
            "unknown key",
            "'input_path'",
        ),
        (
            "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n      - {arn: 'x:${AWS::Regin}'}\n",
            5,
            "rules[0].targets[0].arn",
            "unknown variable ${AWS::Regin}",
            "${AWS::Region}",
        ),
        ("rules:\n  - {name: r, region: us-east1, event_pattern: {a: [1]}}\n", 2, "rules[0].region", "us-east1", None),
        (
            "rules:\n  - {name: r, region: us-east-1, regions: [us-east-2], event_pattern: {a: [1]}}\n",
            2,
            "rules[0]",
            "either region or regions",
            None,
        ),
        ("account: '1234'\nrules: []\n", 1, "account", "12-digit account id", "quote it"),
        ("version: 2\nrules: []\n", 1, "version", "expected 1", None),
        ("rulez: []\ntopics: []\n", 1, "rulez", "unknown key", "'rules'"),
        (
            "topics:\n  - name: t\n    subscriptions: [{protocol: mail, endpoint: a}]\n",
            3,
            "topics[0].subscriptions[0].protocol",
            "mail",
            "'email'",
        ),
        ("buses: [{name: default}]\n", 1, "buses[0].name", "the default bus exists", None),
        ("destinations:\n  - {type: stdout}\n", 2, "destinations[0].match", "expected a glob", None),
        ("destinations:\n  - {match: '*', type: teams}\n", 2, "destinations[0].type", "teams", None),
        ("destinations:\n  - {match: '*', type: file}\n", 2, "destinations[0]", "missing required key 'path'", None),
        (
            "destinations:\n  - {match: '*', type: slack, url: 'https://hooks.slack.com/x'}\n",
            2,
            "destinations[0].url",
            "secrets must not be written",
            "url_env",
        ),
        (
            "destinations:\n  - {match: '*', type: slack, url_env: 'https://hooks.slack.com/x'}\n",
            2,
            "destinations[0].url_env",
            "expected the name of an environment variable",
            "not the value itself",
        ),
        ("destinations:\n  - {match: '*', type: webhook}\n", 2, "destinations[0]", "missing required key 'url'", None),
        (
            "destinations:\n  - {match: '*', type: webhook, url: 'http://a', url_env: A}\n",
            2,
            "destinations[0]",
            "give one of url and url_env, not both",
            None,
        ),
        (
            "destinations:\n  - {match: '*', type: webhook, url_env: A, headers: {X-Token: {env: 'not a name'}}}\n",
            2,
            "destinations[0].headers.X-Token.env",
            "expected the name of an environment variable",
            None,
        ),
        (
            "destinations:\n  - match: '*'\n    type: webhook\n"
            "    url: http://x\n    headers: {Authorization: Bearer x}\n",
            5,
            "destinations[0].headers.Authorization",
            "credential header",
            "Authorization_env: VARIABLE_NAME",
        ),
        (
            "destinations:\n  - {match: '*', type: stdout, prefix: 1}\n",
            2,
            "destinations[0].prefix",
            "true or false",
            None,
        ),
        ("destinations:\n  - {match: '*', type: email, password: x}\n", 2, "destinations[0].password", "secrets", None),
        ("settings:\n  smtp: {host: h, password: p}\n", 2, "settings.smtp.password", "secrets must", "password_env"),
        ("settings:\n  smtp: {host: h, port: 70000}\n", 2, "settings.smtp.port", "port from 1 to 65535", None),
        ("settings:\n  smtp: {hots: h}\n", 2, "settings.smtp.hots", "unknown key", "'host'"),
        ("settings:\n  sns: {region_env: 5}\n", 2, "settings.sns.region_env", "name of an environment variable", None),
        ("settings:\n  smtp: {host: h, ssl: true, starttls: true}\n", 2, "settings.smtp", "exclude each other", None),
    ],
)
def test_structural_errors(tmp_path, text, line, path, message, hint):
    e = error(tmp_path, text)
    assert e.file == str(tmp_path / "rules.yaml")
    assert e.line == line
    assert e.path == path
    assert message in e.message
    assert e.message.startswith(f"{path}: ")
    if hint:
        assert hint in (e.hint or "")


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n"
        "      - {arn: 'arn:aws:sns:us-east-1:123456789012:t', input: '{}', input_path: $.a}\n",
        "destinations:\n  - {match: '*', type: slack, url: 'https://hooks.slack.com/x'}\n",
        "destinations:\n  - {match: '*', type: webhook}\n",
        "settings:\n  smtp: {host: h, password: p}\n",
        "rules:\n  - name: r\n    EventPattern: {a: [1]}\n",
        "rules:\n  - {name: r, event_pattern: {a: [1]}, targets: [{arn: 'arn:aws:sns:us-east-1:123456789012:t',\n"
        "                                                retry_policy: {maximum_retry_attempts: 200}}]}\n",
        "rules:\n  - {name: r, event_pattern: {a: [1]}, targets: [{arn: 'arn:aws:sns:us-east-1:123456789012:t',\n"
        "                                                destination: {type: stdout, match: '*'}}]}\n",
    ],
)
def test_schema_and_loader_reject_the_same_mistakes(tmp_path, text):
    v = validator()
    assert list(v.iter_errors(yaml.safe_load(text))), "the schema accepts it"
    error(tmp_path, text)


def test_aws_checks_apply_to_native_targets(tmp_path):
    text = (
        "rules:\n  - name: r\n    event_pattern: {a: [1]}\n    targets:\n"
        "      - arn: arn:aws:sns:us-east-1:123456789012:t\n        input: '{}'\n        input_path: $.a\n"
    )
    e = error(tmp_path, text)
    assert e.message == "Only one of Input, InputPath, or InputTransformer must be provided for target target-1."
    assert (e.line, e.name) == (7, "r")


def test_pattern_errors_name_the_line(tmp_path):
    text = 'rules:\n  - name: r\n    event_pattern: |\n      {\n        "a": "b"\n      }\n'
    e = error(tmp_path, text)
    assert (e.line, e.name, e.path) == (5, "r", "$.a")
    assert "line 2 of the pattern text" in e.message
    e = error(tmp_path, "rules:\n  - name: r\n    event_pattern:\n      a: {b: x}\n")
    assert (e.line, e.name) == (3, "r")
    assert e.path == "$.a.b"


def test_cloudformation_tags_are_refused(tmp_path):
    e = error(tmp_path, "rules:\n  - name: r\n    event_pattern: {a: [!Ref X]}\n")
    assert e.line == 3
    assert "!Ref is a CloudFormation tag" in e.message


def test_unknown_settings_section_is_kept_with_a_warning(tmp_path):
    d = load(tmp_path, "settings:\n  state: {path: trailmatch.db}\n")
    assert d.settings == {"state": {"path": "trailmatch.db"}}
    assert any("settings.state is not a section trailmatch knows" in w for w in d.warnings)


def test_aliases_are_allowed_in_native_files(tmp_path):
    text = """\
rules:
  - name: a
    event_pattern: &pattern {source: [aws.iam]}
    targets: &targets [{arn: 'arn:aws:sns:${AWS::Region}:${AWS::AccountId}:t'}]
  - name: b
    event_pattern: *pattern
    targets: *targets
"""
    d = load(tmp_path, text)
    assert d.rules[0].event_pattern == d.rules[1].event_pattern
    assert d.rules[0].targets == d.rules[1].targets


def test_match_list_makes_one_binding_per_glob(tmp_path):
    d = load(tmp_path, "destinations:\n  - match: [a, 'b*']\n    type: sns\n    region: eu-west-1\n")
    assert [(b.match, b.destination.options) for b in d.bindings] == [
        ("a", {"region": "eu-west-1"}),
        ("b*", {"region": "eu-west-1"}),
    ]


# --- metric filters and alarms --------------------------------------------------------------------


def test_metric_filters_and_alarms_file():
    d = load_rules(DATA / "native-metric-filters.yaml")
    assert [(f.region, f.log_group, f.name) for f in d.metric_filters] == [
        ("ap-northeast-1", "aws-cloudtrail-logs-qiita-tutorial", "s3-create-bucket"),
        ("ap-northeast-1", "aws-cloudtrail-logs-111111111111", "root-usage"),
        ("us-east-1", "aws-cloudtrail-logs-111111111111", "root-usage"),
        ("ap-northeast-1", "aws-cloudtrail-logs-qiita-tutorial", "api-calls-by-source"),
    ]
    s3 = d.metric_filters[0]
    assert s3.transformation == model.MetricTransformation(
        "CreateBucketCount", "S3BucketMonitoring", metric_value="1", default_value=0.0, unit="Count"
    )
    assert type(s3.transformation.metric_value) is str
    assert d.metric_filters[1].transformation.metric_value == "1"  # the default: count matching events
    assert d.metric_filters[3].transformation.dimensions == {"EventSource": "$.eventSource"}
    alarms = {(a.region, a.name): a for a in d.alarms}
    assert list(alarms) == [
        ("ap-northeast-1", "s3-create-bucket"),
        ("ap-northeast-1", "root-usage"),
        ("us-east-1", "root-usage"),
        ("ap-northeast-1", "iam-api-calls"),
    ]
    s3_alarm = alarms[("ap-northeast-1", "s3-create-bucket")]
    assert (s3_alarm.statistic, s3_alarm.period, s3_alarm.threshold, s3_alarm.comparison_operator) == (
        "Sum",
        60,
        0.0,
        "GreaterThanThreshold",
    )
    assert s3_alarm.alarm_actions == ("arn:aws:sns:ap-northeast-1:111111111111:s3-create-bucket",)
    assert s3_alarm.description == "A new S3 bucket was created"
    root_us = alarms[("us-east-1", "root-usage")]
    assert root_us.alarm_actions == root_us.ok_actions == ("arn:aws:sns:us-east-1:111111111111:security-alarms",)
    assert root_us.treat_missing_data == "notBreaching"
    iam = alarms[("ap-northeast-1", "iam-api-calls")]
    assert (iam.m, iam.actions_enabled, iam.dimensions) == (2, False, {"EventSource": "iam.amazonaws.com"})
    assert iam.location == model.Location(str(DATA / "native-metric-filters.yaml"), 58, "iam-api-calls")
    assert d.warnings == []


def test_metric_filter_defaults_and_substitution(tmp_path):
    text = """\
metric_filters:
  - name: everything
    filter_pattern: ''
    metric: {name: Events, namespace: Trail}
  - name: sub
    log_group: trail-${AWS::AccountId}-${AWS::Region}
    filter_pattern: '{ $.eventName = "CreateBucket" }'
    metric: {name: Buckets, namespace: Trail, value: $.requestParameters.size}
"""
    d = load(tmp_path, text, regions=["eu-west-1"], account="111122223333")
    everything, sub = d.metric_filters
    assert (everything.log_group, everything.filter_pattern) == ("aws-cloudtrail-logs-111122223333", "")
    assert sub.log_group == "trail-111122223333-eu-west-1"
    assert sub.transformation.metric_value == "$.requestParameters.size"


def test_alarm_actions_forms(tmp_path):
    text = """\
account: "111122223333"
topics: [{name: alerts}]
alarms:
  - name: a
    metric_name: m
    namespace: n
    statistic: Maximum
    period: 60
    evaluation_periods: 1
    threshold: 1.5
    comparison_operator: LessThanThreshold
    actions:
      alarm: "arn:aws:sns:${AWS::Region}:${AWS::AccountId}:one"
      ok: [{arn: "arn:aws:lambda:us-east-1:111122223333:function:f"}, {topic: alerts}]
      insufficient_data: []
"""
    (alarm,) = load(tmp_path, text).alarms
    assert alarm.alarm_actions == ("arn:aws:sns:us-east-1:111122223333:one",)
    assert alarm.ok_actions == (
        "arn:aws:lambda:us-east-1:111122223333:function:f",
        "arn:aws:sns:us-east-1:111122223333:alerts",
    )
    assert alarm.insufficient_data_actions == ()
    assert (alarm.statistic, alarm.threshold, alarm.comparison_operator) == ("Maximum", 1.5, "LessThanThreshold")


ALARM = """\
topics: [{name: alerts}]
alarms:
  - name: a
    metric_name: m
    namespace: n
    statistic: Sum
    period: 300
    evaluation_periods: 1
    threshold: 1
    comparison_operator: GreaterThanOrEqualToThreshold
    actions: {alarm: [{topic: alerts}]}
"""
FILTER = """\
metric_filters:
  - name: f
    filter_pattern: '{ $.eventName = "CreateBucket" }'
    metric: {name: m, namespace: n}
"""


@pytest.mark.parametrize(
    ("text", "line", "path", "message", "hint"),
    [
        (
            ALARM.replace("period: 300", "period: 90"),
            7,
            "alarms[0].period",
            "must be 10, 20, 30 or a multiple of 60",
            "60 or 120",
        ),
        (
            ALARM.replace("statistic: Sum", "statistic: sum"),
            6,
            "alarms[0].statistic",
            "must be one of SampleCount",
            "'Sum'",
        ),
        (ALARM.replace("    statistic: Sum\n", ""), 3, "alarms[0]", "missing required key 'statistic'", None),
        (ALARM.replace("period: 300", "Period: 300"), 7, "alarms[0].Period", "unknown key", "'period'"),
        (
            ALARM.replace("evaluation_periods: 1", "evaluation_periods: 2\n    datapoints_to_alarm: 3"),
            9,
            "alarms[0].datapoints_to_alarm",
            "must be from 1 to alarms[0].evaluation_periods (2), found 3",
            None,
        ),
        (
            ALARM.replace("{topic: alerts}", "{topic: alert}"),
            11,
            "alarms[0].actions.alarm[0].topic",
            "topic 'alert' is not defined in this file for us-east-1",
            "'alerts'",
        ),
        (
            ALARM.replace("{topic: alerts}", "{topic: alerts, arn: 'arn:aws:sns:us-east-1:1:x'}"),
            11,
            "alarms[0].actions.alarm[0]",
            "exactly one of arn and topic",
            None,
        ),
        (ALARM.replace("{topic: alerts}", "alerts"), 11, "alarms[0].actions.alarm[0]", "'alerts' is not an ARN", None),
        (ALARM.replace("alarm: [", "alarms: ["), 11, "alarms[0].actions.alarms", "unknown key", "'alarm'"),
        (
            ALARM.replace("{topic: alerts}", "'arn:aws:sns:${AWS::Region}:${Account}:x'"),
            11,
            "alarms[0].actions.alarm[0]",
            "unknown variable ${Account}",
            None,
        ),
        (
            ALARM.replace("threshold: 1", "threshold: 1\n    dimensions: [{name: a, value: b}]"),
            10,
            "alarms[0].dimensions",
            "must be a mapping",
            None,
        ),
        (
            ALARM.replace(
                "comparison_operator: GreaterThanOrEqualToThreshold", "comparison_operator: GreaterThanUpperThreshold"
            ),
            10,
            "alarms[0].comparison_operator",
            "cannot be simulated",
            "GreaterThanThreshold",
        ),
        (ALARM + ALARM.split("alarms:\n")[1], 12, "alarms[1]", "alarm 'a' is defined twice in us-east-1", None),
        (
            FILTER.replace(
                "metric: {name: m, namespace: n}",
                "metric: {name: m, namespace: n, default_value: 0, dimensions: {a: $.a}}",
            ),
            4,
            "metric_filters[0].metric.default_value",
            "cannot be combined with dimensions",
            None,
        ),
        (
            FILTER.replace("namespace: n}", "namespace: n, unit: count}"),
            4,
            "metric_filters[0].metric.unit",
            "must be a CloudWatch unit",
            "'Count'",
        ),
        (
            FILTER.replace("namespace: n}", "namespace: 'a:b'}"),
            4,
            "metric_filters[0].metric.namespace",
            "is not a valid metric namespace",
            None,
        ),
        (
            FILTER.replace("namespace: n}", "namespace: n, value: one}"),
            4,
            "metric_filters[0].metric.value",
            "must be a number",
            None,
        ),
        (FILTER.replace("name: m, ", ""), 4, "metric_filters[0].metric", "missing required key 'name'", None),
        (
            FILTER.replace("    metric: {name: m, namespace: n}\n", ""),
            2,
            "metric_filters[0]",
            "missing required key 'metric'",
            "metric: {name",
        ),
        (
            FILTER.replace("    filter_pattern: '{ $.eventName = \"CreateBucket\" }'\n", ""),
            2,
            "metric_filters[0]",
            "missing required key 'filter_pattern'",
            "''",
        ),
        (
            FILTER + "    log_group: arn:aws:logs:us-east-1:1:log-group:x\n",
            5,
            "metric_filters[0].log_group",
            "is not a log group name",
            "not its ARN",
        ),
        (FILTER + "    logGroup: x\n", 5, "metric_filters[0].logGroup", "unknown key", "'log_group'"),
        (FILTER + FILTER.split("metric_filters:\n")[1], 5, "metric_filters[1]", "is defined twice on log group", None),
    ],
)
def test_metric_filter_and_alarm_structural_errors(tmp_path, text, line, path, message, hint):
    e = error(tmp_path, text)
    assert e.file == str(tmp_path / "rules.yaml")
    assert (e.line, e.path) == (line, path), str(e)
    assert e.message.startswith(f"{path}: "), e.message
    assert message in e.message
    if hint:
        assert hint in (e.hint or ""), e.hint


@pytest.mark.parametrize(
    "text",
    [
        ALARM.replace("period: 300", "period: 90"),
        ALARM.replace("statistic: Sum", "statistic: p99"),
        ALARM.replace("    statistic: Sum\n", ""),
        ALARM.replace("{topic: alerts}", "{topic: alerts, arn: 'arn:aws:sns:us-east-1:1:x'}"),
        ALARM.replace("[{topic: alerts}]", "[" + ", ".join(["{topic: alerts}"] * 6) + "]"),
        ALARM.replace(
            "comparison_operator: GreaterThanOrEqualToThreshold", "comparison_operator: GreaterThanUpperThreshold"
        ),
        ALARM.replace("threshold: 1", "threshold: 1\n    extended_statistic: p99"),
        FILTER.replace("namespace: n}", "namespace: n, default_value: 0, dimensions: {a: $.a}}"),
        FILTER.replace("namespace: n}", "namespace: n, dimensions: {a: $.a, b: $.b, c: $.c, d: $.d}}"),
        FILTER.replace("namespace: n}", "namespace: 'a*b'}"),
        FILTER + "    log_group: 'a b'\n",
        FILTER.replace("'{ $.eventName = \"CreateBucket\" }'", "'" + "x" * 1025 + "'"),
    ],
)
def test_schema_and_loader_reject_the_same_cloudwatch_mistakes(tmp_path, text):
    v = validator()
    assert list(v.iter_errors(yaml.safe_load(text))), "the schema accepts it"
    error(tmp_path, text)


def test_alarm_regions_follow_the_topic_regions(tmp_path):
    text = ALARM.replace("topics: [{name: alerts}]", "topics: [{name: alerts, region: eu-west-1}]")
    e = error(tmp_path, text, regions=["us-east-1"])
    assert "topic 'alerts' is not defined in this file for us-east-1" in e.message
    d = load(tmp_path, text, regions=["eu-west-1"])
    assert d.alarms[0].alarm_actions == (f"arn:aws:sns:eu-west-1:{model.DEFAULT_ACCOUNT}:alerts",)


def test_metadata_is_not_interpreted(tmp_path):
    d = load(tmp_path, "metadata: {title: anything, nested: {a: [1, 2]}}\n" + FILTER)
    assert len(d.metric_filters) == 1
    assert d.settings == {}
    assert detect_format(write(tmp_path, "metadata: {title: x}\nalarms: []\n")) == "native"


# The engine compiles every filter pattern when the file is loaded (trailmatch.filters).


def test_invalid_filter_pattern_names_its_path_and_character(tmp_path):
    text = FILTER.replace("'{ $.eventName = \"CreateBucket\" }'", "'{ $.errorCode IS NOT NULL }'")
    e = error(tmp_path, text)
    assert (e.line, e.name, e.position) == (3, "f", 14)
    assert e.message.startswith("metric_filters[0].filter_pattern of metric filter 'f' is not valid: ")
    assert e.hint


def test_invalid_filter_pattern_in_a_block_names_the_text_line(tmp_path):
    text = """\
metric_filters:
  - name: f
    filter_pattern: |
      { ($.errorCode = "AccessDenied") ||
        ($.errorCode IS NOT NULL) }
    metric: {name: m, namespace: n}
"""
    e = error(tmp_path, text)
    pattern = '{ ($.errorCode = "AccessDenied") ||\n  ($.errorCode IS NOT NULL) }\n'
    assert e.position is not None
    pattern_line = pattern[: e.position].count("\n") + 1
    assert e.line == 4 + pattern_line - 1
