"""trailmatch.dispatch: resolution, stdout/file/webhook destinations against a real local HTTP
server, retries with backoff, the dead-letter spool, dedup through the state file, secrets."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from trailmatch import model
from trailmatch.dispatch import (
    Backoff,
    Dispatcher,
    InvalidDestination,
    Outcome,
    StdoutDestination,
    SummaryKey,
    TopicDestination,
    is_bus_arn,
)
from trailmatch.state import StateStore

if TYPE_CHECKING:
    from servers import HttpServer

pytest_plugins = ["servers"]

DATA = Path(__file__).parent / "data" / "dispatch"
EVENT: dict[str, Any] = json.loads((DATA / "create_user_event.json").read_text())
EVENT_ID = EVENT["detail"]["eventID"]
ACCOUNT = "123456789012"
SECRET_TOKEN = "s3cr3t-T0KEN-value"


def make_target(
    arn: str = "arn:aws:lambda:us-east-1:123456789012:function:alerts",
    *,
    destination: model.DestinationSpec | None = None,
    **kwargs: Any,
) -> model.Target:
    return model.Target(id=kwargs.pop("id", "t1"), arn=arn, destination=destination, **kwargs)


def make_rule(*targets: model.Target, name: str = "iam-changes") -> model.Rule:
    return model.Rule(name=name, region="us-east-1", account=ACCOUNT, event_pattern="{}", targets=targets)


def webhook(url: str, **options: Any) -> model.DestinationSpec:
    return model.DestinationSpec("webhook", {"url": url, **options})


class Sleeps:
    """Records the delays the dispatcher waits, and moves a fake clock by them."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def dispatcher(
    deployment: model.Deployment,
    *,
    sleeps: Sleeps | None = None,
    stdout: io.StringIO | None = None,
    stderr: io.StringIO | None = None,
    **kwargs: Any,
) -> Dispatcher:
    sleeps = sleeps or Sleeps()
    kwargs.setdefault("environ", {})
    return Dispatcher(
        deployment,
        stdout=stdout if stdout is not None else io.StringIO(),
        stderr=stderr if stderr is not None else io.StringIO(),
        sleep=sleeps.sleep,
        clock=sleeps.clock,
        **kwargs,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- resolution ---------------------------------------------------------------------------------


def test_resolution_order() -> None:
    topic = model.Topic(
        name="alerts",
        region="us-east-1",
        account=ACCOUNT,
        subscriptions=(model.Subscription("https", "https://example.invalid/hook"),),
        logical_id="AlertsTopic",
    )
    inline = make_target(topic.arn, id="inline", destination=model.DestinationSpec("stdout"))
    by_arn = make_target("arn:aws:lambda:us-east-1:123456789012:function:audit", id="by-arn")
    by_logical_id = make_target("arn:aws:sqs:us-east-1:123456789012:q", id="by-logical", logical_id="AuditQueue")
    topic_target = make_target(topic.arn, id="topic", logical_id="AlertsTopic")
    unbound = make_target("arn:aws:sqs:us-east-1:123456789012:other", id="unbound")
    rule = make_rule(inline, by_arn, by_logical_id, topic_target, unbound)
    deployment = model.Deployment(
        rules=[rule],
        topics=[topic],
        bindings=[
            model.Binding("arn:aws:lambda:*:function:aud?t", model.DestinationSpec("file", {"path": "/tmp/x.jsonl"})),
            model.Binding("Audit*", model.DestinationSpec("webhook", {"url": "http://127.0.0.1:9/"})),
            model.Binding("arn:aws:lambda:*", model.DestinationSpec("email", {"to": "x@example.com"})),
        ],
    )
    d = dispatcher(deployment)
    kinds = {t.id: d.destination_for(rule, t).kind for t in rule.targets}
    assert kinds == {
        "inline": "stdout",
        "by-arn": "file",
        "by-logical": "webhook",
        "topic": "topic",
        "unbound": "stdout",
    }
    assert isinstance(d.destination_for(rule, unbound), StdoutDestination)
    assert d.destination_for(rule, unbound).description == "stdout (unbound target)"
    assert d.destination_for(rule, topic_target) is d.destination_for(rule, topic_target)  # cached


def test_topic_without_deliverable_subscription_is_unbound() -> None:
    topic = model.Topic(
        name="t",
        region="us-east-1",
        account=ACCOUNT,
        subscriptions=(
            model.Subscription("sqs", "arn:aws:sqs:us-east-1:123456789012:q"),
            model.Subscription("email", "sec@example.com"),  # no SMTP configured
        ),
    )
    rule = make_rule(make_target(topic.arn))
    d = dispatcher(model.Deployment(rules=[rule], topics=[topic]))
    assert d.destination_for(rule, rule.targets[0]).kind == "stdout"
    d2 = dispatcher(model.Deployment(rules=[rule], topics=[topic], settings={"smtp": {"host": "127.0.0.1"}}))
    emulated = d2.destination_for(rule, rule.targets[0])
    assert isinstance(emulated, TopicDestination)
    assert [s.protocol for s in emulated.unbound] == ["sqs"]


def test_bus_targets_are_the_callers() -> None:
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/central"
    assert is_bus_arn(bus)
    assert not is_bus_arn("arn:aws:sns:us-east-1:123456789012:event-bus")
    rule = make_rule(make_target(bus))
    with pytest.raises(ValueError, match="event bus"):
        dispatcher(model.Deployment(rules=[rule])).deliver(rule, rule.targets[0], EVENT, event_id="e")


def test_problems_are_reported_before_delivery() -> None:
    rule = make_rule(
        make_target(id="a", destination=model.DestinationSpec("webhook", {"url_env": "HOOK_URL"})),
        make_target(id="b", destination=model.DestinationSpec("pagerduty")),
        make_target(id="c"),
        make_target("arn:aws:events:us-east-1:123456789012:event-bus/x", id="bus"),
    )
    problems = dispatcher(model.Deployment(rules=[rule])).problems()
    assert problems == [
        "rule iam-changes target a: webhook: environment variable HOOK_URL (url_env) is not set",
        "rule iam-changes target b: unknown destination type 'pagerduty' (known: stdout, file, webhook, slack, sns, "
        "email)",
    ]


def test_sns_without_boto3_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util
    import sys

    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "boto3" else real_find_spec(name, *a)
    )
    target = make_target("arn:aws:sns:us-east-1:123456789012:alerts")
    rule = make_rule(target)
    d = dispatcher(
        model.Deployment(rules=[rule], settings={"sns": {"endpoint_url": "http://127.0.0.1:9"}}),
        dlq_path=tmp_path / "dlq.jsonl",
    )
    assert d.problems() == ["rule iam-changes target t1: sns: boto3 is not installed (pip install boto3)"]
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "SDK_CLIENT_ERROR", 1)
    assert "pip install boto3" in (outcome.error_message or "")


