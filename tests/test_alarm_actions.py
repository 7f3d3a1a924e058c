"""Alarm actions: the notification CloudWatch publishes (JSON message, e-mail text, subject) and
its delivery through the dispatcher (``Dispatcher.deliver_notification``): resolution, retries,
dead letters, dedup, secrets; end to end to a real local SMTP server, HTTP server and moto SNS."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trailmatch import model
from trailmatch.alarms import (
    ActionDelivery,
    AlarmAction,
    AlarmSimulator,
    Transition,
    alarm_email,
    alarm_message,
    alarm_notification,
    alarm_subject,
    region_name,
)
from trailmatch.dispatch import Dispatcher
from trailmatch.dispatch.dispatcher import NotificationSource
from trailmatch.metrics import LogEventResult, MetricStore
from trailmatch.state import StateStore

if TYPE_CHECKING:
    from servers import HttpServer, SmtpServer

pytest_plugins = ["servers"]

ACCOUNT = "111122223333"
REGION = "ap-northeast-1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:bucket-created"
WHEN = datetime(2023, 12, 21, 11, 36, tzinfo=timezone.utc)


def make_alarm(**overrides: Any) -> model.Alarm:
    fields: dict[str, Any] = {
        "name": "s3-bucket-created",
        "region": REGION,
        "account": ACCOUNT,
        "metric_name": "CreateBucketCount",
        "namespace": "CloudTrailMetrics",
        "statistic": "Sum",
        "period": 60,
        "evaluation_periods": 1,
        "datapoints_to_alarm": 1,
        "threshold": 0.0,
        "comparison_operator": "GreaterThanThreshold",
        "alarm_actions": (TOPIC_ARN,),
        "description": "A new S3 bucket was created",
    }
    fields.update(overrides)
    return model.Alarm(**fields)


def transition(alarm: model.Alarm, new: str = "ALARM", old: str = "INSUFFICIENT_DATA") -> Transition:
    reason = (
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (21/12/23 11:35:00)] was greater than the "
        "threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    return Transition(alarm.arn, alarm.name, WHEN, old, new, reason, "{}")


def action(alarm: model.Alarm, arn: str = TOPIC_ARN, new: str = "ALARM") -> AlarmAction:
    t = transition(alarm, new)
    return AlarmAction(alarm, t, arn, alarm_notification(alarm, t, configuration_updated=WHEN - timedelta(hours=1)))


# --- the notification ---------------------------------------------------------------------------


def test_message_fields_in_cloudwatch_order() -> None:
    alarm = make_alarm(dimensions={"BucketOwner": "me"}, unit="Count", ok_actions=("arn:aws:sns:x:1:ok",))
    message = alarm_message(alarm, transition(alarm), configuration_updated=WHEN - timedelta(hours=1))
    assert list(message) == [
        "AlarmName",
        "AlarmDescription",
        "AWSAccountId",
        "AlarmConfigurationUpdatedTimestamp",
        "NewStateValue",
        "NewStateReason",
        "StateChangeTime",
        "Region",
        "AlarmArn",
        "OldStateValue",
        "OKActions",
        "AlarmActions",
        "InsufficientDataActions",
        "Trigger",
    ]
    assert list(message["Trigger"]) == [
        "MetricName",
        "Namespace",
        "StatisticType",
        "Statistic",
        "Unit",
        "Dimensions",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "ComparisonOperator",
        "Threshold",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
    ]
    assert message == {
        "AlarmName": "s3-bucket-created",
        "AlarmDescription": "A new S3 bucket was created",
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": "2023-12-21T10:36:00.000+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": transition(alarm).reason,
        "StateChangeTime": "2023-12-21T11:36:00.000+0000",
        "Region": "Asia Pacific (Tokyo)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:s3-bucket-created",
        "OldStateValue": "INSUFFICIENT_DATA",
        "OKActions": ["arn:aws:sns:x:1:ok"],
        "AlarmActions": [TOPIC_ARN],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "CreateBucketCount",
            "Namespace": "CloudTrailMetrics",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": "Count",
            "Dimensions": [{"value": "me", "name": "BucketOwner"}],
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0.0,
            "TreatMissingData": "missing",
            "EvaluateLowSampleCountPercentile": "",
        },
    }


@pytest.mark.parametrize(
    ("statistic", "text"),
    [("SampleCount", "SAMPLE_COUNT"), ("Average", "AVERAGE"), ("Minimum", "MINIMUM"), ("Maximum", "MAXIMUM")],
)
def test_statistic_in_the_message(statistic: str, text: str) -> None:
    alarm = make_alarm(statistic=statistic, description="", datapoints_to_alarm=None, evaluation_periods=3)
    message = alarm_message(alarm, transition(alarm), configuration_updated=WHEN)
    assert message["Trigger"]["Statistic"] == text
    assert message["AlarmDescription"] is None
    assert message["Trigger"]["DatapointsToAlarm"] == 3  # M defaults to N
    assert message["Trigger"]["Unit"] is None


def test_subject_and_region_names() -> None:
    alarm = make_alarm()
    assert alarm_subject(alarm, "ALARM") == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
    assert alarm_subject(make_alarm(region="us-east-1"), "OK") == 'OK: "s3-bucket-created" in US East (N. Virginia)'
    assert alarm_subject(make_alarm(region="eu-west-1"), "INSUFFICIENT_DATA").endswith(" in EU (Ireland)")
    assert len(alarm_subject(make_alarm(name="x" * 300), "ALARM")) == 100
    assert region_name("zz-nowhere-9") == "zz-nowhere-9"


def test_email_text() -> None:
    alarm = make_alarm(dimensions={"A": "1", "B": "2"}, unit="Count", evaluation_periods=5, datapoints_to_alarm=3)
    text = alarm_email(alarm, transition(alarm))
    lines = text.splitlines()
    assert lines[0] == (
        'You are receiving this email because your Amazon CloudWatch Alarm "s3-bucket-created" in the Asia Pacific '
        f'(Tokyo) region has entered the ALARM state, because "{transition(alarm).reason}" at "Thursday 21 December, '
        '2023 11:36:00 UTC".'
    )
    assert lines[3] == (
        "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/deeplink.js?region=ap-northeast-1"
        "#alarmsV2:alarm/s3-bucket-created"
    )
    assert "- Description:                A new S3 bucket was created" in lines
    assert "- State Change:               INSUFFICIENT_DATA -> ALARM" in lines
    assert (
        "- The alarm is in the ALARM state when the metric is GreaterThanThreshold 0.0 for at least 3 of the last 5 "
        "period(s) of 60 seconds."
    ) in lines
    assert "- Dimensions:                          [A = 1] [B = 2]" in lines
    assert "- Unit:                                Count" in lines
    assert lines[-3:] == ["- OK:", f"- ALARM: [{TOPIC_ARN}]", "- INSUFFICIENT_DATA:"]
    assert "%20" in alarm_email(make_alarm(name="a b"), transition(make_alarm(name="a b"))).splitlines()[3]


# --- Dispatcher.deliver_notification --------------------------------------------------------------


def test_notification_source() -> None:
    source = NotificationSource.of("arn:aws:cloudwatch:us-east-1:1:alarm:a")
    assert (source.name, source.arn, source.key) == ("a", source.source_arn, source.source_arn)
    assert NotificationSource.of("arn:aws:cloudwatch:us-east-1:1:alarm:a", "nice").name == "nice"


def test_unbound_action_prints_on_stdout() -> None:
    out = io.StringIO()
    d = Dispatcher(model.Deployment(), stdout=out)
    outcome = ActionDelivery(d)(action(make_alarm()))
    assert (outcome.status, outcome.destination) == ("delivered", "stdout")
    head, _, payload = out.getvalue().partition(": ")
    assert head == f"s3-bucket-created -> {TOPIC_ARN}"
    assert json.loads(payload)["NewStateValue"] == "ALARM"
    assert d.summary() == {(make_alarm().arn, TOPIC_ARN, "stdout", "delivered"): 1}


def test_binding_by_action_arn_and_dedup(tmp_path: Path) -> None:
    spool = tmp_path / "alarms.jsonl"
    deployment = model.Deployment(
        bindings=[model.Binding("arn:aws:sns:*:bucket-*", model.DestinationSpec("file", {"path": str(spool)}))]
    )
    state = StateStore()
    d = Dispatcher(deployment, state=state, stdout=io.StringIO())
    delivery = ActionDelivery(d)
    first = delivery(action(make_alarm()))
    again = delivery(action(make_alarm()))
    other = delivery(action(make_alarm(), new="OK"))
    d.close()
    assert [first.status, again.status, other.status] == ["delivered", "duplicate", "delivered"]
    lines = [json.loads(line) for line in spool.read_text().splitlines()]
    assert [(r["rule"], r["rule_arn"], r["target"], r["event_id"]) for r in lines] == [
        ("s3-bucket-created", make_alarm().arn, TOPIC_ARN, "2023-12-21T11:36:00.000+0000|ALARM"),
        ("s3-bucket-created", make_alarm().arn, TOPIC_ARN, "2023-12-21T11:36:00.000+0000|OK"),
    ]
    assert json.loads(lines[0]["payload"])["AlarmName"] == "s3-bucket-created"
    assert state.delivered(make_alarm().arn, TOPIC_ARN, "2023-12-21T11:36:00.000+0000|ALARM")


def test_retries_then_success(http_server: HttpServer) -> None:
    http_server.fail_first(2, status=503)
    deployment = model.Deployment(
        bindings=[model.Binding(TOPIC_ARN, model.DestinationSpec("webhook", {"url": http_server.url}))]
    )
    sleeps: list[float] = []
    d = Dispatcher(deployment, stdout=io.StringIO(), stderr=io.StringIO(), sleep=sleeps.append)
    outcome = ActionDelivery(d)(action(make_alarm()))
    assert (outcome.status, outcome.attempts, len(sleeps)) == ("delivered", 3, 2)
    assert json.loads(http_server.requests[-1].text)["AlarmName"] == "s3-bucket-created"


def test_failures_go_to_the_dead_letter_spool_without_secrets(tmp_path: Path, closed_port: int) -> None:
    secret_url = f"http://127.0.0.1:{closed_port}/hooks/T0SECRET123/abcdefABCDEF123456"
    deployment = model.Deployment(
        bindings=[model.Binding(TOPIC_ARN, model.DestinationSpec("webhook", {"url_env": "ALARM_HOOK"}))]
    )
    stderr = io.StringIO()
    dlq = tmp_path / "dlq.jsonl"
    d = Dispatcher(deployment, dlq_path=dlq, environ={"ALARM_HOOK": secret_url}, stderr=stderr, sleep=lambda s: None)
    outcome = d.deliver_notification(
        make_alarm().arn,
        TOPIC_ARN,
        '{"AlarmName":"s3-bucket-created"}',
        dedup_key="k",
        retry_policy=model.RetryPolicy(maximum_retry_attempts=1),
    )
    d.close()
    assert (outcome.status, outcome.error_code, outcome.exhausted_retry_condition) == (
        "failed",
        "CONNECTION_FAILURE",
        "MaximumRetryAttempts",
    )
    (record,) = [json.loads(line) for line in dlq.read_text().splitlines()]
    assert (record["RULE_ARN"], record["TARGET_ARN"], record["RETRY_ATTEMPTS"]) == (make_alarm().arn, TOPIC_ARN, 1)
    assert record["event"] == {"AlarmName": "s3-bucket-created"}
    everything = dlq.read_text() + stderr.getvalue()
    assert "T0SECRET123" not in everything
    assert "abcdefABCDEF123456" not in everything


def test_bus_targets_are_refused() -> None:
    d = Dispatcher(model.Deployment())
    with pytest.raises(ValueError, match="event bus"):
        d.deliver_notification("arn:a", "arn:aws:events:us-east-1:1:event-bus/default", "{}", dedup_key="k")


def test_problems_list_unusable_alarm_actions() -> None:
    alarm = make_alarm(alarm_actions=("arn:aws:sns:ap-northeast-1:1:pager",))
    deployment = model.Deployment(
        alarms=[alarm],
        bindings=[model.Binding("*:pager", model.DestinationSpec("webhook", {"url_env": "PAGER_URL"}))],
    )
    assert Dispatcher(deployment, environ={}).problems() == [
        "alarm s3-bucket-created action arn:aws:sns:ap-northeast-1:1:pager: webhook: environment variable "
        "PAGER_URL (url_env) is not set"
    ]


def test_email_destination_uses_the_notification_subject_and_text(smtp_server: SmtpServer) -> None:
    deployment = model.Deployment(
        settings={"smtp": smtp_server.settings()},
        bindings=[
            model.Binding(TOPIC_ARN, model.DestinationSpec("email", {"to": ["sec@example.com"]})),
            model.Binding("*:custom", model.DestinationSpec("email", {"to": ["sec@example.com"], "subject": "Mine"})),
        ],
    )
    d = Dispatcher(deployment)
    ActionDelivery(d)(action(make_alarm()))
    ActionDelivery(d)(action(make_alarm(), arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:custom"))
    first, second = smtp_server.wait_for(2)
    assert first.subject == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
    assert first.body.startswith("You are receiving this email because your Amazon CloudWatch Alarm")
    assert second.subject == "Mine"


# --- end to end: alarm -> SNS topic -> e-mail, e-mail-json, https -------------------------------


def test_alarm_to_sns_topic_to_email_on_a_real_smtp_server(
    smtp_server: SmtpServer, http_server: HttpServer, tmp_path: Path
) -> None:
    """Scenario 004: a CloudTrail CreateBucket record → metric filter → alarm → SNS topic with an
    e-mail subscription → an e-mail that reads like CloudWatch's."""
    topic = model.Topic(
        name="bucket-created",
        region=REGION,
        account=ACCOUNT,
        subscriptions=(
            model.Subscription("email", "me@example.com"),
            model.Subscription("email-json", "robot@example.com"),
            model.Subscription("https", http_server.url),
        ),
    )
    metric_filter = model.MetricFilter(
        name="CreateBucket",
        log_group="aws-cloudtrail-logs-qiita-tutorial",
        region=REGION,
        account=ACCOUNT,
        filter_pattern='{ ($.eventName = "CreateBucket") }',
        transformation=model.MetricTransformation("CreateBucketCount", "CloudTrailMetrics", "1", 0.0, {}, "Count"),
    )
    alarm = make_alarm()
    deployment = model.Deployment(
        topics=[topic], metric_filters=[metric_filter], alarms=[alarm], settings={"smtp": smtp_server.settings()}
    )
    path = tmp_path / "state.db"

    def replay(records: list[tuple[str, str]]) -> list[str]:
        with StateStore(path) as state:
            store = MetricStore.load(state)
            for time, name in records:
                when = datetime.fromisoformat(time.replace("Z", "+00:00"))
                store.add(LogEventResult(when, metric_filter, name == "CreateBucket"))
            store.save(state)
            with Dispatcher(deployment, state=state, stdout=io.StringIO()) as d:
                assert d.problems() == []
                delivery = ActionDelivery(d)
                AlarmSimulator(deployment.alarms, store, state=state).run(notify=delivery)
        return [o.status for _, o in delivery.outcomes]

    assert replay([("2023-12-21T11:34:02Z", "ListBuckets"), ("2023-12-21T11:35:14Z", "CreateBucket")]) == ["delivered"]
    mails = smtp_server.wait_for(2)
    by_rcpt = {m.rcpt_tos[0]: m for m in mails}
    mail = by_rcpt["me@example.com"]
    assert mail.subject == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
    assert mail.message["From"] == "AWS Notifications <trailmatch@localhost>"
    body = mail.body
    assert body.startswith(
        'You are receiving this email because your Amazon CloudWatch Alarm "s3-bucket-created" in the Asia Pacific '
        '(Tokyo) region has entered the ALARM state, because "Threshold Crossed: 1 out of the last 1 datapoints '
        "[1.0 (21/12/23 11:35:00)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM "
        'transition)." at "Thursday 21 December, 2023 11:36:00 UTC".'
    )
    assert "- State Change:               OK -> ALARM" in body
    assert "If you wish to stop receiving notifications from this topic" in body

    notification = json.loads(by_rcpt["robot@example.com"].body)
    assert notification["Subject"] == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
    message = json.loads(notification["Message"])
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        "s3-bucket-created",
        "OK",
        "ALARM",
    )
    (request,) = http_server.requests
    assert request.header("x-amz-sns-message-type") == "Notification"
    assert json.loads(request.json()["Message"])["AlarmArn"] == alarm.arn

    # the same logs again: nothing is sent twice; later logs continue
    assert replay([("2023-12-21T11:34:02Z", "ListBuckets"), ("2023-12-21T11:35:14Z", "CreateBucket")]) == []
    assert replay([("2023-12-21T11:50:00Z", "CreateBucket")]) == ["delivered"]
    assert len(smtp_server.wait_for(4)) == 4
    assert len(http_server.requests) == 2


def test_publish_with_boto3_sends_per_protocol_messages(moto_server: str) -> None:
    import boto3

    sns = boto3.client("sns", endpoint_url=moto_server, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name=REGION)
    topic_arn = sns.create_topic(Name="alarms")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alarms-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    alarm = make_alarm(alarm_actions=(topic_arn,))
    deployment = model.Deployment(settings={"sns": {"endpoint_url": moto_server}})
    d = Dispatcher(deployment, environ=dict(os.environ), stdout=io.StringIO(), stderr=io.StringIO())
    outcome = ActionDelivery(d)(action(alarm, arn=topic_arn))
    assert (outcome.status, outcome.destination) == ("delivered", "sns")
    body = None
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if got:
            body = json.loads(got[0]["Body"])
            break
    assert body is not None
    assert body["Subject"] == 'ALARM: "s3-bucket-created" in Asia Pacific (Tokyo)'
    assert json.loads(body["Message"])["AlarmName"] == "s3-bucket-created"  # SQS gets the default: JSON
