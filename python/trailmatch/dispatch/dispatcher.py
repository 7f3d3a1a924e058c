"""The dispatcher: resolves each target's destination and delivers with retries, dead letters and
dedup.

**Resolution** of a target's destination, first match wins:

1. the target's inline ``destination``;
2. the first :class:`~trailmatch.model.Binding` whose ``match`` glob (``*``, ``?``; the whole
   text) matches the target's ARN or its ``logical_id``;
3. an SNS topic: with an SNS endpoint configured (``settings["sns"]`` or
   ``TRAILMATCH_SNS_ENDPOINT_URL``) any ``arn:aws:sns:`` target is published there with boto3;
   otherwise a topic the deployment defines is emulated — its ``email`` / ``email-json``
   subscriptions over SMTP when SMTP is configured, its ``http`` / ``https`` subscriptions by
   POST (see :mod:`trailmatch.dispatch.sns`); a topic with nothing deliverable falls through;
4. standard output: an unbound target prints its payload after ``<rule> -> <target>:``.

Targets that are event buses are not delivered here: the caller forwards them (see
:func:`is_bus_arn`).

**Notifications** that no rule sends — a CloudWatch alarm publishing to its actions — go
through :meth:`Dispatcher.deliver_notification`: the target ARN is resolved as above (its
``logical_id`` is unknown), and delivery has the same retries, dead letters, dedup and
scrubbing; the sender (a :class:`NotificationSource`) stands in for the rule. Such a delivery
may carry an SNS ``Subject`` and per-protocol messages (:class:`~trailmatch.dispatch.email.Publication`).

**Delivery** of one event to one target (:meth:`Dispatcher.deliver`):

* dedup: with a :class:`~trailmatch.state.StateStore`, a (rule ARN, target id, event id) that
  was delivered before is skipped (outcome ``duplicate``). The key is recorded only after the
  destination accepted the payload, so delivery is *at least once*: a crash between the send
  and the record means the next run sends it again.
* the payload is :func:`~trailmatch.transform.payload_for` the event; when EventBridge would
  deliver nothing (:class:`~trailmatch.transform.TransformError`) the outcome is ``invalid``
  and a dead letter is written with ``ERROR_CODE`` ``INVALID_JSON``.
* the destination is tried; retriable failures are retried with exponential backoff and full
  jitter (:class:`~trailmatch.dispatch.retry.Backoff`) within the target's ``RetryPolicy``;
  non-retriable ones (HTTP 4xx other than 408/429, authentication, unknown or unconfigured
  destination) are not retried. A delivery that fails for good is ``failed`` and goes to the
  dead-letter spool with EventBridge's attributes (:mod:`trailmatch.dispatch.dlq`), and a line
  on ``stderr`` says so.

Defaults follow EventBridge (185 retries within 24 hours) with delays capped at
``retry_max_delay``: a destination that stays down holds the run for as long as the target's
``RetryPolicy`` allows; lower it in the rules, or ``retry_max_delay``, for quick runs.

**Secrets** (webhook URLs, SMTP passwords, AWS secret keys) are read from the environment or the
configuration, never printed: descriptions name the variable they come from, error messages
are built without them and every message is scrubbed of every secret the destinations hold
before it reaches stdout, stderr, the spool or an exception.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from trailmatch import model
from trailmatch.dispatch.base import INVALID_JSON, UNKNOWN, Delivery, DeliveryError, Destination, scrub
from trailmatch.dispatch.destinations import InvalidDestination, StdoutDestination, build_destination
from trailmatch.dispatch.dlq import DeadLetterSpool, dead_letter_record
from trailmatch.dispatch.email import Publication, smtp_config
from trailmatch.dispatch.options import ConfigError, Context
from trailmatch.dispatch.retry import Backoff, Exhausted
from trailmatch.dispatch.sns import SnsDestination, TopicDestination, sns_settings
from trailmatch.state import StateStore
from trailmatch.transform import TransformError, payload_for

__all__ = ["Dispatcher", "NotificationSource", "Outcome", "SummaryKey", "glob_match", "is_bus_arn"]

_SNS_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:[0-9]*:[^:]+")


def is_bus_arn(arn: str) -> bool:
    """Whether ``arn`` is an event bus (``arn:aws:events:<region>:<account>:event-bus/<name>``).

    Example:
        >>> is_bus_arn("arn:aws:events:us-east-1:111122223333:event-bus/central")
        True
        >>> is_bus_arn("arn:aws:events:us-east-1:111122223333:rule/r")
        False
    """
    return model.bus_of(arn) is not None


def glob_match(pattern: str, text: str) -> bool:
    """Whether the glob ``pattern`` (``*`` any run of characters, ``?`` one) matches all of ``text``.

    Example:
        >>> glob_match("arn:aws:sns:*:alerts-?", "arn:aws:sns:us-east-1:1:alerts-1"), glob_match("Alerts", "alerts")
        (True, False)
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery.

    Attributes:
        status: ``delivered``, ``duplicate`` (already delivered before: skipped), ``failed``
            (retries exhausted or non-retriable error) or ``invalid`` (EventBridge would deliver
            nothing: the input transformation failed).
        destination: the destination's kind (``stdout``, ``file``, ``webhook``, ``slack``,
            ``sns``, ``email``, ``topic``, ``invalid``).
        attempts: how many times sending was tried.
        error_code: EventBridge's ``ERROR_CODE`` when not delivered.
        error_message: why (no secrets).
        exhausted_retry_condition: ``MaximumRetryAttempts`` or ``MaximumEventAgeInSeconds``
            when retries ran out.
        dead_lettered: whether a dead-letter line was written.
    """

    status: str
    destination: str
    attempts: int = 0
    error_code: str | None = None
    error_message: str | None = None
    exhausted_retry_condition: str | None = None
    dead_lettered: bool = False


class SummaryKey(NamedTuple):
    """Key of :meth:`Dispatcher.summary`."""

    rule: str
    target: str
    destination: str
    outcome: str


@dataclass(frozen=True)
class NotificationSource(model.Rule):
    """The sender of a notification that no rule sends (a CloudWatch alarm, ...), standing in
    for the rule wherever a delivery names one: its ``arn`` is the sender's ARN (dedup key,
    summaries, ``RULE_ARN`` of dead letters) and its ``name`` the sender's name.

    Example:
        >>> s = NotificationSource.of("arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:bucket-created")
        >>> s.name, s.region, s.account, s.arn == s.source_arn == s.key
        ('bucket-created', 'ap-northeast-1', '111122223333', True)
    """

    source_arn: str = ""

    @classmethod
    def of(cls, arn: str, name: str | None = None) -> NotificationSource:
        """The source of ``arn``; ``name`` defaults to the ARN's last ``:`` or ``/`` part."""
        parts = arn.split(":")
        region = parts[3] if len(parts) > 3 else ""
        account = parts[4] if len(parts) > 4 else ""
        default = re.split(r"[:/]", arn)[-1] or arn
        return cls(name=name or default, region=region, account=account, event_pattern="", source_arn=arn)

    @property
    def arn(self) -> str:
        """The sender's ARN."""
        return self.source_arn

    @property
    def key(self) -> str:
        """Unique among senders and rules: the ARN."""
        return self.source_arn