# --- stdout and file ----------------------------------------------------------------------------


def test_unbound_target_prints_its_payload_with_a_prefix() -> None:
    target = make_target(
        input_transformer=model.InputTransformer(
            '"<n> by <u>"', {"n": "$.detail.eventName", "u": "$.detail.userIdentity.arn"}
        )
    )
    rule = make_rule(target)
    out = io.StringIO()
    outcome = dispatcher(model.Deployment(rules=[rule]), stdout=out).deliver(rule, target, EVENT, event_id=EVENT_ID)
    assert outcome == Outcome("delivered", "stdout", attempts=1)
    assert out.getvalue() == 'iam-changes -> t1: "CreateUser by arn:aws:sts::123456789012:assumed-role/Admin/alice"\n'


def test_stdout_destination_without_prefix() -> None:
    target = make_target(
        destination=model.DestinationSpec("stdout", {"prefix": False}), input_path="$.detail.eventName"
    )
    rule = make_rule(target)
    out = io.StringIO()
    dispatcher(model.Deployment(rules=[rule]), stdout=out).deliver(rule, target, EVENT, event_id=EVENT_ID)
    assert out.getvalue() == '"CreateUser"\n'


def test_closed_stdout_is_not_retried() -> None:
    out = io.StringIO()
    out.close()
    rule = make_rule(make_target())
    outcome = dispatcher(model.Deployment(rules=[rule]), stdout=out).deliver(rule, rule.targets[0], EVENT, event_id="e")
    assert (outcome.status, outcome.attempts) == ("failed", 1)


