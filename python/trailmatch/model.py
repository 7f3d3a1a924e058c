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
    "Alarm",
    "Binding",
    "Bus",
    "Deployment",
    "DestinationSpec",
    "InputTransformer",
    "Location",
    "MetricFilter",
    "MetricTransformation",
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
    #: Why it is not modelled, when there is more to say than the type.
    reason: str = ""


@dataclass(frozen=True)
class MetricTransformation:
    """What a metric filter publishes (``PutMetricFilter``'s ``metricTransformations[0]``).

    ``metric_value``: a number (``"1"``), a JSON selector (``"$.bytes"``) or a space-delimited
    field (``"$size"``, ``"$7"``). ``default_value``: emitted for each event that does not match
    (cannot be combined with ``dimensions``). ``dimensions``: name → ``$.field`` / ``$field``,
    at most 3. ``unit``: a CloudWatch unit (``Count``, ``Seconds``, ...; default ``None``).
    """

    metric_name: str
    metric_namespace: str
    metric_value: str = "1"
    default_value: float | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    unit: str = "None"


@dataclass(frozen=True)
class MetricFilter:
    """A CloudWatch Logs metric filter on a log group (``AWS::Logs::MetricFilter``).

    For CloudTrail, each record delivered to the log group is one log event, its ``eventTime`` its
    timestamp.

    Example:
        >>> f = MetricFilter(name="root-usage", log_group="CloudTrail/logs", region="us-east-1", account="1",
        ...                  filter_pattern='{ $.userIdentity.type = "Root" }',
        ...                  transformation=MetricTransformation("RootUsage", "CISBenchmark"))
        >>> f.transformation.metric_value
        '1'
    """

    name: str
    log_group: str
    region: str
    account: str
    filter_pattern: str
    transformation: MetricTransformation
    location: Location | None = None

    @property
    def key(self) -> str:
        """A unique key within a deployment: region, log group and name."""
        return f"{self.region}/{self.log_group}/{self.name}"


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm on one metric (``AWS::CloudWatch::Alarm`` / ``PutMetricAlarm``).

    ``statistic``: ``SampleCount``, ``Average``, ``Sum``, ``Minimum`` or ``Maximum``.
    ``comparison_operator``: ``GreaterThanOrEqualToThreshold``, ``GreaterThanThreshold``,
    ``LessThanThreshold`` or ``LessThanOrEqualToThreshold``. ``datapoints_to_alarm`` defaults to
    ``evaluation_periods`` (M of N). ``treat_missing_data``: ``missing``, ``notBreaching``,
    ``breaching`` or ``ignore``. Actions are ARNs (SNS topics, ...) delivered like rule targets.

    Example:
        >>> a = Alarm(name="root-usage", region="us-east-1", account="1", metric_name="RootUsage",
        ...           namespace="CISBenchmark", statistic="Sum", period=300, evaluation_periods=1,
        ...           threshold=1.0, comparison_operator="GreaterThanOrEqualToThreshold")
        >>> a.arn, a.m
        ('arn:aws:cloudwatch:us-east-1:1:alarm:root-usage', 1)
    """

    name: str
    region: str
    account: str
    metric_name: str
    namespace: str
    statistic: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    dimensions: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    actions_enabled: bool = True
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    description: str = ""
    location: Location | None = None

    @property
    def arn(self) -> str:
        """``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``."""
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{self.name}"

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action ARN (``ALARM``, ``OK``, ``INSUFFICIENT_DATA`` lists), each once, in order."""
        return tuple(dict.fromkeys((*self.alarm_actions, *self.ok_actions, *self.insufficient_data_actions)))

    @property
    def m(self) -> int:
        """Datapoints to alarm (M of N)."""
        return self.datapoints_to_alarm if self.datapoints_to_alarm is not None else self.evaluation_periods


@dataclass
class Deployment:
    """Everything loaded from the rules files of one scan."""

    rules: list[Rule] = field(default_factory=list)
    buses: list[Bus] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)
    metric_filters: list[MetricFilter] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
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
        self.metric_filters.extend(other.metric_filters)
        self.alarms.extend(other.alarms)
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