class Dispatcher:
    """Delivers what targets receive to their destinations (see the module docs).

    Args:
        deployment: rules, topics, bindings and settings.
        state: dedup store; ``None`` disables dedup.
        dlq_path: dead-letter spool (JSON Lines); ``None``: failures are reported on stderr only.
        environ: where ``*_env`` options, ``TRAILMATCH_*`` and AWS credentials are read.
        stdout: where ``stdout`` destinations and unbound targets print.
        stderr: where failures are reported.
        sleep, clock: injectable for tests (``time.sleep``, ``time.monotonic``).
        retry_base_delay, retry_max_delay: backoff bounds, seconds.
        jitter: draws a delay in ``(low, high)`` (``random.uniform``).

    Example:
        >>> import io
        >>> rule = model.Rule(name="r", region="us-east-1", account="1", event_pattern="{}",
        ...                   targets=(model.Target(id="t", arn="arn:aws:lambda:us-east-1:1:function:f"),))
        >>> out = io.StringIO()
        >>> d = Dispatcher(model.Deployment(rules=[rule]), stdout=out)
        >>> d.deliver(rule, rule.targets[0], {"detail": {"eventName": "X"}}, event_id="e1")
        Outcome(status='delivered', destination='stdout', attempts=1, ...)
        >>> out.getvalue()
        'r -> t: {"detail":{"eventName":"X"}}\\n'
        >>> dict(d.summary())
        {SummaryKey(rule='arn:aws:events:us-east-1:1:rule/r', target='t', destination='stdout', outcome='delivered'): 1}
    """

    def __init__(
        self,
        deployment: model.Deployment,
        *,
        state: StateStore | None = None,
        dlq_path: Path | str | None = None,
        environ: Mapping[str, str] = os.environ,
        stdout: TextIO = sys.stdout,
        stderr: TextIO = sys.stderr,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 60.0,
        jitter: Callable[[float, float], float] | None = None,
    ) -> None:
        self.deployment = deployment
        self.state = state
        self.spool = DeadLetterSpool(dlq_path) if dlq_path is not None else None
        self.environ = environ
        self.stdout = stdout
        self.stderr = stderr
        self.sleep = sleep
        self.clock = clock
        self.backoff = (
            Backoff(retry_base_delay, retry_max_delay)
            if jitter is None
            else Backoff(retry_base_delay, retry_max_delay, jitter)
        )
        self._context = Context(settings=deployment.settings, environ=environ, stdout=stdout)
        self._destinations: dict[tuple[str, str], Destination] = {}
        self._counts: Counter[SummaryKey] = Counter()
        self._secrets: set[str] = set()
        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TRAILMATCH_SMTP_PASSWORD"):
            if environ.get(name):
                self._secrets.add(environ[name])

    # --- resolution -----------------------------------------------------------------------------

    def destination_for(self, rule: model.Rule, target: model.Target) -> Destination:
        """The destination of ``target`` (built once, then cached; see the module docs)."""
        key = (rule.key, target.id)
        found = self._destinations.get(key)
        if found is None:
            found = self._resolve(target)
            self._destinations[key] = found
            self._secrets.update(found.secrets())
        return found

    def action_destination(self, alarm: model.Alarm, action_arn: str) -> Destination:
        """The destination of one of ``alarm``'s actions: resolved like a rule target's, and the
        one :meth:`deliver_notification` uses for the alarm's notifications."""
        return self.destination_for(
            NotificationSource.of(alarm.arn, alarm.name), model.Target(id=action_arn, arn=action_arn)
        )

    def _resolve(self, target: model.Target) -> Destination:
        if target.destination is not None:
            return build_destination(target.destination, self._context, target=target)
        for binding in self.deployment.bindings:
            if glob_match(binding.match, target.arn) or (
                target.logical_id is not None and glob_match(binding.match, target.logical_id)
            ):
                return build_destination(binding.destination, self._context, target=target)
        if _SNS_ARN.fullmatch(target.arn):
            try:
                if sns_settings(self.deployment.settings, self.environ) is not None:
                    return SnsDestination({}, self._context, default_topic=target.arn)
                topic = self.deployment.topic(target.arn)
                if topic is not None:
                    emulated = TopicDestination(topic, smtp=smtp_config(self.deployment.settings, self.environ))
                    if emulated.bound:
                        return emulated
            except (ConfigError, TypeError, ValueError) as e:
                return InvalidDestination(str(e), kind="sns")
        return StdoutDestination(self.stdout, unbound=True)

    def problems(self) -> list[str]:
        """Targets (and alarm actions) whose destination cannot be used (unknown type, unset
        variable, ...), checked before any delivery. Event bus targets are skipped."""
        found: list[str] = []
        for rule in self.deployment.rules:
            for target in rule.targets:
                if is_bus_arn(target.arn):
                    continue
                destination = self.destination_for(rule, target)
                if isinstance(destination, InvalidDestination):
                    found.append(f"rule {rule.name} target {target.id}: {self._scrub(destination.reason)}")
                elif isinstance(destination, SnsDestination) and importlib.util.find_spec("boto3") is None:
                    found.append(
                        f"rule {rule.name} target {target.id}: sns: boto3 is not installed (pip install boto3)"
                    )
        for alarm in self.deployment.alarms:
            for arn in alarm.actions:
                if is_bus_arn(arn):
                    continue
                destination = self.action_destination(alarm, arn)
                if isinstance(destination, InvalidDestination):
                    found.append(f"alarm {alarm.name} action {arn}: {self._scrub(destination.reason)}")
                elif isinstance(destination, SnsDestination) and importlib.util.find_spec("boto3") is None:
                    found.append(f"alarm {alarm.name} action {arn}: sns: boto3 is not installed (pip install boto3)")
        return found

    # --- delivery -------------------------------------------------------------------------------

    def deliver(
        self,
        rule: model.Rule,
        target: model.Target,
        event: Mapping[str, Any],
        *,
        event_id: str,
        ingestion_time: str | datetime | None = None,
    ) -> Outcome:
        """Delivers ``event`` (the EventBridge event) to ``target`` of ``rule``.

        ``event_id`` is the dedup id (the CloudTrail ``eventID`` for CloudTrail events).
        ``ingestion_time`` is ``<aws.events.event.ingestion-time>``: by default the event's
        ``time`` (reproducible runs), else now.

        Raises:
            ValueError: ``target`` is an event bus (the caller forwards those).
        """
        if is_bus_arn(target.arn):
            raise ValueError(f"target {target.id} is an event bus ({target.arn}): the caller forwards it")
        destination = self.destination_for(rule, target)
        if self.state is not None and self.state.delivered(rule.arn, target.id, event_id):
            return self._record(rule, target, destination, Outcome("duplicate", destination.kind))
        when = ingestion_time if ingestion_time is not None else event.get("time")
        try:
            payload = payload_for(target, rule, event, when if isinstance(when, (str, datetime)) else None)
        except TransformError as e:
            return self._fail(
                rule, target, destination, event, event_id, None, INVALID_JSON, str(e), None, 0, "invalid"
            )

        delivery = Delivery(rule=rule, target=target, event=event, event_id=event_id, payload=payload)
        return self._send(destination, delivery)

    def deliver_notification(
        self,
        source_arn: str,
        target_arn: str,
        payload: str,
        *,
        dedup_key: str,
        subject: str | None = None,
        messages: Mapping[str, str] | None = None,
        source_name: str | None = None,
        retry_policy: model.RetryPolicy | None = None,
    ) -> Outcome:
        """Delivers ``payload`` to ``target_arn`` on behalf of ``source_arn`` — something other
        than a rule, such as a CloudWatch alarm publishing to its actions.

        The target ARN is resolved like a rule target's (a binding matching the ARN, an SNS
        topic of the deployment or an SNS endpoint, else standard output), and delivery has
        the same retries (``retry_policy``, EventBridge's defaults when ``None``), dead
        letters (``RULE_ARN`` is ``source_arn``) and secret scrubbing. Dedup: a
        (``source_arn``, ``target_arn``, ``dedup_key``) delivered before is skipped.

        ``subject`` and ``messages`` are those of an SNS ``Publish``: the subject of e-mails
        and notifications, and per-protocol messages (``MessageStructure=json``: ``{"email":
        text}`` gives e-mail subscriptions and e-mail destinations their own body; every
        other destination receives ``payload``). ``source_name`` names the sender in
        summaries and on standard output (default: the last part of ``source_arn``).

        Example:
            >>> import io
            >>> out = io.StringIO()
            >>> d = Dispatcher(model.Deployment(), stdout=out)
            >>> d.deliver_notification("arn:aws:cloudwatch:us-east-1:1:alarm:a", "arn:aws:sns:us-east-1:1:t",
            ...                        '{"AlarmName":"a"}', dedup_key="2024-01-01T00:01:00Z|ALARM")
            Outcome(status='delivered', destination='stdout', attempts=1, ...)
            >>> out.getvalue()
            'a -> arn:aws:sns:us-east-1:1:t: {"AlarmName":"a"}\\n'
        """
        if is_bus_arn(target_arn):
            raise ValueError(f"{target_arn} is an event bus: notifications are not forwarded to buses")
        source = NotificationSource.of(source_arn, source_name)
        target = model.Target(id=target_arn, arn=target_arn, retry_policy=retry_policy or model.RetryPolicy())
        destination = self.destination_for(source, target)
        if self.state is not None and self.state.delivered(source_arn, target.id, dedup_key):
            return self._record(source, target, destination, Outcome("duplicate", destination.kind))
        event: dict[str, Any]
        try:
            parsed = json.loads(payload)
            event = parsed if isinstance(parsed, dict) else {"Message": payload}
        except ValueError:
            event = {"Message": payload}
        delivery = Publication(
            rule=source,
            target=target,
            event=event,
            event_id=dedup_key,
            payload=payload,
            subject=subject,
            messages=dict(messages or {}),
        )
        return self._send(destination, delivery)

    def _send(self, destination: Destination, delivery: Delivery) -> Outcome:
        """Tries ``delivery`` until it succeeds, fails for good or retries run out; records the
        dedup key on success."""
        rule, target, event, event_id, payload = (
            delivery.rule,
            delivery.target,
            delivery.event,
            delivery.event_id,
            delivery.payload,
        )
        started = self.clock()
        attempts = 0
        while True:
            attempts += 1
            try:
                destination.send(delivery)
            except DeliveryError as e:
                error = e
            except Exception as e:
                error = DeliveryError(UNKNOWN, f"{type(e).__name__}: {e}", retriable=False)
            else:
                if self.state is not None:
                    self.state.mark_delivered(rule.arn, target.id, event_id, destination.description)
                return self._record(rule, target, destination, Outcome("delivered", destination.kind, attempts))
            if not error.retriable:
                return self._fail(
                    rule, target, destination, event, event_id, payload, error.code, error.message, None, attempts - 1
                )
            step = self.backoff.next_delay(
                target.retry_policy, retries_done=attempts - 1, elapsed=self.clock() - started
            )
            if isinstance(step, Exhausted):
                return self._fail(
                    rule,
                    target,
                    destination,
                    event,
                    event_id,
                    payload,
                    error.code,
                    error.message,
                    step.condition,
                    attempts - 1,
                )
            self.sleep(step)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def _fail(
        self,
        rule: model.Rule,
        target: model.Target,
        destination: Destination,
        event: Mapping[str, Any],
        event_id: str,
        payload: str | None,
        code: str,
        message: str,
        condition: str | None,
        retries: int,
        status: str = "failed",
    ) -> Outcome:
        message = self._scrub(message)
        dead_lettered = False
        if self.spool is not None:
            record = dead_letter_record(
                rule_arn=rule.arn,
                target_arn=target.arn,
                error_code=code,
                error_message=message,
                exhausted_retry_condition=condition,
                retry_attempts=retries,
                dead_letter_arn=target.dead_letter_arn,
                rule=rule.name,
                target=target.id,
                event_id=event_id,
                destination=self._scrub(destination.description),
                event=event,
                payload=payload,
            )
            try:
                self.spool.append(record)
                dead_lettered = True
            except OSError as e:
                self._report(f"cannot write the dead-letter spool {self.spool.path}: {e.strerror}")
        where = f"rule {rule.name} target {target.id} ({self._scrub(destination.description)})"
        exhausted = f" after {retries} retries ({condition})" if condition else ""
        spooled = " -> dead-letter spool" if dead_lettered else ""
        verb = "not delivered" if status == "invalid" else "delivery failed"
        self._report(f"{verb}: {where}, event {event_id}: {code}: {message}{exhausted}{spooled}")
        outcome = Outcome(
            status,
            destination.kind,
            attempts=retries + (1 if status == "failed" else 0),
            error_code=code,
            error_message=message,
            exhausted_retry_condition=condition,
            dead_lettered=dead_lettered,
        )
        return self._record(rule, target, destination, outcome)

    def _report(self, text: str) -> None:
        try:
            self.stderr.write(f"trailmatch: {self._scrub(text)}\n")
            self.stderr.flush()
        except (OSError, ValueError):
            pass

    def _record(self, rule: model.Rule, target: model.Target, destination: Destination, outcome: Outcome) -> Outcome:
        self._counts[SummaryKey(rule.arn, target.id, destination.kind, outcome.status)] += 1
        return outcome

    # --- results --------------------------------------------------------------------------------

    def summary(self) -> dict[SummaryKey, int]:
        """How many deliveries ended how, per (rule ARN, target id, destination kind, outcome)."""
        return dict(sorted(self._counts.items()))

    def close(self) -> None:
        """Closes destinations and the dead-letter spool (the state store is the caller's)."""
        for destination in self._destinations.values():
            try:
                destination.close()
            except Exception as e:  # closing must not hide the run's result
                self._report(f"closing {destination.kind}: {type(e).__name__}")
        self._destinations.clear()
        if self.spool is not None:
            self.spool.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