def test_file_destination_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"
    target = make_target(destination=model.DestinationSpec("file", {"path": str(path)}))
    rule = make_rule(target)
    with dispatcher(model.Deployment(rules=[rule])) as d:
        d.deliver(rule, target, EVENT, event_id=EVENT_ID)
        d.deliver(rule, target, EVENT, event_id="second")
    lines = read_jsonl(path)
    assert [line["event_id"] for line in lines] == [EVENT_ID, "second"]
    first = lines[0]
    assert set(first) == {"time", "rule", "rule_arn", "target", "event_id", "payload"}
    assert first["rule"] == "iam-changes"
    assert first["rule_arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/iam-changes"
    assert first["target"] == "t1"
    assert json.loads(first["payload"]) == EVENT


def test_file_destination_permission_error_goes_to_the_dlq(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    target = make_target(destination=model.DestinationSpec("file", {"path": str(blocker / "out.jsonl")}))
    rule = make_rule(target)
    outcome = dispatcher(model.Deployment(rules=[rule]), dlq_path=tmp_path / "dlq.jsonl").deliver(
        rule, target, EVENT, event_id="e"
    )
    assert outcome.status == "failed"
    assert outcome.dead_lettered


# --- webhook ------------------------------------------------------------------------------------


def test_webhook_posts_json_payload(http_server: HttpServer) -> None:
    target = make_target(destination=webhook(f"{http_server.url}/hooks/in", headers={"X-Team": "sec"}))
    rule = make_rule(target)
    outcome = dispatcher(model.Deployment(rules=[rule])).deliver(rule, target, EVENT, event_id=EVENT_ID)
    assert outcome.status == "delivered"
    (request,) = http_server.requests
    assert request.method == "POST"
    assert request.path == "/hooks/in"
    assert request.header("Content-Type") == "application/json; charset=utf-8"
    assert request.header("X-Team") == "sec"
    assert request.json() == EVENT


def test_webhook_text_payload_and_env_values(http_server: HttpServer) -> None:
    spec = model.DestinationSpec(
        "webhook",
        {
            "url_env": "HOOK_URL",
            "method": "PUT",
            "headers": {"Authorization_env": "HOOK_TOKEN", "X-Other": {"env": "OTHER"}},
        },
    )
    target = make_target(
        destination=spec, input_transformer=model.InputTransformer("<n> happened", {"n": "$.detail.eventName"})
    )
    rule = make_rule(target)
    environ = {"HOOK_URL": f"{http_server.url}/x", "HOOK_TOKEN": f"Bearer {SECRET_TOKEN}", "OTHER": "o"}
    d = dispatcher(model.Deployment(rules=[rule]), environ=environ)
    assert d.deliver(rule, target, EVENT, event_id="e").status == "delivered"
    (request,) = http_server.requests
    assert request.method == "PUT"
    assert request.text == "CreateUser happened"
    assert request.header("Content-Type") == "text/plain; charset=utf-8"
    assert request.header("Authorization") == f"Bearer {SECRET_TOKEN}"
    assert request.header("X-Other") == "o"
    assert d.destination_for(rule, target).description == "webhook (url from $HOOK_URL)"


# --- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
def test_retriable_failures_are_retried_until_success(http_server: HttpServer, status: int) -> None:
    http_server.fail_first(3, status=status)
    target = make_target(destination=webhook(http_server.url))
    rule = make_rule(target)
    sleeps = Sleeps()
    d = dispatcher(model.Deployment(rules=[rule]), sleeps=sleeps, jitter=lambda low, high: high)
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert outcome == Outcome("delivered", "webhook", attempts=4)
    assert len(http_server.requests) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]  # exponential: the upper bounds of full jitter


def test_backoff_delays_grow_and_stay_bounded(http_server: HttpServer) -> None:
    http_server.fail_first(9, status=503)
    target = make_target(destination=webhook(http_server.url))
    rule = make_rule(target)
    sleeps = Sleeps()
    d = dispatcher(
        model.Deployment(rules=[rule]),
        sleeps=sleeps,
        retry_base_delay=0.5,
        retry_max_delay=10.0,
        jitter=lambda low, high: high,
    )
    assert d.deliver(rule, target, EVENT, event_id="e").status == "delivered"
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]


def test_full_jitter_stays_within_the_bounds() -> None:
    backoff = Backoff(base=1.0, max_delay=30.0, jitter=random.Random(7).uniform)
    for retry in range(12):
        for _ in range(20):
            assert 0.0 <= backoff.delay(retry) <= min(30.0, 2.0**retry)
    assert len({backoff.delay(5) for _ in range(20)}) > 1  # jittered, not constant


