"""Slack destination: message shape, and delivery to a local server standing in for the
incoming-webhook endpoint."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailmatch import model
from trailmatch.dispatch import Dispatcher, slack_message

if TYPE_CHECKING:
    from servers import HttpServer

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data" / "dispatch"
CREATE_USER: dict[str, Any] = json.loads((DATA / "create_user_event.json").read_text())
DENIED: dict[str, Any] = json.loads((DATA / "access_denied_event.json").read_text())
RULE = model.Rule(name="iam-changes", region="us-east-1", account="123456789012", event_pattern="{}")
TARGET = model.Target(id="to-slack", arn="arn:aws:sns:us-east-1:123456789012:alerts")


def fields(message: dict[str, Any]) -> dict[str, str]:
    block = next(b for b in message["blocks"] if b["type"] == "section" and "fields" in b)
    result = {}
    for f in block["fields"]:
        label, _, value = f["text"].partition("\n")
        result[label.strip("*")] = value
    return result


def code_block(message: dict[str, Any]) -> str:
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    (block,) = [t for t in texts if t.startswith("```")]
    return block


def test_cloudtrail_event_message() -> None:
    message = slack_message(RULE, TARGET, json.dumps(CREATE_USER))
    assert message["text"] == (
        "iam-changes: CreateUser by arn:aws:sts::123456789012:assumed-role/Admin/alice "
        "(role arn:aws:iam::123456789012:role/Admin) (AssumedRole) from 203.0.113.64 in us-east-1"
    )
    assert message["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "trailmatch: iam-changes"}}
    assert message["blocks"][1]["text"]["text"] == "*CreateUser* on `iam.amazonaws.com`"
    assert fields(message) == {
        "Event": "CreateUser",
        "Service": "iam.amazonaws.com",
        "Who": "arn:aws:sts::123456789012:assumed-role/Admin/alice (role arn:aws:iam::123456789012:role/Admin) "
        "(AssumedRole)",
        "Source IP": "203.0.113.64",
        "Region": "us-east-1",
        "Time": "2019-06-19T00:18:31Z",
        "Account": "123456789012",
        "Detail type": "AWS API Call via CloudTrail",
    }
    raw = code_block(message)
    assert raw.startswith("```\n{")
    assert raw.endswith("}\n```")
    assert '"eventName": "CreateUser"' in raw
    context = message["blocks"][-1]
    assert context["type"] == "context"
    assert (
        "rule arn:aws:events:us-east-1:123456789012:rule/iam-changes · target to-slack"
        in context["elements"][0]["text"]
    )


def test_error_event_message_shows_the_error() -> None:
    message = slack_message(RULE, TARGET, json.dumps(DENIED))
    assert message["text"].endswith("failed: AccessDenied")
    assert ":x: *AccessDenied* Access Denied" in message["blocks"][1]["text"]["text"]
    assert fields(message)["Error"] == "AccessDenied"
    assert fields(message)["Who"] == "arn:aws:iam::111122223333:user/anaya (IAMUser)"


def test_bare_record_from_input_path_is_summarised_too() -> None:
    message = slack_message(RULE, TARGET, json.dumps(CREATE_USER["detail"]))
    assert fields(message)["Event"] == "CreateUser"
    assert "Detail type" not in fields(message)


def test_transformer_string_output_is_the_text() -> None:
    message = slack_message(RULE, TARGET, '"Root login from <1.2.3.4> & more"')
    assert message["text"] == "iam-changes: Root login from <1.2.3.4> & more"
    section = message["blocks"][1]
    assert section["text"]["text"] == "Root login from &lt;1.2.3.4&gt; &amp; more"  # mrkdwn escaping
    assert not any(b["type"] == "section" and b["text"]["text"].startswith("```") for b in message["blocks"][2:-1])


def test_transformer_object_output_has_its_json_in_a_code_block() -> None:
    message = slack_message(RULE, TARGET, '{"user": "alice", "action": "CreateUser"}')
    assert message["text"] == 'iam-changes: {"user": "alice", "action": "CreateUser"}'
    assert '"user": "alice"' in code_block(message)


def test_plain_text_output() -> None:
    message = slack_message(RULE, TARGET, "CreateUser by alice")
    assert message["text"] == "iam-changes: CreateUser by alice"


def test_huge_events_are_cut_to_slack_limits() -> None:
    event = json.loads(json.dumps(CREATE_USER))
    event["detail"]["requestParameters"] = {"policy": "x" * 10_000}
    message = slack_message(RULE, TARGET, json.dumps(event))
    for block in message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    assert code_block(message).endswith("… (truncated)\n```")


def test_slack_delivery_posts_the_message(http_server: HttpServer) -> None:
    url = f"{http_server.url}/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    target = model.Target(
        id="to-slack",
        arn=TARGET.arn,
        destination=model.DestinationSpec("slack", {"url_env": "SLACK_WEBHOOK_URL", "channel": "#alerts"}),
    )
    rule = model.Rule(
        name="iam-changes", region="us-east-1", account="123456789012", event_pattern="{}", targets=(target,)
    )
    stderr = io.StringIO()
    d = Dispatcher(
        model.Deployment(rules=[rule]), environ={"SLACK_WEBHOOK_URL": url}, stderr=stderr, sleep=lambda s: None
    )
    outcome = d.deliver(rule, target, CREATE_USER, event_id="e")
    assert (outcome.status, outcome.destination) == ("delivered", "slack")
    (request,) = http_server.requests
    assert request.path == "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert request.header("Content-Type") == "application/json; charset=utf-8"
    body = request.json()
    assert body["channel"] == "#alerts"
    assert body["text"].startswith("iam-changes: CreateUser by ")
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "section", "context"]
    assert d.destination_for(rule, target).description == "slack (url from $SLACK_WEBHOOK_URL)"


def test_slack_errors_are_classified(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.always(404, "no_service")
    target = model.Target(
        id="to-slack",
        arn=TARGET.arn,
        destination=model.DestinationSpec("slack", {"url": f"{http_server.url}/s/T1/B2/abcdef123456"}),
    )
    rule = model.Rule(name="r", region="us-east-1", account="1", event_pattern="{}", targets=(target,))
    d = Dispatcher(model.Deployment(rules=[rule]), environ={}, stderr=io.StringIO(), dlq_path=tmp_path / "dlq.jsonl")
    outcome = d.deliver(rule, target, CREATE_USER, event_id="e")
    assert (outcome.error_code, outcome.attempts) == ("NO_RESOURCE", 1)
    assert "no_service" in (outcome.error_message or "")
    assert "abcdef123456" not in (tmp_path / "dlq.jsonl").read_text()
