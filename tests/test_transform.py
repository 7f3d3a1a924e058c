"""trailmatch.transform: what EventBridge delivers for Input, InputPath and InputTransformer
(reference/cloudtrail-eventbridge.md §5), and PutTargets' validation messages."""

from __future__ import annotations

import doctest
import json
from datetime import datetime, timezone

import pytest

from trailmatch import model
from trailmatch.errors import EventError
from trailmatch.transform import (
    MISSING,
    RESERVED_VARIABLES,
    TransformError,
    evaluate_path,
    lint_target,
    payload_for,
    transform_input,
    validate_target,
)

# The EC2 example of the AWS user guide's input transformation page, with a few more values.
EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {
        "instance-id": "i-0123456789",
        "state": "RUNNING",
        "count": 3,
        "ratio": 1.5,
        "flag": True,
        "nothing": None,
        "tags": {"env": "prod", "team": "sec"},
        "list": ["a", "b"],
        "nested": {"k": {"x": 1}, "arr": [1, "two"]},
        "quoted": 'say "hi"',
        "path/with/slash": "slashed",
        "snake_case": "snaked",
        "items": [{"name": "first"}, {"name": "second"}],
        "unicode": "日本語",
    },
}

PATHS = {
    "s": "$.detail.state",
    "n": "$.detail.count",
    "r": "$.detail.ratio",
    "b": "$.detail.flag",
    "z": "$.detail.nothing",
    "o": "$.detail.tags",
    "a": "$.detail.list",
    "no": "$.detail.nested",
    "m": "$.detail.does-not-exist",
    "q": "$.detail.quoted",
    "i": "$.detail.instance-id",
}


def render(template: str, **kwargs: object) -> str:
    return transform_input(EVENT, input_paths_map=PATHS, input_template=template, **kwargs)  # type: ignore[arg-type]


# --- no option, Input, InputPath ----------------------------------------------------------------


def test_no_option_delivers_the_event_as_compact_json() -> None:
    out = transform_input(EVENT)
    assert out == json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False)
    assert out.startswith('{"version":"0","id":"7bf73129')
    assert "日本語" in out  # UTF-8, not \\u escapes
    assert json.loads(out) == EVENT


def test_event_accepted_as_text_and_bytes_in_its_key_order() -> None:
    text = '{"b": 1, "a": {"y": 2, "x": 3}}'
    assert transform_input(text) == '{"b":1,"a":{"y":2,"x":3}}'
    assert transform_input(text.encode()) == '{"b":1,"a":{"y":2,"x":3}}'


@pytest.mark.parametrize("bad", [b"\xff{}", "[1, 2]", "{", '"x"'])
def test_event_that_is_not_a_json_object_is_an_event_error(bad: str | bytes) -> None:
    with pytest.raises(EventError):
        transform_input(bad)


def test_input_is_delivered_verbatim() -> None:
    assert transform_input(EVENT, input='{ "fixed" : [1, 2] }') == '{ "fixed" : [1, 2] }'
    assert transform_input(EVENT, input='"just text"') == '"just text"'


def test_input_must_be_json() -> None:
    with pytest.raises(ValueError, match="JSON syntax error in input"):
        transform_input(EVENT, input="env:dev")


def test_input_path_selects_a_value_as_json() -> None:
    assert transform_input(EVENT, input_path="$.detail.tags") == '{"env":"prod","team":"sec"}'
    # a string leaf is delivered with its quotes (AWS-observed)
    assert transform_input(EVENT, input_path="$.detail.state") == '"RUNNING"'
    assert transform_input(EVENT, input_path="$.detail.count") == "3"
    assert transform_input(EVENT, input_path="$") == transform_input(EVENT)
    assert (
        transform_input(EVENT, input_path="$.resources[0]")
        == '"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"'
    )


def test_input_path_selecting_nothing_delivers_nothing() -> None:
    with pytest.raises(TransformError, match="selects nothing"):
        transform_input(EVENT, input_path="$.detail.nope")


