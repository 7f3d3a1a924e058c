"""The deployment model: what rules files describe, whatever their format.

Every rules front end (native YAML/JSON, CloudFormation templates, AWS CLI output) produces a
:class:`Deployment`; ``trailmatch scan`` replays events through it and delivers what matches.
These classes are plain data: no I/O, no matching.

Example:
    >>> rule = Rule(name="iam-changes", region="us-east-1", account="111122223333",
    ...             event_pattern='{"source": ["aws.iam"]}')
    >>> rule.arn
    'arn:aws:events:us-east-1:111122223333:rule/iam-changes'
    >>> Rule(name="r", region="ap-northeast-1", account="1", bus="receiver", event_pattern="{}").arn
    'arn:aws:events:ap-northeast-1:1:rule/receiver/r'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_BUS",
    "DEFAULT_REGION",
    "RULE_STATES",
    "Binding",
    "Bus",
    "Deployment",
    "DestinationSpec",
    "InputTransformer",
    "Location",
    "RetryPolicy",
    "Rule",
    "RuleState",
    "Subscription",
    "Target",
    "Topic",
    "Unsupported",
    "bus_of",
]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_BUS = "default"

RuleState = Literal["ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"]
RULE_STATES: tuple[str, ...] = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")


@dataclass(frozen=True)
class Location:
    """Where something was defined: file, 1-based line (if known), logical id or name."""

    file: str
    line: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.name})" if self.name else where


@dataclass(frozen=True)
class RetryPolicy:
    """EventBridge's retry policy of a target (defaults: 185 attempts, 24 hours)."""

    maximum_retry_attempts: int = 185
    maximum_event_age_seconds: int = 86_400


@dataclass(frozen=True)
class InputTransformer:
    """``InputPathsMap`` (name → JSONPath) and ``InputTemplate``."""

    input_template: str
    input_paths_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A rule target, as in ``AWS::Events::Rule`` / ``list-targets-by-rule``.

    At most one of ``input``, ``input_path``, ``input_transformer`` is set.
    ``logical_id`` is the CloudFormation logical id the ``Arn`` referred to (e.g. ``SNSTopic``
    for ``!Ref SNSTopic``), when known: bindings may name it instead of the ARN.
    ``destination`` is an inline destination (native format only).
    """

    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: InputTransformer | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter_arn: str | None = None
    role_arn: str | None = None
    logical_id: str | None = None
    destination: DestinationSpec | None = None


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule deployed in one region (a rules file deployed in three regions gives
    three ``Rule`` objects)."""

    name: str
    region: str
    account: str
    event_pattern: str
    bus: str = DEFAULT_BUS
    state: str = "ENABLED"
    targets: tuple[Target, ...] = ()
    description: str = ""
    location: Location | None = None

    @property
    def arn(self) -> str:
        """``arn:aws:events:<region>:<account>:rule/<name>`` (``rule/<bus>/<name>`` off the default bus)."""
        path = self.name if self.bus == DEFAULT_BUS else f"{self.bus}/{self.name}"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{path}"

    @property
    def key(self) -> str:
        """A unique key within a deployment: region, bus and name."""
        return f"{self.region}/{self.bus}/{self.name}"


@dataclass(frozen=True)
class Bus:
    """An event bus (the default bus of each region exists implicitly)."""

    name: str
    region: str
    account: str
    location: Location | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.name}"


@dataclass(frozen=True)
class Subscription:
    """An SNS subscription: ``protocol`` (``email``, ``email-json``, ``https``, ``http``, ``sqs``,
    ``lambda``, ...) and ``endpoint``."""

    protocol: str
    endpoint: str
    raw_message_delivery: bool = False


@dataclass(frozen=True)
class Topic:
    """An SNS topic and its subscriptions (from the same deployment)."""

    name: str
    region: str
    account: str
    subscriptions: tuple[Subscription, ...] = ()
    display_name: str = ""
    logical_id: str | None = None
    location: Location | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{self.name}"


@dataclass(frozen=True)
class DestinationSpec:
    """Where deliveries for a target go, as configured: ``type`` is one of ``stdout``, ``file``,
    ``webhook``, ``slack``, ``sns``, ``email``; ``options`` are its settings (secrets are
    named by environment variable, e.g. ``url_env: SLACK_WEBHOOK_URL``)."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None


@dataclass(frozen=True)
class Binding:
    """Sends deliveries of targets whose ARN or logical id matches ``match`` (a glob: ``*``
    and ``?``) to ``destination``. The first matching binding wins."""

    match: str
    destination: DestinationSpec
    location: Location | None = None


@dataclass(frozen=True)
class Unsupported:
    """A resource of a template that trailmatch does not model (listed, not fatal)."""

    logical_id: str
    type: str
    location: Location | None = None


@dataclass
class Deployment:
    """Everything loaded from the rules files of one scan."""

    rules: list[Rule] = field(default_factory=list)
    buses: list[Bus] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    #: Non-fatal findings while loading (file, line and rule in each message).
    warnings: list[str] = field(default_factory=list)
    #: Settings from the native format's ``settings:`` section (SMTP, SNS endpoint, ...).
    settings: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Deployment) -> None:
        """Adds everything of ``other`` (several rules files make one deployment)."""
        self.rules.extend(other.rules)
        self.buses.extend(other.buses)
        self.topics.extend(other.topics)
        self.bindings.extend(other.bindings)
        self.unsupported.extend(other.unsupported)
        self.warnings.extend(other.warnings)
        for k, v in other.settings.items():
            self.settings.setdefault(k, v)

    def topic(self, arn: str) -> Topic | None:
        """The topic with this ARN, if the deployment defines it."""
        return next((t for t in self.topics if t.arn == arn), None)


_BUS_ARN = re.compile(r"arn:aws[a-zA-Z-]*:events:(?P<region>[a-z0-9-]+):(?P<account>[0-9]*):event-bus/(?P<bus>.+)")


def bus_of(arn: str) -> tuple[str, str] | None:
    """``(region, bus name)`` if ``arn`` is an event bus ARN.

    Example:
        >>> bus_of("arn:aws:events:ap-northeast-1:111122223333:event-bus/eventbrdge-bus-receiver")
        ('ap-northeast-1', 'eventbrdge-bus-receiver')
        >>> bus_of("arn:aws:sns:us-east-1:111122223333:alerts") is None
        True
    """
    m = _BUS_ARN.fullmatch(arn)
    return (m["region"], m["bus"]) if m else None
