"""The public face of trailmatch.rules: format detection, reading files, the documented
examples (docstrings and docs/RULES.md) and the shape of RulesError."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle
import re
from pathlib import Path

import pytest
import yaml

from trailmatch import model
from trailmatch.rules import FORMATS, RulesError, detect_format, load_rules, load_rules_text

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "rules"
RULES_MD = ROOT / "docs" / "RULES.md"
SCHEMA = ROOT / "docs" / "rules.schema.json"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scenario-000.yaml", "cloudformation"),
        ("scenario-001-sender.yaml", "cloudformation"),
        ("scenario-001-receiver.yaml", "cloudformation"),
        ("scenario-002.yaml", "cloudformation"),
        ("cfn-template.json", "cloudformation"),
        ("cfn-metric-filter-alarm.yaml", "cloudformation"),
        ("scenario-004.yaml", "cloudformation"),
        ("cli-describe-metric-filters.json", "awscli"),
        ("cli-describe-alarms.json", "awscli"),
        ("native-metric-filters.yaml", "native"),
        ("cli-list-rules.json", "awscli"),
        ("cli-describe-and-targets.json", "awscli"),
        ("cli-pages.json", "awscli"),
        ("cli-output.yaml", "awscli"),
        ("native-example.yaml", "native"),
        ("native-minimal.json", "native"),
        ("scenario-002-destinations.yaml", "native"),
    ],
)
def test_detect_format(name, expected):
    assert expected in FORMATS
    assert detect_format(DATA / name) == expected


def test_every_fixture_loads():
    """Each fixture loads (templates with the parameters they need)."""
    given = {
        "Email": "a@example.com",
        "SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
        "shared-alerts-topic-arn": "arn:aws:sns:us-east-1:1:t",
    }
    broken = {p.name for p in DATA.glob("broken-*")}
    for path in sorted(DATA.iterdir()):
        if path.name in broken:
            continue
        d = load_rules(path, parameters=given)
        assert isinstance(d, model.Deployment)
        assert d.rules or d.bindings or d.metric_filters or d.alarms, path.name


def test_scenarios_combine_into_one_deployment():
    d = load_rules(DATA / "scenario-002.yaml")
    d.extend(load_rules(DATA / "scenario-002-destinations.yaml"))
    (rule,) = d.rules
    (binding,) = d.bindings
    assert binding.match == rule.targets[0].logical_id == "IamChangesTopic"


@pytest.mark.parametrize(
    ("name", "content", "line", "message", "hint"),
    [
        ("empty.yaml", "", None, "the rules file is empty", "RULES.md"),
        ("comments.yaml", "# nothing\n", None, "the rules file is empty", None),
        ("list.yaml", "- a\n- b\n", 1, "cannot tell the format", "native rules file"),
        ("upper.yaml", "Rules:\n  name: x\n", 1, "cannot tell the format", "lower-case keys"),
        ("two.yaml", "rules: []\n---\nrules: []\n", 3, "must hold one document", None),
        ("bad.json", '{"rules": [}', 1, "invalid JSON", None),
        ("bad.yaml", "rules: [\n", 2, "invalid YAML", None),
        ("resources.yaml", "resources:\n  A: {Type: AWS::SNS::Topic}\n", 1, "cannot tell the format", "Resources"),
    ],
)
def test_unreadable_files(tmp_path, name, content, line, message, hint):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    e = info.value
    assert e.file == str(path)
    assert e.line == line
    assert message in e.message
    if hint:
        assert hint in (e.hint or "")


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("rules: []\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(RulesError, match="not UTF-8") as info:
        load_rules(path)
    assert info.value.hint == "save it as UTF-8"


def test_json_that_yaml_cannot_read_is_read_as_json(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text('{\n\t"rules": [{"name": "r", "event_pattern": {"a": [1]}}]\n}', encoding="utf-8")
    assert load_rules(path).rules[0].name == "r"


def test_regions_are_checked():
    with pytest.raises(RulesError, match="'us-east1' is not a region name"):
        load_rules_text("rules: []\n", regions=["us-east1"])
    d = load_rules_text("rules:\n  - {name: r, event_pattern: {a: [1]}}\n", regions="eu-west-3")  # type: ignore[arg-type]
    assert [r.region for r in d.rules] == ["eu-west-3"]


def test_path_like_and_str_paths():
    assert load_rules(str(DATA / "scenario-002.yaml")).rules == load_rules(DATA / "scenario-002.yaml").rules


def test_rules_error_shape():
    e = RulesError("boom", file="f.yaml", line=3, name="R", hint="do x", path="$.a", reason="r")
    assert isinstance(e, ValueError)
    assert str(e) == "f.yaml:3: R: boom\n  hint: do x"
    copy = pickle.loads(pickle.dumps(e))
    assert (copy.file, copy.line, copy.name, copy.hint, copy.path, copy.reason) == (
        "f.yaml",
        3,
        "R",
        "do x",
        "$.a",
        "r",
    )
    assert str(RulesError("m", file="f")) == "f: m"


def test_deployment_pickles():
    """Loaded deployments hold plain data: they cross process boundaries."""
    d = load_rules(DATA / "native-example.yaml")
    d.extend(load_rules(DATA / "cfn-template.json"))
    copy = pickle.loads(pickle.dumps(d))
    assert copy == d
    for rule in copy.rules:
        assert type(rule.event_pattern) is str
        assert type(rule.name) is str


def test_metric_filters_and_alarms_are_plain_data():
    d = load_rules(DATA / "cfn-metric-filter-alarm.yaml", parameters={"Email": "a@example.com"})
    d.extend(load_rules(DATA / "native-metric-filters.yaml"))
    d.extend(load_rules(DATA / "cli-describe-alarms.json"))
    assert d.metric_filters
    assert d.alarms
    copy = pickle.loads(pickle.dumps(d))
    assert copy == d
    for f in copy.metric_filters:
        t = f.transformation
        assert {type(v) for v in (f.name, f.log_group, f.filter_pattern, t.metric_name, t.metric_value)} == {str}
        assert all(type(k) is str and type(v) is str for k, v in t.dimensions.items())
        assert t.default_value is None or type(t.default_value) is float
    for a in copy.alarms:
        assert {type(v) for v in (a.name, a.metric_name, a.namespace, a.statistic, *a.alarm_actions)} == {str}
        assert (type(a.period), type(a.evaluation_periods), type(a.threshold)) == (int, int, float)


@pytest.mark.parametrize(
    "module",
    [
        "trailmatch.rules",
        "trailmatch.rules.errors",
        "trailmatch.rules.positions",
        "trailmatch.rules.cloudformation",
        "trailmatch.rules.awscli",
        "trailmatch.rules.native",
        "trailmatch.rules.cloudwatch",
        "trailmatch.rules.packs",
    ],
)
def test_docstring_examples(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no examples"
    assert result.failed == 0


# --- docs/RULES.md ---------------------------------------------------------------------------------


def rules_md_examples() -> list[tuple[str, str]]:
    text = RULES_MD.read_text(encoding="utf-8")
    return re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)


def test_rules_md_has_examples():
    names = [name for name, _ in rules_md_examples()]
    assert len(names) >= 6
    assert any(n.endswith(".json") for n in names)


@pytest.mark.parametrize(("name", "text"), rules_md_examples(), ids=[n for n, _ in rules_md_examples()])
def test_rules_md_examples_load(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    d = load_rules(path)
    assert d.rules or d.bindings or d.metric_filters or d.alarms
    assert d.warnings == []
    if detect_format(path) == "native":
        import jsonschema

        schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
        doc = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
        assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)] == []


def test_rules_md_documents_every_destination_type_and_native_key():
    from trailmatch.rules.native import DESTINATION_TYPES, NATIVE_KEYS

    text = RULES_MD.read_text(encoding="utf-8")
    for word in (*DESTINATION_TYPES, *NATIVE_KEYS):
        assert f"`{word}`" in text, word
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert set(schema["properties"]) == set(NATIVE_KEYS)
    assert schema["$defs"]["destination"]["properties"]["type"]["enum"] == list(DESTINATION_TYPES)


@pytest.mark.parametrize(
    ("name", "line", "rule", "message", "hint"),
    [
        ("broken-pattern.yaml", 10, "IamRule", '"source" must be an object or an array', 'write ["value"]'),
        ("broken-pattern.json", 7, "IamRule", "prefix match pattern must be a string", None),
        ("broken-sub-unquoted.yaml", 10, "Rule", "Fn::Sub takes a string, found a mapping", "!Sub |"),
        (
            "broken-missing-parameter.yaml",
            2,
            "Email",
            "Parameters: [Email] must have values",
            "--parameter Email=Value",
        ),
        ("broken-unknown-reference.yaml", 10, "Rule", "Unresolved resource dependencies [AlertsTopic]", "'AlertTopic'"),
        ("broken-native.yaml", 7, "root-login", "rules[0].targets[0].InputPath: unknown key", "'input_path'"),
        ("broken-cli.json", 1, None, "list-targets-by-rule output before any rule", "describe-rule"),
        ("broken-alarm.yaml", 19, "RootUsageAlarm", "Period must be 10, 20, 30 or a multiple of 60", "60 or 120"),
        (
            "broken-metric-filter.json",
            9,
            "RootUsageFilter",
            "MetricTransformations must hold exactly one metric transformation, found 2",
            "one metric filter per metric",
        ),
        (
            "broken-native-alarm.yaml",
            14,
            "root-usage",
            "alarms[0].statistic: must be one of SampleCount, Average, Sum, Minimum, Maximum, found 'Total'",
            None,
        ),
    ],
)
def test_broken_fixtures_name_file_line_and_rule(name, line, rule, message, hint):
    with pytest.raises(RulesError) as info:
        load_rules(DATA / name)
    e = info.value
    assert (e.file, e.line, e.name) == (str(DATA / name), line, rule)
    assert message in e.message
    assert str(e).startswith(f"{DATA / name}:{line}: ")
    if hint:
        assert hint in (e.hint or "")


# --- filter-pattern errors: how the engine's error becomes a RulesError ------------------------------


NO_IS_NOT = "there is no IS NOT: "


def test_filter_pattern_errors_name_file_line_resource_and_character(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(
        "Resources:\n  Filter:\n    Type: AWS::Logs::MetricFilter\n    Properties:\n"
        "      LogGroupName: CloudTrail/logs\n      FilterPattern: '{ $.errorCode IS NOT NULL }'\n"
        "      MetricTransformations: [{MetricName: m, MetricNamespace: n, MetricValue: '1'}]\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as info:
        load_rules(path)
    e = info.value
    assert (e.file, e.line, e.name, e.position) == (str(path), 6, "Filter", 14)
    assert (e.hint or "").startswith(NO_IS_NOT)
    assert e.message == (
        "FilterPattern of metric filter 'stack-Filter' is not valid: "
        "Invalid filter pattern: IS NOT is not supported at character 14"
    )
    assert e.reason == "IS NOT is not supported"
    copy = pickle.loads(pickle.dumps(e))
    assert (copy.position, copy.reason) == (14, e.reason)


def test_filter_pattern_errors_inside_a_block_name_the_text_line(tmp_path):
    text = (
        "Parameters:\n  Code: {Type: String, Default: AccessDenied}\nResources:\n  Filter:\n"
        "    Type: AWS::Logs::MetricFilter\n    Properties:\n      LogGroupName: CloudTrail/logs\n"
        "      FilterPattern: !Sub |\n"
        '        { ($.errorCode = "${Code}") ||\n'
        "          ($.errorCode IS NOT NULL) }\n"
        "      MetricTransformations: [{MetricName: m, MetricNamespace: n, MetricValue: '1'}]\n"
    )
    with pytest.raises(RulesError) as info:
        load_rules_text(text, file="stack.yaml")
    e = info.value
    assert (e.line, e.name, e.position) == (10, "Filter", 51)
    assert (e.hint or "").startswith(NO_IS_NOT)
    assert "is not valid (line 2 of the pattern text): " in e.message
    native = (
        "metric_filters:\n  - name: f\n    filter_pattern: |\n"
        '      { ($.errorCode = "AccessDenied") ||\n        ($.errorCode IS NOT NULL) }\n'
        "    metric: {name: m, namespace: n}\n"
    )
    with pytest.raises(RulesError) as info:
        load_rules_text(native, file="rules.yaml")
    assert (info.value.line, info.value.name) == (5, "f")
    assert info.value.message.startswith("metric_filters[0].filter_pattern of metric filter 'f' is not valid (line 2")


def test_filter_pattern_error_hint_for_an_unsubstituted_variable(tmp_path):
    with pytest.raises(RulesError) as info:
        load_rules_text(
            "metric_filters:\n  - {name: f, filter_pattern: '{ $.a = ${X} }', metric: {name: m, namespace: n}}\n"
        )
    assert "inside !Sub it must name a parameter" in (info.value.hint or "")


def test_cli_metric_filters_are_compiled_too(tmp_path):
    broken = tmp_path / "describe-metric-filters.json"
    text = (DATA / "cli-describe-metric-filters.json").read_text(encoding="utf-8")
    broken.write_text(text.replace("invokedBy NOT EXISTS", "invokedBy IS NOT NULL"), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(broken)
    assert (info.value.line, info.value.name) == (21, "RootAccountUsage")
    assert info.value.message.startswith("filterPattern of metric filter 'RootAccountUsage' is not valid: ")