def test_only_one_input_option() -> None:
    with pytest.raises(ValueError, match="Only one of Input, InputPath, or InputTransformer"):
        transform_input(EVENT, input="{}", input_path="$.detail")
    with pytest.raises(ValueError, match="Only one of"):
        transform_input(EVENT, input_path="$.detail", input_template='"x"')


def test_paths_map_needs_a_template() -> None:
    with pytest.raises(ValueError, match="InputTemplate is required"):
        transform_input(EVENT, input_paths_map={"a": "$.id"})


# --- JSONPath -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.detail.instance-id", "i-0123456789"),
        ("$.detail.snake_case", "snaked"),
        ("$.detail.path/with/slash", "slashed"),
        ("$.detail-type", "EC2 Instance State-change Notification"),
        ("$.detail.items[1].name", "second"),
        ("$.detail.items[-1].name", "second"),
        ("$.detail.nested.arr[0]", 1),
        ("$.detail['snake_case']", "snaked"),
        ("$.detail.items[5]", MISSING),
        ("$.detail.state.deeper", MISSING),
        ("$.detail.tags[0]", MISSING),
        ("$.nope.deeper", MISSING),
        # wildcards yield the array of everything they reach (Jayway JsonPath)
        ("$.detail.items[*].name", ["first", "second"]),
        ("$.detail.items.*.name", ["first", "second"]),
        ("$.detail.tags.*", ["prod", "sec"]),
        ("$.detail.tags[*]", ["prod", "sec"]),
        ("$.detail.nope[*]", []),
    ],
)
def test_jsonpath_subset(path: str, expected: object) -> None:
    assert evaluate_path(EVENT, path) == expected


@pytest.mark.parametrize("path", ["detail.state", "$..state", "$.detail[?(@.x)]", "$.detail.", "$.detail[0"])
def test_unsupported_jsonpath_is_a_transform_error(path: str) -> None:
    with pytest.raises(TransformError):
        evaluate_path(EVENT, path)


def test_wildcard_in_a_template_renders_the_array() -> None:
    out = transform_input(EVENT, input_paths_map={"names": "$.detail.items[*].name"}, input_template='{"n": <names>}')
    assert out == '{"n": ["first","second"]}'


# --- §5.3: string templates ---------------------------------------------------------------------


def test_string_template_string_value_is_its_raw_text() -> None:
    # the outer quotes of the template are kept
    assert render('"Instance <i> is <s>"') == '"Instance i-0123456789 is RUNNING"'


def test_string_template_number_and_boolean_are_their_json_text() -> None:
    assert render('"n=<n> r=<r> b=<b>"') == '"n=3 r=1.5 b=true"'


def test_string_template_object_is_unquoted() -> None:
    assert render('"tags: <o>"') == '"tags: {env:prod,team:sec}"'
    assert render('"nested: <no>"') == '"nested: {k:{x:1},arr:[1,two]}"'


def test_string_template_array_is_unquoted() -> None:
    assert render('"list: <a>"') == '"list: [a,b]"'


def test_string_template_missing_path_is_empty() -> None:
    assert render('"missing: [<m>]"') == '"missing: []"'


def test_string_template_null_renders_null() -> None:
    assert render('"z=<z>"') == '"z=null"'


def test_string_template_from_localstack_snapshots() -> None:
    # AWS-validated snapshots: every key present, then one path missing.
    paths = {"detail-type": "$.detail-type", "timestamp": "$.time", "command": "$.detail.command"}
    event = {"detail-type": "core.update-account-command", "time": "date", "detail": {"command": "update-account"}}
    template = '"Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>"'
    assert transform_input(event, input_paths_map=paths, input_template=template) == (
        '"Event of core.update-account-command type, at time date, info extracted from detail update-account"'
    )
    missing = dict(paths, command="$.detail.notinmessage")
    assert transform_input(event, input_paths_map=missing, input_template=template) == (
        '"Event of core.update-account-command type, at time date, info extracted from detail "'
    )
    special = '"{[/Check with special starting characters for event of <detail-type> type"'
    assert transform_input(event, input_paths_map=paths, input_template=special) == (
        '"{[/Check with special starting characters for event of core.update-account-command type"'
    )


