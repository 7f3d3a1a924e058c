"""Email over SMTP against a real local SMTP server (aiosmtpd): the ``email`` destination, and
an SNS topic of the deployment with ``email`` / ``email-json`` subscriptions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trailmatch import model
from trailmatch.dispatch import Dispatcher, smtp_config

if TYPE_CHECKING:
    from servers import HttpServer, SmtpServer

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data" / "dispatch"
EVENT: dict[str, Any] = json.loads((DATA / "create_user_event.json").read_text())
ACCOUNT = "123456789012"
PASSWORD = "smtp-Passw0rd-secret"


def rule_with(*targets: model.Target) -> model.Rule:
    return model.Rule(name="iam-changes", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=targets)


def quiet_dispatcher(deployment: model.Deployment, **kwargs: Any) -> Dispatcher:
    kwargs.setdefault("environ", {})
    kwargs.setdefault("stdout", io.StringIO())
    kwargs.setdefault("stderr", io.StringIO())
    return Dispatcher(deployment, sleep=lambda s: None, **kwargs)


def test_email_destination(smtp_server: SmtpServer) -> None:
    target = model.Target(
        id="mail",
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        input_transformer=model.InputTransformer(
            '"<n> by <u>"', {"n": "$.detail.eventName", "u": "$.detail.userIdentity.arn"}
        ),
        destination=model.DestinationSpec(
            "email", {"to": ["sec@example.com", "ops@example.com"], "from": "alerts@example.com"}
        ),
    )
    rule = rule_with(target)
    d = quiet_dispatcher(model.Deployment(rules=[rule], settings={"smtp": smtp_server.settings()}))
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.destination) == ("delivered", "email")
    (mail,) = smtp_server.wait_for(1)
    assert mail.mail_from == "alerts@example.com"
    assert mail.rcpt_tos == ["sec@example.com", "ops@example.com"]
    assert mail.subject == "AWS Notification Message"
    assert mail.body.strip() == '"CreateUser by arn:aws:sts::123456789012:assumed-role/Admin/alice"'
    assert mail.message["X-Trailmatch-Rule"] == rule.arn


def test_email_destination_subject_and_environment_settings(smtp_server: SmtpServer) -> None:
    target = model.Target(
        id="mail",
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        destination=model.DestinationSpec("email", {"to": "sec@example.com", "subject": "IAM change"}),
    )
    rule = rule_with(target)
    environ = {
        "TRAILMATCH_SMTP_HOST": smtp_server.host,
        "TRAILMATCH_SMTP_PORT": str(smtp_server.port),
        "TRAILMATCH_SMTP_FROM": "env@example.com",
    }
    d = quiet_dispatcher(model.Deployment(rules=[rule]), environ=environ)
    assert d.deliver(rule, target, EVENT, event_id="e").status == "delivered"
    (mail,) = smtp_server.wait_for(1)
    assert (mail.subject, mail.mail_from) == ("IAM change", "env@example.com")
    assert json.loads(mail.body) == EVENT


def test_sns_topic_email_subscriptions_over_smtp(smtp_server: SmtpServer) -> None:
    topic = model.Topic(
        name="security-alerts",
        region="us-east-1",
        account=ACCOUNT,
        display_name="Security Alerts",
        subscriptions=(
            model.Subscription("email", "sec@example.com"),
            model.Subscription("email-json", "siem@example.com"),
            model.Subscription("sqs", "arn:aws:sqs:us-east-1:123456789012:q"),
        ),
    )
    target = model.Target(id="topic", arn=topic.arn)
    rule = rule_with(target)
    deployment = model.Deployment(
        rules=[rule], topics=[topic], settings={"smtp": smtp_server.settings(**{"from": "no-reply@example.com"})}
    )
    d = quiet_dispatcher(deployment)
    assert d.destination_for(rule, target).description == "topic security-alerts (email, email-json)"
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.destination) == ("delivered", "topic")
    mails = {m.rcpt_tos[0]: m for m in smtp_server.wait_for(2)}
    plain, as_json = mails["sec@example.com"], mails["siem@example.com"]
    for mail in (plain, as_json):
        assert mail.subject == "AWS Notification Message"
        assert mail.message["From"] == "Security Alerts <no-reply@example.com>"
    message_text, _, footer = plain.body.partition("\n\n--\n")
    assert json.loads(message_text) == EVENT
    assert "If you wish to stop receiving notifications from this topic" in footer
    notification = json.loads(as_json.body)
    assert notification["Type"] == "Notification"
    assert notification["TopicArn"] == topic.arn
    assert json.loads(notification["Message"]) == EVENT
    assert "Subject" not in notification  # EventBridge publishes without a subject
    assert set(notification) == {
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    }


def test_topic_with_email_and_https_subscriptions(smtp_server: SmtpServer, http_server: HttpServer) -> None:
    topic = model.Topic(
        name="t",
        region="eu-west-1",
        account=ACCOUNT,
        subscriptions=(
            model.Subscription("email", "sec@example.com"),
            model.Subscription("http", f"{http_server.url}/sns"),
            model.Subscription("http", f"{http_server.url}/raw", raw_message_delivery=True),
        ),
    )
    target = model.Target(id="topic", arn=topic.arn, input_path="$.detail.eventName")
    rule = rule_with(target)
    d = quiet_dispatcher(model.Deployment(rules=[rule], topics=[topic], settings={"smtp": smtp_server.settings()}))
    assert d.deliver(rule, target, EVENT, event_id="e").status == "delivered"
    smtp_server.wait_for(1)
    wrapped, raw = sorted(http_server.requests, key=lambda r: r.path)[::-1]
    assert wrapped.path == "/sns"
    assert wrapped.header("x-amz-sns-message-type") == "Notification"
    assert wrapped.header("x-amz-sns-topic-arn") == topic.arn
    assert wrapped.header("Content-Type") == "text/plain; charset=UTF-8"
    body = wrapped.json()
    assert body["Message"] == '"CreateUser"'
    assert body["MessageId"] == wrapped.header("x-amz-sns-message-id")
    assert body["UnsubscribeURL"].startswith("https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe")
    assert wrapped.text.startswith('{\n  "Type" : "Notification",\n')  # SNS's layout
    assert raw.text == '"CreateUser"'
    assert raw.header("x-amz-sns-rawdelivery") == "true"


def test_topic_retry_sends_only_to_subscriptions_that_failed(smtp_server: SmtpServer, http_server: HttpServer) -> None:
    http_server.fail_first(2, status=503)
    topic = model.Topic(
        name="t",
        region="us-east-1",
        account=ACCOUNT,
        subscriptions=(
            model.Subscription("email", "sec@example.com"),
            model.Subscription("https", f"{http_server.url}/x"),
        ),
    )
    target = model.Target(id="topic", arn=topic.arn)
    rule = rule_with(target)
    d = quiet_dispatcher(model.Deployment(rules=[rule], topics=[topic], settings={"smtp": smtp_server.settings()}))
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.attempts) == ("delivered", 3)
    assert len(http_server.requests) == 3
    assert len(smtp_server.wait_for(1)) == 1
    assert len(smtp_server.messages) == 1  # the email went out once
    message_ids = {r.header("x-amz-sns-message-id") for r in http_server.requests}
    assert len(message_ids) == 1  # the same MessageId on every retry


def test_smtp_authentication_and_the_password_stays_secret(tmp_path: Path) -> None:
    from servers import SmtpServer

    with SmtpServer(auth=("alerts", PASSWORD)) as server:
        target = model.Target(
            id="mail",
            arn="arn:aws:lambda:us-east-1:123456789012:function:f",
            destination=model.DestinationSpec("email", {"to": "sec@example.com"}),
        )
        rule = rule_with(target)
        settings = {"smtp": server.settings(username="alerts", password_env="SMTP_PASSWORD", timeout=5)}
        out, err = io.StringIO(), io.StringIO()
        ok = quiet_dispatcher(
            model.Deployment(rules=[rule], settings=settings),
            environ={"SMTP_PASSWORD": PASSWORD},
            stdout=out,
            stderr=err,
        )
        assert ok.deliver(rule, target, EVENT, event_id="e").status == "delivered"
        assert server.logins == ["alerts"]
        server.wait_for(1)

        dlq = tmp_path / "dlq.jsonl"
        wrong = quiet_dispatcher(
            model.Deployment(rules=[rule], settings=settings),
            environ={"SMTP_PASSWORD": PASSWORD + "-wrong"},
            stdout=out,
            stderr=err,
            dlq_path=dlq,
        )
        outcome = wrong.deliver(rule, target, EVENT, event_id="e2")
        assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "NO_PERMISSIONS", 1)
        texts = [
            out.getvalue(),
            err.getvalue(),
            dlq.read_text(),
            repr(outcome),
            repr(wrong.destination_for(rule, target)),
        ]
        texts.append(repr(smtp_config(settings, {"SMTP_PASSWORD": PASSWORD})))
        for text in texts:
            assert PASSWORD not in text


def test_smtp_server_down_is_retried(closed_port: int) -> None:
    target = model.Target(
        id="mail",
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        retry_policy=model.RetryPolicy(maximum_retry_attempts=2),
        destination=model.DestinationSpec("email", {"to": "sec@example.com", "host": "127.0.0.1", "port": closed_port}),
    )
    rule = rule_with(target)
    outcome = quiet_dispatcher(model.Deployment(rules=[rule])).deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "CONNECTION_FAILURE", 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "email: option to (a list of addresses) is required"),
        ({"to": "a@example.com"}, "email: SMTP is not configured"),
    ],
)
def test_email_configuration_problems(options: dict[str, Any], message: str) -> None:
    target = model.Target(
        id="mail", arn="arn:aws:lambda:us-east-1:1:function:f", destination=model.DestinationSpec("email", options)
    )
    (problem,) = quiet_dispatcher(model.Deployment(rules=[rule_with(target)])).problems()
    assert message in problem