def test_exhausted_by_maximum_retry_attempts(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.always(500, "boom")
    dlq = tmp_path / "dlq" / "dead-letters.jsonl"
    target = make_target(
        destination=webhook(f"{http_server.url}/in"),
        retry_policy=model.RetryPolicy(maximum_retry_attempts=2, maximum_event_age_seconds=3600),
        dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:dlq",
    )
    rule = make_rule(target)
    stderr = io.StringIO()
    d = dispatcher(model.Deployment(rules=[rule]), dlq_path=dlq, stderr=stderr)
    outcome = d.deliver(rule, target, EVENT, event_id=EVENT_ID)
    assert outcome.status == "failed"
    assert outcome.attempts == 3
    assert outcome.exhausted_retry_condition == "MaximumRetryAttempts"
    assert len(http_server.requests) == 3
    (line,) = read_jsonl(dlq)
    assert line["RULE_ARN"] == rule.arn
    assert line["TARGET_ARN"] == target.arn
    assert line["ERROR_CODE"] == "SDK_CLIENT_ERROR"
    assert line["ERROR_MESSAGE"].startswith("webhook (http://127.0.0.1:")
    assert "HTTP 500" in line["ERROR_MESSAGE"]
    assert line["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert line["RETRY_ATTEMPTS"] == 2
    assert line["dead_letter_arn"] == "arn:aws:sqs:us-east-1:123456789012:dlq"
    assert line["event_id"] == EVENT_ID
    assert line["event"] == EVENT
    assert json.loads(line["payload"]) == EVENT
    assert "delivery failed: rule iam-changes target t1" in stderr.getvalue()
    assert d.summary() == {SummaryKey(rule.arn, "t1", "webhook", "failed"): 1}


def test_zero_retries_means_one_attempt(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.always(503)
    target = make_target(destination=webhook(http_server.url), retry_policy=model.RetryPolicy(maximum_retry_attempts=0))
    rule = make_rule(target)
    sleeps = Sleeps()
    outcome = dispatcher(model.Deployment(rules=[rule]), sleeps=sleeps, dlq_path=tmp_path / "d.jsonl").deliver(
        rule, target, EVENT, event_id="e"
    )
    assert (outcome.attempts, outcome.exhausted_retry_condition) == (1, "MaximumRetryAttempts")
    assert sleeps.delays == []
    assert read_jsonl(tmp_path / "d.jsonl")[0]["RETRY_ATTEMPTS"] == 0


def test_exhausted_by_maximum_event_age(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.always(503)
    target = make_target(
        destination=webhook(http_server.url),
        retry_policy=model.RetryPolicy(maximum_retry_attempts=185, maximum_event_age_seconds=60),
    )
    rule = make_rule(target)
    sleeps = Sleeps()
    d = dispatcher(
        model.Deployment(rules=[rule]),
        sleeps=sleeps,
        dlq_path=tmp_path / "dlq.jsonl",
        retry_base_delay=4.0,
        jitter=lambda low, high: high,
    )
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    # waits 4 + 8 + 16 = 28 s; the next wait (32 s) would end past 60 s of age
    assert sleeps.delays == [4.0, 8.0, 16.0]
    assert outcome.exhausted_retry_condition == "MaximumEventAgeInSeconds"
    (line,) = read_jsonl(tmp_path / "dlq.jsonl")
    assert (line["EXHAUSTED_RETRY_CONDITION"], line["RETRY_ATTEMPTS"]) == ("MaximumEventAgeInSeconds", 3)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "NO_PERMISSIONS"),
        (401, "NO_PERMISSIONS"),
        (404, "NO_RESOURCE"),
        (410, "NO_RESOURCE"),
        (400, "INVALID_PARAMETER"),
        (302, "INVALID_PARAMETER"),
    ],
)
def test_non_retriable_http_errors_go_straight_to_the_dlq(
    http_server: HttpServer, tmp_path: Path, status: int, code: str
) -> None:
    http_server.always(status, "no_service")
    target = make_target(destination=webhook(http_server.url))
    rule = make_rule(target)
    sleeps = Sleeps()
    d = dispatcher(model.Deployment(rules=[rule]), sleeps=sleeps, dlq_path=tmp_path / "dlq.jsonl")
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert outcome.status == "failed"
    assert outcome.error_code == code
    assert outcome.attempts == 1
    assert sleeps.delays == []
    assert len(http_server.requests) == 1
    (line,) = read_jsonl(tmp_path / "dlq.jsonl")
    assert line["ERROR_CODE"] == code
    assert line["EXHAUSTED_RETRY_CONDITION"] is None
    assert line["RETRY_ATTEMPTS"] == 0


def test_connection_refused_is_retried_as_connection_failure(closed_port: int) -> None:
    target = make_target(
        destination=webhook(f"http://127.0.0.1:{closed_port}/"),
        retry_policy=model.RetryPolicy(maximum_retry_attempts=2),
    )
    rule = make_rule(target)
    sleeps = Sleeps()
    outcome = dispatcher(model.Deployment(rules=[rule]), sleeps=sleeps).deliver(rule, target, EVENT, event_id="e")
    assert outcome.error_code == "CONNECTION_FAILURE"
    assert outcome.attempts == 3
    assert len(sleeps.delays) == 2


def test_slow_server_is_a_timeout(http_server: HttpServer) -> None:
    http_server.respond(200, delay=1.0)
    target = make_target(
        destination=webhook(http_server.url, timeout=0.2), retry_policy=model.RetryPolicy(maximum_retry_attempts=1)
    )
    rule = make_rule(target)
    outcome = dispatcher(model.Deployment(rules=[rule])).deliver(rule, target, EVENT, event_id="e")
    assert outcome.status == "delivered"  # the retry got the default, prompt answer
    assert outcome.attempts == 2
    http_server.respond(200, delay=1.0, times=2)
    outcome = dispatcher(model.Deployment(rules=[rule])).deliver(rule, target, EVENT, event_id="e2")
    assert (outcome.status, outcome.error_code) == ("failed", "TIMEOUT")


def test_unknown_destination_goes_straight_to_the_dlq(tmp_path: Path) -> None:
    target = make_target(destination=model.DestinationSpec("carrier-pigeon"))
    rule = make_rule(target)
    d = dispatcher(model.Deployment(rules=[rule]), dlq_path=tmp_path / "dlq.jsonl")
    assert isinstance(d.destination_for(rule, target), InvalidDestination)
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("failed", "NO_RESOURCE", 1)
    assert read_jsonl(tmp_path / "dlq.jsonl")[0]["ERROR_MESSAGE"].startswith(
        "unknown destination type 'carrier-pigeon'"
    )


def test_invalid_transformer_output_is_not_delivered(http_server: HttpServer, tmp_path: Path) -> None:
    target = make_target(
        destination=webhook(http_server.url),
        input_transformer=model.InputTransformer('{"who": "<u>"}', {"u": "$.detail.userIdentity"}),
    )
    rule = make_rule(target)
    d = dispatcher(model.Deployment(rules=[rule]), dlq_path=tmp_path / "dlq.jsonl")
    outcome = d.deliver(rule, target, EVENT, event_id="e")
    assert (outcome.status, outcome.error_code, outcome.attempts) == ("invalid", "INVALID_JSON", 0)
    assert http_server.requests == []
    (line,) = read_jsonl(tmp_path / "dlq.jsonl")
    assert line["payload"] is None
    assert "inside a JSON string" in line["ERROR_MESSAGE"]
    assert d.summary() == {SummaryKey(rule.arn, "t1", "webhook", "invalid"): 1}


def test_ingestion_time_defaults_to_the_event_time() -> None:
    target = make_target(input_transformer=model.InputTransformer('"<aws.events.event.ingestion-time>"'))
    rule = make_rule(target)
    out = io.StringIO()
    d = dispatcher(model.Deployment(rules=[rule]), stdout=out)
    d.deliver(rule, target, EVENT, event_id="e")
    d.deliver(rule, target, EVENT, event_id="e2", ingestion_time="2030-01-01T00:00:00Z")
    assert out.getvalue().splitlines() == [
        'iam-changes -> t1: "2019-06-19T00:18:31Z"',
        'iam-changes -> t1: "2030-01-01T00:00:00Z"',
    ]


# --- dedup --------------------------------------------------------------------------------------


def test_dedup_across_two_dispatchers_sharing_a_state_file(http_server: HttpServer, tmp_path: Path) -> None:
    state_path = tmp_path / "state.db"
    target = make_target(destination=webhook(http_server.url))
    rule = make_rule(target)
    deployment = model.Deployment(rules=[rule])
    with StateStore(state_path) as state:
        d1 = dispatcher(deployment, state=state)
        assert d1.deliver(rule, target, EVENT, event_id=EVENT_ID).status == "delivered"
        assert d1.deliver(rule, target, EVENT, event_id=EVENT_ID).status == "duplicate"
    with StateStore(state_path) as state:
        d2 = dispatcher(deployment, state=state)
        assert d2.deliver(rule, target, EVENT, event_id=EVENT_ID) == Outcome("duplicate", "webhook")
        assert d2.deliver(rule, target, EVENT, event_id="another").status == "delivered"
        # another target of the same rule is another key
        other = make_target(id="t2", destination=webhook(http_server.url))
        assert d2.deliver(rule, other, EVENT, event_id=EVENT_ID).status == "delivered"
        assert d2.summary() == {
            SummaryKey(rule.arn, "t1", "webhook", "delivered"): 1,
            SummaryKey(rule.arn, "t1", "webhook", "duplicate"): 1,
            SummaryKey(rule.arn, "t2", "webhook", "delivered"): 1,
        }
    assert len(http_server.requests) == 3


def test_failed_deliveries_are_not_marked(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.respond(500, times=1)
    target = make_target(destination=webhook(http_server.url), retry_policy=model.RetryPolicy(maximum_retry_attempts=0))
    rule = make_rule(target)
    with StateStore(tmp_path / "state.db") as state:
        assert (
            dispatcher(model.Deployment(rules=[rule]), state=state).deliver(rule, target, EVENT, event_id="e").status
            == "failed"
        )
        assert not state.delivered(rule.arn, "t1", "e")
        # the re-run sends it again, and now it works
        assert (
            dispatcher(model.Deployment(rules=[rule]), state=state).deliver(rule, target, EVENT, event_id="e").status
            == "delivered"
        )
        assert state.delivered(rule.arn, "t1", "e")


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_never_appear_in_output_dlq_or_exceptions(http_server: HttpServer, tmp_path: Path) -> None:
    http_server.always(403, f"forbidden for /{SECRET_TOKEN}")  # even a server echoing the secret
    secret_url = f"{http_server.url}/services/{SECRET_TOKEN}"
    environ = {"HOOK_URL": secret_url, "API_KEY": SECRET_TOKEN + "-header", "SLACK_URL": secret_url}
    targets = (
        make_target(
            id="hook",
            destination=model.DestinationSpec("webhook", {"url_env": "HOOK_URL", "headers": {"X-Key_env": "API_KEY"}}),
        ),
        make_target(id="slack", destination=model.DestinationSpec("slack", {"url_env": "SLACK_URL"})),
        make_target(id="inline-url", destination=model.DestinationSpec("webhook", {"url": secret_url})),
        make_target(id="bad-url", destination=model.DestinationSpec("webhook", {"url": f"nota://{SECRET_TOKEN}"})),
    )
    rule = make_rule(*targets)
    out, err = io.StringIO(), io.StringIO()
    dlq = tmp_path / "dlq.jsonl"
    d = dispatcher(model.Deployment(rules=[rule]), environ=environ, stdout=out, stderr=err, dlq_path=dlq)
    outcomes = [d.deliver(rule, t, EVENT, event_id="e") for t in targets]
    assert [o.status for o in outcomes] == ["failed"] * 4
    d.close()
    texts = [out.getvalue(), err.getvalue(), dlq.read_text(), repr(outcomes), repr(d.summary()), *d.problems()]
    texts += [repr(d.destination_for(rule, t)) for t in targets]
    for text in texts:
        assert SECRET_TOKEN not in text
    assert len(http_server.requests) == 3  # the secret URL was really used
    assert "***" in dlq.read_text()  # the echoed secret was scrubbed


def test_secret_is_not_in_a_raised_exception_chain(http_server: HttpServer) -> None:
    from trailmatch.dispatch.base import DeliveryError
    from trailmatch.dispatch.http import post

    http_server.always(404)
    with pytest.raises(DeliveryError) as info:
        post(f"{http_server.url}/{SECRET_TOKEN}", b"{}", {}, timeout=2, what="webhook")
    assert SECRET_TOKEN not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


# --- docs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        "trailmatch.dispatch",
        "trailmatch.dispatch.base",
        "trailmatch.dispatch.destinations",
        "trailmatch.dispatch.dispatcher",
        "trailmatch.dispatch.dlq",
        "trailmatch.dispatch.email",
        "trailmatch.dispatch.http",
        "trailmatch.dispatch.options",
        "trailmatch.dispatch.retry",
        "trailmatch.dispatch.slack",
        "trailmatch.dispatch.sns",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
