"""SNS publishing with boto3 against a local moto server; the published message is read back from
an SQS queue subscribed to the topic."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from trailmatch import model
from trailmatch.dispatch import Dispatcher, SnsDestination

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data" / "dispatch"
EVENT: dict[str, Any] = json.loads((DATA / "create_user_event.json").read_text())
ACCOUNT = "123456789012"


def topic_with_queue(endpoint: str, name: str = "alerts") -> tuple[str, Any, str]:
    """Creates a topic and an SQS queue subscribed to it (raw delivery off); returns (topic ARN,
    SQS client, queue URL)."""
    import boto3

    sns = boto3.client("sns", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, sqs, queue_url


def received(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for _ in range(20):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        messages += [json.loads(m["Body"]) for m in batch]
        if len(messages) >= count:
            break
    return messages


def test_publish_to_a_topic_with_an_sns_endpoint(moto_server: str) -> None:
    topic_arn, sqs, queue_url = topic_with_queue(moto_server)
    target = model.Target(
        id="to-sns",
        arn=topic_arn,
        input_transformer=model.InputTransformer(
            '"<n> by <u>"', {"n": "$.detail.eventName", "u": "$.detail.userIdentity.arn"}
        ),
    )
    rule = model.Rule(name="iam-changes", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=(target,))
    # the topic is not in the deployment: with an SNS endpoint configured, any topic ARN is published to
    deployment = model.Deployment(rules=[rule], settings={"sns": {"endpoint_url": moto_server}})
    d = Dispatcher(deployment, environ=dict(os.environ), stdout=io.StringIO(), stderr=io.StringIO())
    destination = d.destination_for(rule, target)
    assert isinstance(destination, SnsDestination)
    assert destination.description == f"sns {topic_arn} via {moto_server}"
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.destination) == ("delivered", "sns")
    (notification,) = received(sqs, queue_url, 1)
    assert notification["Type"] == "Notification"
    assert notification["TopicArn"] == topic_arn
    assert notification["Message"] == '"CreateUser by arn:aws:sts::123456789012:assumed-role/Admin/alice"'


def test_topic_of_the_deployment_is_published_when_an_endpoint_is_set(moto_server: str) -> None:
    topic_arn, sqs, queue_url = topic_with_queue(moto_server, "deployed")
    topic = model.Topic(
        name="deployed",
        region="us-east-1",
        account=ACCOUNT,
        subscriptions=(model.Subscription("email", "x@example.com"),),
    )
    assert topic.arn == topic_arn
    target = model.Target(id="t", arn=topic.arn)
    rule = model.Rule(name="r", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=(target,))
    environ = dict(os.environ, TRAILMATCH_SNS_ENDPOINT_URL=moto_server)
    d = Dispatcher(model.Deployment(rules=[rule], topics=[topic]), environ=environ, stderr=io.StringIO())
    assert d.deliver(rule, target, EVENT, event_id="e").destination == "sns"
    (notification,) = received(sqs, queue_url, 1)
    assert json.loads(notification["Message"]) == EVENT


def test_sns_destination_with_subject_and_explicit_topic(moto_server: str) -> None:
    topic_arn, sqs, queue_url = topic_with_queue(moto_server, "explicit")
    spec = model.DestinationSpec("sns", {"topic_arn": topic_arn, "endpoint_url": moto_server, "subject": "IAM change"})
    target = model.Target(id="t", arn="arn:aws:lambda:us-east-1:123456789012:function:f", destination=spec)
    rule = model.Rule(name="r", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=(target,))
    d = Dispatcher(model.Deployment(rules=[rule]), environ=dict(os.environ), stderr=io.StringIO())
    assert d.deliver(rule, target, EVENT, event_id="e").status == "delivered"
    (notification,) = received(sqs, queue_url, 1)
    assert notification["Subject"] == "IAM change"


def test_publish_to_a_missing_topic_is_not_retried(moto_server: str, tmp_path: Path) -> None:
    missing = f"arn:aws:sns:us-east-1:{ACCOUNT}:does-not-exist"
    target = model.Target(id="t", arn=missing)
    rule = model.Rule(name="r", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=(target,))
    sleeps: list[float] = []
    d = Dispatcher(
        model.Deployment(rules=[rule], settings={"sns": {"endpoint_url": moto_server}}),
        environ=dict(os.environ),
        stderr=io.StringIO(),
        sleep=sleeps.append,
        dlq_path=tmp_path / "dlq.jsonl",
    )
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "NO_RESOURCE", 1)
    assert sleeps == []
    (line,) = [json.loads(x) for x in (tmp_path / "dlq.jsonl").read_text().splitlines()]
    assert line["TARGET_ARN"] == missing
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    assert secret not in (tmp_path / "dlq.jsonl").read_text()


def test_unreachable_endpoint_is_retried(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret"}
    target = model.Target(
        id="t", arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:x", retry_policy=model.RetryPolicy(maximum_retry_attempts=1)
    )
    rule = model.Rule(name="r", region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=(target,))
    settings = {"sns": {"endpoint_url": f"http://127.0.0.1:{closed_port}", "region": "us-east-1"}}
    d = Dispatcher(
        model.Deployment(rules=[rule], settings=settings), environ=environ, stderr=io.StringIO(), sleep=lambda s: None
    )
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "CONNECTION_FAILURE", 2)