def test_string_template_without_quotes_is_delivered_as_written() -> None:
    assert render("<i> is in state <s>") == "i-0123456789 is in state RUNNING"


def test_string_template_keeps_escaped_quotes() -> None:
    assert render('"<i> is in state \\"<s>\\""') == '"i-0123456789 is in state \\"RUNNING\\""'


def test_string_template_value_with_a_quote_delivers_nothing() -> None:
    with pytest.raises(TransformError, match="not one"):
        render('"said <q>"')


# --- §5.3: JSON templates -----------------------------------------------------------------------


def test_json_template_bare_string_is_quoted() -> None:
    # the user guide's example, whitespace of the template kept
    assert render('{"instance" : <i>, "state": [9, <s>, true], "Transformed" : "Yes"}') == (
        '{"instance" : "i-0123456789", "state": [9, "RUNNING", true], "Transformed" : "Yes"}'
    )


def test_json_template_bare_number_boolean_null_are_literals() -> None:
    assert render('{"n": <n>, "r": <r>, "b": <b>, "z": <z>}') == '{"n": 3, "r": 1.5, "b": true, "z": null}'


def test_json_template_bare_object_and_array_are_inlined() -> None:
    assert render('{"o": <o>, "a": <a>}') == '{"o": {"env":"prod","team":"sec"}, "a": ["a","b"]}'
    assert render("[<a>, <n>]") == '[["a","b"], 3]'


def test_json_template_bare_missing_is_empty_string() -> None:
    assert render('{"m": <m>}') == '{"m": ""}'


def test_json_template_inside_string_splices_raw_text() -> None:
    assert render('{"msg": "<i> is <s> (n=<n>, b=<b>, m=[<m>])"}') == (
        '{"msg": "i-0123456789 is RUNNING (n=3, b=true, m=[])"}'
    )


def test_json_template_user_guide_mixed_example() -> None:
    assert render('{"myInstance": <i>,"myStatus": "<i> is in state \\"<s>\\""}') == (
        '{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \\"RUNNING\\""}'
    )


@pytest.mark.parametrize("name", ["o", "a"])
def test_json_template_object_or_array_inside_string_delivers_nothing(name: str) -> None:
    with pytest.raises(TransformError, match="inside a JSON string"):
        render(f'{{"msg": "value <{name}>"}}')


def test_json_template_value_with_quote_delivers_nothing() -> None:
    with pytest.raises(TransformError, match="not valid JSON"):
        render('{"q": "<q>"}')
    with pytest.raises(TransformError, match="not valid JSON"):
        render('{"q": <q>}')


def test_repeated_placeholders_are_all_replaced() -> None:
    assert render('"<s> <s> <s>"') == '"RUNNING RUNNING RUNNING"'
    assert render('{"a": <s>, "b": "<s>", "c": [<s>]}') == '{"a": "RUNNING", "b": "RUNNING", "c": ["RUNNING"]}'


def test_unknown_placeholder_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid placeholder <unknown>"):
        render('"<unknown>"')


def test_text_that_is_not_a_placeholder_is_kept() -> None:
    assert render('"a < b and c > d, <i>"') == '"a < b and c > d, i-0123456789"'


# --- reserved variables -------------------------------------------------------------------------

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/bus/my-rule"


def test_reserved_rule_name_arn_and_ingestion_time() -> None:
    out = transform_input(
        EVENT,
        input_template='"<aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>"',
        rule_name="my-rule",
        rule_arn=RULE_ARN,
        ingestion_time=datetime(2024, 5, 1, 12, 0, 7, 123456, tzinfo=timezone.utc),
    )
    assert out == f'"{RULE_ARN} my-rule 2024-05-01T12:00:07Z"'


def test_ingestion_time_formats() -> None:
    tpl = '"<aws.events.event.ingestion-time>"'
    assert transform_input(EVENT, input_template=tpl, ingestion_time="2020-01-01T00:00:00Z") == '"2020-01-01T00:00:00Z"'
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert transform_input(EVENT, input_template=tpl, ingestion_time=naive) == '"2024-01-02T03:04:05Z"'
    now = json.loads(transform_input(EVENT, input_template=tpl))
    assert datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ")


def test_reserved_event_is_the_envelope_without_detail_with_detail_type_renamed() -> None:
    out = transform_input(EVENT, input_template='{"originalEvent": <aws.events.event>}')
    value = json.loads(out)["originalEvent"]
    assert "detail" not in value
    assert "detail-type" not in value
    assert value["detailType"] == EVENT["detail-type"]
    assert list(value) == ["version", "id", "detailType", "source", "account", "time", "region", "resources"]


def test_reserved_event_json_is_the_whole_event() -> None:
    out = transform_input(
        EVENT, input_template='{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}'
    )
    assert json.loads(out)["originalEventJson"] == EVENT


def test_reserved_json_variables_break_strings() -> None:
    with pytest.raises(TransformError):
        transform_input(EVENT, input_template='{"e": "x <aws.events.event.json>"}')
    with pytest.raises(TransformError):
        transform_input(EVENT, input_template='"x <aws.events.event>"')


def test_reserved_variables_mix_with_paths() -> None:
    out = transform_input(
        EVENT,
        input_paths_map={"s": "$.detail.state"},
        input_template='{"rule": "<aws.events.rule-name>", "state": <s>}',
        rule_name="r1",
    )
    assert out == '{"rule": "r1", "state": "RUNNING"}'


# --- validation ---------------------------------------------------------------------------------


def target(**kwargs: object) -> model.Target:
    return model.Target(
        id=str(kwargs.pop("id", "T1")), arn=str(kwargs.pop("arn", "arn:aws:sqs:us-east-1:1:q")), **kwargs
    )  # type: ignore[arg-type]


def tr(template: str, paths: dict[str, str] | None = None) -> model.InputTransformer:
    return model.InputTransformer(template, paths or {})


def test_valid_targets_have_no_errors() -> None:
    assert validate_target(target()) == []
    assert validate_target(target(input='{"a": 1}')) == []
    assert validate_target(target(input_path="$.detail")) == []
    assert validate_target(target(input_transformer=tr('{"s": <s>, "r": "<aws.events.rule-arn>"}', {"s": "$.x"}))) == []


def test_only_one_input_message() -> None:
    t = target(input="{}", input_transformer=tr('"x"'))
    assert validate_target(t) == ["Only one of Input, InputPath, or InputTransformer must be provided for target T1."]


def test_invalid_placeholder_message() -> None:
    t = target(
        input_transformer=tr(
            '"Event of <detail-type> type, with not defined key <notdefinedkey>"', {"detail-type": "$.x"}
        )
    )
    assert validate_target(t) == ["InputTemplate for target T1 contains invalid placeholder notdefinedkey."]


def test_input_must_be_valid_json_message() -> None:
    (message,) = validate_target(target(input="env:dev"))
    assert message.startswith("JSON syntax error in input for target T1: ")


@pytest.mark.parametrize("key", [*RESERVED_VARIABLES, "AWS.thing", "has space", "dot.ted", ""])
def test_bad_paths_map_keys(key: str) -> None:
    errors = validate_target(target(input_transformer=tr('"x"', {key: "$.a"})))
    assert len(errors) == 1
    assert key in errors[0] or "length" in errors[0]


def test_paths_map_key_characters_allowed() -> None:
    assert validate_target(target(input_transformer=tr('"<a-B_9>"', {"a-B_9": "$.a"}))) == []


def test_paths_map_size_limit() -> None:
    paths = {f"k{i}": "$.a" for i in range(101)}
    (message,) = validate_target(target(input_transformer=tr('"x"', paths)))
    assert "Member must have length less than or equal to 100" in message
    assert validate_target(target(input_transformer=tr('"x"', dict(list(paths.items())[:100])))) == []


def test_length_limits() -> None:
    assert any("8192" in e for e in validate_target(target(input='"' + "x" * 8200 + '"')))
    assert any("256" in e for e in validate_target(target(input_path="$." + "a" * 300)))
    assert any("8192" in e for e in validate_target(target(input_transformer=tr('"' + "x" * 8200 + '"'))))
    assert any("between 1 and 8192" in e for e in validate_target(target(input_transformer=tr(""))))
    assert any("256" in e for e in validate_target(target(input_transformer=tr('"<a>"', {"a": "$." + "a" * 300}))))


def test_target_id_constraints() -> None:
    (message,) = validate_target(target(id="has space"))
    assert message.startswith("1 validation error detected: Value 'has space' at 'targets.1.member.id'")
    assert validate_target(target(id="x" * 65))


def test_retry_policy_ranges() -> None:
    bad = target(retry_policy=model.RetryPolicy(maximum_retry_attempts=186, maximum_event_age_seconds=59))
    errors = validate_target(bad, index=2)
    assert len(errors) == 2
    assert "targets.2.member.retryPolicy.maximumRetryAttempts" in errors[0]


def test_json_template_that_is_not_json_and_placeholder_as_key() -> None:
    assert validate_target(target(input_transformer=tr('{"a": <s>', {"s": "$.s"}))) == [
        "Input for target T1 is not a valid JSON text."
    ]
    (message,) = validate_target(target(input_transformer=tr('{<k>: 1, "b": 2}', {"k": "$.k"})))
    assert "placeholder <k> as an object key" in message
    (message,) = validate_target(target(input_transformer=tr('{"x-<k>": 1}', {"k": "$.k"})))
    assert "object key" in message


def test_cloudwatch_logs_target_needs_a_json_object_template() -> None:
    t = target(
        id="LogGroupTarget",
        arn="arn:aws:logs:us-east-1:1:log-group:g",
        input_transformer=tr('"cusId = <c>"', {"c": "$.detail.customerId"}),
    )
    assert validate_target(t) == ["Input for target LogGroupTarget is not a valid JSON text."]


def test_lint_target_warnings() -> None:
    t = target(input_transformer=tr('{"e": "<aws.events.event>", "p": <p>}', {"p": "$..deep"}))
    warnings = lint_target(t)
    assert len(warnings) == 2
    assert lint_target(target(input_transformer=tr('"<aws.events.event.json>"'))) != []
    assert lint_target(target(input_path="$.detail")) == []


# --- payload_for --------------------------------------------------------------------------------


def test_payload_for_uses_the_rule_and_the_target() -> None:
    rule = model.Rule(name="state-changes", region="us-east-1", account="123456789012", bus="bus", event_pattern="{}")
    t = target(input_transformer=tr('"<aws.events.rule-arn>|<aws.events.rule-name>|<s>"', {"s": "$.detail.state"}))
    assert payload_for(t, rule, EVENT) == f'"{RULE_ARN.replace("my-rule", "state-changes")}|state-changes|RUNNING"'
    assert payload_for(target(), rule, EVENT) == transform_input(EVENT)
    assert payload_for(target(input_path="$.detail.count"), rule, json.dumps(EVENT)) == "3"


def test_docstring_examples() -> None:
    import trailmatch.transform

    result = doctest.testmod(trailmatch.transform, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_multi_line_string_template_is_delivered_as_written() -> None:
    # Several quoted lines (the console's style, e.g. the seed article 001): not one JSON string,
    # delivered verbatim, values spliced in raw.
    template = '"Alert"\n"Region : <r> "\n"Who : <q> "'
    out = transform_input(EVENT, input_paths_map={"r": "$.region", "q": "$.detail.quoted"}, input_template=template)
    assert out == '"Alert"\n"Region : us-east-1 "\n"Who : say "hi" "'
