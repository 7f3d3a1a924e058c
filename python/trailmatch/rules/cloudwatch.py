"""What every rules front end checks the same way for CloudWatch: metric filters
(``PutMetricFilter`` / ``AWS::Logs::MetricFilter``), their filter patterns (compiled by the
engine that will match them), and metric alarms (``PutMetricAlarm`` /
``AWS::CloudWatch::Alarm``), with CloudWatch's limits and names.

The front ends (CloudFormation templates, AWS CLI output, native files) hand over a resource's
properties under their CloudFormation names, each with the name it has in the file
(:class:`Props`); this module checks them and builds :class:`trailmatch.model.MetricFilter` and
:class:`trailmatch.model.Alarm`. It reads no files and resolves no intrinsic functions.

Alarms that trailmatch does not simulate (metric math, anomaly detection, percentiles) are told
apart by :func:`alarm_unsupported`: the front ends list them, they are not errors.

Example:
    >>> from trailmatch.rules.common import Where
    >>> from trailmatch.rules.positions import load_yaml_documents
    >>> docs, _ = load_yaml_documents('''
    ... AlarmName: bucket-created
    ... MetricName: CreateBucketCount
    ... Namespace: S3Events
    ... Statistic: Sum
    ... Period: 60
    ... EvaluationPeriods: 1
    ... Threshold: 0
    ... ComparisonOperator: GreaterThanThreshold
    ... ''', "alarm.yaml")
    >>> props = Props(docs[0], Where("alarm.yaml", 2, "Alarm"))
    >>> alarm = build_alarm(props, name="bucket-created", region="ap-northeast-1", account="111122223333")
    >>> alarm.arn, alarm.period, alarm.threshold, alarm.m
    ('arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:bucket-created', 60, 0.0, 1)
    >>> docs[0]["Period"] = 45
    >>> try:
    ...     build_alarm(props, name="bucket-created", region="ap-northeast-1", account="111122223333")
    ... except RulesError as e:
    ...     print(e)
    alarm.yaml:6: Alarm: Period must be 10, 20, 30 or a multiple of 60 seconds, found 45
      hint: did you mean 30 or 60?
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trailmatch import model
from trailmatch.filters import compile_filter_pattern
from trailmatch.rules.common import Where, did_you_mean, text_of, type_name
from trailmatch.rules.errors import RulesError
from trailmatch.rules.positions import LineDict, LineList

__all__ = [
    "ACTION_KEYS",
    "ANOMALY_OPERATORS",
    "COMPARISON_OPERATORS",
    "MAX_ALARM_ACTIONS",
    "MAX_FILTER_PATTERN_LENGTH",
    "STATISTICS",
    "TREAT_MISSING_DATA",
    "UNITS",
    "Props",
    "alarm_unsupported",
    "build_alarm",
    "build_metric_filter",
    "canonical",
    "check_filter_pattern",
    "check_log_group_name",
    "default_log_group",
    "single_transformation",
]

#: ``Statistic`` values (percentiles are ``ExtendedStatistic``, not simulated).
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
#: The threshold operators trailmatch simulates.
COMPARISON_OPERATORS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
#: The operators of anomaly-detection alarms (listed as unsupported).
ANOMALY_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
#: ``TreatMissingData`` values; ``missing`` is the default.
TREAT_MISSING_DATA = ("missing", "notBreaching", "breaching", "ignore")
#: CloudWatch's ``StandardUnit`` values.
UNITS = (
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
)
#: Most ARNs in each of ``AlarmActions``, ``OKActions``, ``InsufficientDataActions``.
MAX_ALARM_ACTIONS = 5
#: ``filterPattern`` is 0 to 1,024 characters (``PutMetricFilter``).
MAX_FILTER_PATTERN_LENGTH = 1024
_UNITS_SHOWN = "a CloudWatch unit (Count, Seconds, Milliseconds, Bytes, Percent, Count/Second, None, ...)"
MAX_FILTER_DIMENSIONS = 3
MAX_ALARM_DIMENSIONS = 30
ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")

_LOG_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]+")
_METRIC_NAME_FORBIDDEN = re.compile(r"[:*$]")
_FILTER_NAME_FORBIDDEN = re.compile(r"[:*]")
_ARN = re.compile(r"arn:[^:\s]+:[^:\s]+:[^:\s]*:[^:\s]*:\S.*", re.S)
_NUMBER = re.compile(r"\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")
_PERCENTILE = re.compile(r"(?i)(p|tm|tc|ts|wm)[0-9.]+|IQM|(PR|TM|TC|TS|WM)\(.*\)")


def default_log_group(account: str) -> str:
    """The log group a metric filter reads when none is named: ``aws-cloudtrail-logs-<account>``,
    the name the CloudTrail console proposes for a trail's log group, without the random suffix
    the console appends (``aws-cloudtrail-logs-<account>-<8 hex digits>``).

    Example:
        >>> default_log_group("111122223333")
        'aws-cloudtrail-logs-111122223333'
    """
    return f"aws-cloudtrail-logs-{account}"


@dataclass(frozen=True)
class Props:
    """A resource's properties under their CloudFormation names, as one file wrote them.

    ``node`` maps CloudFormation property names (``MetricName``, ``AlarmActions``, ...) to
    values with their lines; ``labels`` says how the file names each property (``metricName``
    in AWS CLI output, ``alarms[0].metric_name`` in a native file), for messages. A value of
    ``None`` is an absent property. ``joiner`` goes between a label and its message: native
    files' messages read ``path: message``.

    Example:
        >>> node = LineDict(3)
        >>> node["Period"] = 60
        >>> node.key_lines["Period"] = 4
        >>> p = Props(node, Where("f.yaml", 3, "a"), {"Period": "alarms[0].period"})
        >>> p.label("Period"), p.line("Period"), p.get("Period"), p.get("Threshold")
        ('alarms[0].period', 4, 60, None)
    """

    node: LineDict
    where: Where
    labels: Mapping[str, str] = field(default_factory=dict)
    joiner: str = " "

    def label(self, key: str) -> str:
        """How the file names property ``key``."""
        return self.labels.get(key, key)

    def line(self, key: str) -> int | None:
        """The line of property ``key`` (of the resource if absent)."""
        return self.node.line_of(key)

    def get(self, key: str) -> Any:
        """The value of property ``key``, or ``None``."""
        return self.node.get(key)

    def error(
        self,
        key: str,
        message: str,
        *,
        hint: str | None = None,
        index: int | None = None,
        line: int | None = None,
    ) -> RulesError:
        """A :class:`RulesError` at property ``key`` (item ``index`` of it, at ``line``);
        ``message`` follows its label."""
        label = self.label(key) + ("" if index is None else f"[{index}]")
        return self.where.error(
            f"{label}{self.joiner}{message}",
            line=line if line is not None else self.line(key),
            hint=hint,
            path=label if key in self.labels else None,
        )

    def missing(self, key: str, *, hint: str | None = None) -> RulesError:
        """The error for a required property that is absent."""
        return self.where.error(f"{self.label(key)} is required", line=self.where.line, hint=hint)

    def text(self, key: str, *, required: bool = False, hint: str | None = None) -> str | None:
        """Property ``key`` as a string (numbers as written); ``None`` if absent and not required."""
        value = self.get(key)
        if value is None:
            if required:
                raise self.missing(key, hint=hint)
            return None
        if isinstance(value, (dict, list)):
            raise self.error(key, f"must be a string, found {type_name(value)}", hint=hint)
        return text_of(value, self.label(key), self.where, line=self.line(key))

    def number(self, key: str, *, required: bool = False) -> float | None:
        """Property ``key`` as a number (a number, or its text as CloudFormation allows)."""
        value = self.get(key)
        if value is None:
            if required:
                raise self.missing(key)
            return None
        if isinstance(value, bool) or not (
            isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value))
        ):
            raise self.error(key, f"must be a number, found {type_name(value)}")
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise self.error(key, f"must be a finite number, found {getattr(value, 'text', value)}")
        return number

    def integer(self, key: str, *, required: bool = False, minimum: int = 1) -> int | None:
        """Property ``key`` as an integer of at least ``minimum``."""
        value = self.get(key)
        if value is None:
            if required:
                raise self.missing(key)
            return None
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int) or (isinstance(value, str) and _INTEGER.fullmatch(value)):
            number = int(value)
        elif isinstance(value, float) and value.is_integer():
            number = int(value)  # 300.0
        if number is None:
            raise self.error(key, f"must be an integer, found {type_name(value)}")
        if number < minimum:
            raise self.error(key, f"must be at least {minimum}, found {number}")
        return number

    def boolean(self, key: str) -> bool | None:
        """Property ``key`` as a boolean (``true``/``false``, or their text)."""
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.error(key, f"must be true or false, found {type_name(value)}")

    def choice(
        self, key: str, choices: tuple[str, ...], *, required: bool = False, shown: str | None = None
    ) -> str | None:
        """Property ``key``, one of ``choices`` (case-sensitive, as CloudWatch reads it);
        ``shown`` describes the choices in messages when they are too many to list."""
        text = self.text(key, required=required)
        if text is None or text in choices:
            return text
        raise self.error(
            key,
            f"must be {shown or 'one of ' + ', '.join(choices)}, found {text!r}",
            hint=did_you_mean(text, choices),
        )


# ---------------------------------------------------------------------------------------------
# Names


def check_log_group_name(name: str, props: Props, key: str = "LogGroupName") -> str:
    """CloudWatch Logs' constraint on log group names: 1 to 512 of letters, digits, ``.``,
    ``-``, ``_``, ``/``, ``#``.

    Example:
        >>> check_log_group_name("CloudTrail/logs", Props(LineDict(1), Where("f.yaml")))
        'CloudTrail/logs'
    """
    if not 1 <= len(name) <= 512 or not _LOG_GROUP.fullmatch(name):
        hint = None
        if name.startswith("arn:"):
            hint = "give the log group's name, not its ARN (arn:aws:logs:<region>:<account>:log-group:<name>:*)"
        elif ":" in name or " " in name:
            hint = "a trail's CloudWatchLogsLogGroupArn ends with log-group:<name>:*; give only <name>"
        raise props.error(
            key,
            f"{name!r} is not a log group name: 1 to 512 characters among letters, digits, '.', '-', '_', '/' and '#'",
            hint=hint,
        )
    return name


def _metric_name(text: str, props: Props, key: str, what: str) -> str:
    if not 1 <= len(text) <= 255:
        raise props.error(key, f"must be 1 to 255 characters, found {len(text)}")
    bad = _METRIC_NAME_FORBIDDEN.search(text)
    if bad:
        raise props.error(
            key,
            f"{text!r} is not a valid {what}: it may not contain ':', '*' or '$' (found {bad.group()!r})",
        )
    return text


# ---------------------------------------------------------------------------------------------
# Filter patterns


def check_filter_pattern(
    pattern: str,
    where: Where,
    *,
    line: int | None,
    filter_name: str,
    label: str = "FilterPattern",
    block_line: int | None = None,
) -> None:
    """Checks ``pattern`` as ``PutMetricFilter`` would: at most 1,024 characters, and compiled by
    the engine that will match it.

    ``block_line`` is the file line of the pattern text's first line when the text is a YAML
    block scalar (``FilterPattern: !Sub |``), so that an error inside the text names its own
    line.

    Raises:
        RulesError: the pattern is too long or invalid; ``position`` is the 0-based character
            position of the problem in the pattern, ``reason`` the engine's message (what is
            wrong, without the position), ``hint`` the engine's hint.

    Example:
        >>> check_filter_pattern('{ $.eventName = "CreateBucket" }', Where("f.yaml"), line=3, filter_name="f")
        >>> try:
        ...     check_filter_pattern("x" * 1025, Where("f.yaml"), line=3, filter_name="f")
        ... except RulesError as e:
        ...     print(e.message)
        FilterPattern of metric filter 'f' has 1025 characters; CloudWatch Logs allows at most 1024
    """
    if len(pattern) > MAX_FILTER_PATTERN_LENGTH:
        raise where.error(
            f"{label} of metric filter {filter_name!r} has {len(pattern)} characters; "
            f"CloudWatch Logs allows at most {MAX_FILTER_PATTERN_LENGTH}",
            line=line,
            hint="split the alternatives over several metric filters that publish the same metric",
        )
    try:
        compile_filter_pattern(pattern)
    except ValueError as e:
        # The engine's message says "at character <0-based position>"; only the line of a
        # multi-line text (a YAML block scalar) is added here.
        position = getattr(e, "position", None)
        where_in = ""
        error_line = line
        if isinstance(position, int) and 0 <= position <= len(pattern):
            pattern_line = pattern[:position].count("\n") + 1
            if "\n" in pattern.rstrip("\n"):
                where_in = f" (line {pattern_line} of the pattern text)"
            if block_line is not None:
                error_line = block_line + pattern_line - 1
        else:
            position = None
        hint = getattr(e, "hint", None)
        near_variable = isinstance(position, int) and any(
            0 <= position - m.start() <= 2 for m in re.finditer(r"\$\{", pattern)
        )
        if (hint is None or near_variable) and "${" in pattern:
            hint = "a ${...} left in the pattern text is matched literally; inside !Sub it must name a parameter"
        raise where.error(
            f"{label} of metric filter {filter_name!r} is not valid{where_in}: {e}",
            line=error_line,
            hint=hint if isinstance(hint, str) else None,
            reason=str(getattr(e, "message", e)),
            position=position,
        ) from e


# ---------------------------------------------------------------------------------------------
# Metric filters


def single_transformation(props: Props, key: str = "MetricTransformations") -> LineDict:
    """The one metric transformation of a metric filter (``PutMetricFilter`` takes exactly one).

    Example:
        >>> node = LineDict(1)
        >>> node["MetricTransformations"] = [LineDict(2), LineDict(5)]
        >>> try:
        ...     single_transformation(Props(node, Where("f.yaml", 1, "F")))
        ... except RulesError as e:
        ...     print(e.message)
        MetricTransformations must hold exactly one metric transformation, found 2
    """
    value = props.get(key)
    if value is None:
        raise props.missing(key, hint="one transformation: {MetricName, MetricNamespace, MetricValue}")
    if not isinstance(value, list):
        raise props.error(key, f"must be a list of one metric transformation, found {type_name(value)}")
    if len(value) != 1:
        raise props.error(
            key,
            f"must hold exactly one metric transformation, found {len(value)}",
            hint="to publish several metrics from one pattern, write one metric filter per metric",
        )
    item = value[0]
    if not isinstance(item, dict):
        raise props.error(key, f"must hold a mapping, found {type_name(item)}")
    if isinstance(item, LineDict):
        return item
    out = LineDict(value.line_of(0) if isinstance(value, LineList) else props.line(key))
    out.update(item)
    return out


def _dimensions(
    props: Props,
    key: str,
    *,
    pair_keys: tuple[str, str] | None,
    limit: int,
    value_limit: int,
) -> dict[str, str]:
    """Dimensions written as a list of pairs (``[{Name, Value}]``) or, if ``pair_keys`` is
    ``None``, as a mapping."""
    value = props.get(key)
    if value is None:
        return {}
    pairs: list[tuple[Any, Any, int | None]] = []
    if pair_keys is None:
        if not isinstance(value, dict):
            raise props.error(key, f"must be a mapping of dimension name to value, found {type_name(value)}")
        for name, v in value.items():
            pairs.append((name, v, value.line_of(name) if isinstance(value, LineDict) else props.line(key)))
    else:
        first, second = pair_keys
        if not isinstance(value, list):
            raise props.error(key, f"must be a list of {{{first}, {second}}}, found {type_name(value)}")
        for i, item in enumerate(value):
            item_line = value.line_of(i) if isinstance(value, LineList) else props.line(key)
            if not isinstance(item, dict) or first not in item or second not in item:
                raise props.error(
                    key, f"must be {{{first}: ..., {second}: ...}}, found {type_name(item)}", index=i, line=item_line
                )
            extra = [k for k in item if k not in pair_keys]
            if extra:
                raise props.error(
                    key,
                    f"has unknown key {extra[0]!r}",
                    index=i,
                    line=item_line,
                    hint=did_you_mean(str(extra[0]), pair_keys) or f"a dimension is {{{first}, {second}}}",
                )
            pairs.append((item[first], item[second], item_line))
    if len(pairs) > limit:
        raise props.error(key, f"may hold at most {limit} dimensions, found {len(pairs)}")
    out: dict[str, str] = {}
    for name, v, line in pairs:
        where = props.where.at(line)
        name_text = text_of(name, f"a dimension name of {props.label(key)}", where)
        value_text = text_of(v, f"the value of dimension {name_text!r}", where)
        if not 1 <= len(name_text) <= 255:
            raise props.error(key, f"dimension name {name_text!r} must be 1 to 255 characters", line=line)
        if not 1 <= len(value_text) <= value_limit:
            raise props.error(key, f"value of dimension {name_text!r} must be 1 to {value_limit} characters", line=line)
        if name_text in out:
            raise props.error(key, f"has dimension {name_text!r} twice", line=line)
        out[name_text] = value_text
    return out


def build_metric_filter(
    props: Props,
    transformation: Props,
    *,
    name: str,
    region: str,
    account: str,
    log_group: str | None = None,
    block_line: int | None = None,
    mapping_dimensions: bool = False,
) -> model.MetricFilter:
    """A :class:`trailmatch.model.MetricFilter` from its properties (``FilterPattern``,
    ``LogGroupName``) and its one transformation's (``MetricName``, ``MetricNamespace``,
    ``MetricValue``, ``DefaultValue``, ``Dimensions``, ``Unit``), with the checks
    ``PutMetricFilter`` makes and the filter pattern compiled.

    ``log_group`` is used when ``props`` has no ``LogGroupName``. Dimensions are
    ``[{Key, Value}]`` (CloudFormation), or a mapping if ``mapping_dimensions``.

    Raises:
        RulesError: a property is missing or would be refused by CloudWatch Logs.

    Example:
        >>> from trailmatch.rules.positions import load_yaml_documents
        >>> docs, _ = load_yaml_documents('''
        ... FilterPattern: '{ ($.eventName = "CreateBucket") }'
        ... LogGroupName: aws-cloudtrail-logs-tutorial
        ... MetricTransformations:
        ...   - {MetricName: CreateBucketCount, MetricNamespace: S3Events, MetricValue: "1",
        ...      DefaultValue: 0, Unit: Count}
        ... ''', "f.yaml")
        >>> props = Props(docs[0], Where("f.yaml", 2, "Filter"))
        >>> t = Props(single_transformation(props), props.where)
        >>> f = build_metric_filter(props, t, name="create-bucket", region="ap-northeast-1", account="1")
        >>> f.log_group, f.transformation.metric_value, f.transformation.default_value, f.transformation.unit
        ('aws-cloudtrail-logs-tutorial', '1', 0.0, 'Count')
    """
    where = props.where
    if not 1 <= len(name) <= 512:
        raise props.error("FilterName", f"must be 1 to 512 characters, found {len(name)}")
    bad = _FILTER_NAME_FORBIDDEN.search(name)
    if bad:
        raise props.error("FilterName", f"{name!r} may not contain ':' or '*' (found {bad.group()!r})")
    pattern = props.text(
        "FilterPattern",
        required=True,
        hint="e.g. { ($.eventName = \"CreateBucket\") }; an empty pattern '' matches every log event",
    )
    assert pattern is not None
    group = props.text("LogGroupName")
    if group is None:
        if log_group is None:
            raise props.missing(
                "LogGroupName", hint=f"the log group CloudTrail delivers to, e.g. {default_log_group(account)}"
            )
        group = log_group
    check_log_group_name(group, props)
    check_filter_pattern(
        pattern,
        where,
        line=props.line("FilterPattern"),
        filter_name=name,
        label=props.label("FilterPattern"),
        block_line=block_line,
    )
    t = transformation
    metric_name = _metric_name(t.text("MetricName", required=True) or "", t, "MetricName", "metric name")
    namespace = _metric_name(t.text("MetricNamespace", required=True) or "", t, "MetricNamespace", "metric namespace")
    value = t.text("MetricValue", required=True, hint='"1" counts matching events') or ""
    if not 1 <= len(value) <= 100:
        raise t.error("MetricValue", f"must be 1 to 100 characters, found {len(value)}")
    if not value.startswith("$") and not _NUMBER.fullmatch(value):
        raise t.error(
            "MetricValue",
            f'must be a number ("1"), a JSON selector ("$.bytes") or a space-delimited field ("$size"), '
            f"found {value!r}",
            hint='"1" counts matching events' if value.strip() else None,
        )
    default = t.number("DefaultValue")
    dimensions = _dimensions(
        t,
        "Dimensions",
        pair_keys=None if mapping_dimensions else ("Key", "Value"),
        limit=MAX_FILTER_DIMENSIONS,
        value_limit=255,
    )
    if dimensions and default is not None:
        raise t.error(
            "DefaultValue",
            "cannot be combined with dimensions",
            hint="CloudWatch Logs refuses a metric transformation with both; drop one of them",
        )
    unit = t.choice("Unit", UNITS, shown=_UNITS_SHOWN) or "None"
    return model.MetricFilter(
        name=name,
        log_group=group,
        region=region,
        account=account,
        filter_pattern=pattern,
        transformation=model.MetricTransformation(
            metric_name=metric_name,
            metric_namespace=namespace,
            metric_value=value,
            default_value=default,
            dimensions=dimensions,
            unit=unit,
        ),
        location=where.location(),
    )


# ---------------------------------------------------------------------------------------------
# Alarms


def alarm_unsupported(props: Props) -> str | None:
    """Why trailmatch does not simulate this alarm (metric math, anomaly detection, a
    percentile statistic), or ``None`` if it does.

    Raises:
        RulesError: both ``Statistic`` and ``ExtendedStatistic`` are given (CloudWatch refuses
            that).

    Example:
        >>> node = LineDict(1)
        >>> node["ExtendedStatistic"] = "p99"
        >>> alarm_unsupported(Props(node, Where("f.yaml")))
        'its statistic is the percentile ExtendedStatistic p99, which trailmatch does not simulate'
    """
    if props.get("Metrics") is not None:
        metrics = props.label("Metrics")
        return f"it is a metric math or multi-metric alarm ({metrics}), which trailmatch does not simulate"
    if props.get("ThresholdMetricId") is not None:
        return "it is an anomaly detection alarm (ThresholdMetricId), which trailmatch does not simulate"
    operator = props.text("ComparisonOperator")
    if operator in ANOMALY_OPERATORS:
        return f"its operator {operator} compares with an anomaly detection band, which trailmatch does not simulate"
    extended = props.text("ExtendedStatistic")
    if extended is not None:
        if props.get("Statistic") is not None:
            raise props.error(
                "ExtendedStatistic",
                f"cannot be given together with {props.label('Statistic')}",
                hint="an alarm has either a Statistic or an ExtendedStatistic",
            )
        return f"its statistic is the percentile ExtendedStatistic {extended}, which trailmatch does not simulate"
    return None


def _period(props: Props) -> int:
    # The schema says optional (metric math alarms have none); an alarm on one metric needs it.
    period = props.integer("Period", required=True, minimum=1)
    assert period is not None
    if period not in (10, 20, 30) and period % 60:
        below = max([p for p in (10, 20, 30, 60 * (period // 60)) if 0 < p < period], default=None)
        above = min(p for p in (10, 20, 30, 60 * (period // 60 + 1)) if p > period)
        near = f"{below} or {above}" if below else str(above)
        raise props.error(
            "Period",
            f"must be 10, 20, 30 or a multiple of 60 seconds, found {period}",
            hint=f"did you mean {near}?",
        )
    return period


def _actions(props: Props, key: str) -> tuple[str, ...]:
    value = props.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise props.error(key, f"must be a list of ARNs, found {type_name(value)}")
    if len(value) > MAX_ALARM_ACTIONS:
        raise props.error(key, f"may hold at most {MAX_ALARM_ACTIONS} ARNs, found {len(value)}")
    out = []
    for i, item in enumerate(value):
        line = value.line_of(i) if isinstance(value, LineList) else props.line(key)
        where = props.where.at(line)
        if isinstance(item, (dict, list)) or item is None:
            raise props.error(key, f"must be an ARN, found {type_name(item)}", index=i, line=line)
        arn = text_of(item, f"{props.label(key)}[{i}]", where)
        if not 1 <= len(arn) <= 1024 or not _ARN.fullmatch(arn):
            raise props.error(
                key,
                f"{arn!r} is not an ARN",
                index=i,
                line=line,
                hint="alarm actions are ARNs: an SNS topic (arn:aws:sns:<region>:<account>:<name>; in a template, "
                "!Ref of the topic gives it), a Lambda function, or an EC2/Systems Manager action",
            )
        out.append(arn)
    return tuple(out)


def build_alarm(
    props: Props,
    *,
    name: str,
    region: str,
    account: str,
    mapping_dimensions: bool = False,
) -> model.Alarm:
    """A :class:`trailmatch.model.Alarm` from its properties (the ``AWS::CloudWatch::Alarm``
    names), with the checks ``PutMetricAlarm`` makes: names and lengths, ``Statistic``,
    ``ComparisonOperator``, ``TreatMissingData`` and ``Unit`` values, ``Period`` of 10, 20, 30
    or a multiple of 60 seconds, ``Period * EvaluationPeriods`` at most one day (seven days
    when ``Period`` is an hour or more), ``1 ≤ DatapointsToAlarm ≤ EvaluationPeriods``, at most 5
    ARNs per action list. Call :func:`alarm_unsupported` first.

    Dimensions are ``[{Name, Value}]``, or a mapping if ``mapping_dimensions``.

    Raises:
        RulesError: a property is missing or would be refused by CloudWatch.

    Example:
        >>> node = LineDict(1)
        >>> node.update(MetricName="m", Namespace="n", Statistic="Sum", Period=300, EvaluationPeriods=3,
        ...             DatapointsToAlarm=4, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        >>> try:
        ...     build_alarm(Props(node, Where("f.yaml", 1, "A")), name="a", region="us-east-1", account="1")
        ... except RulesError as e:
        ...     print(e.message)
        DatapointsToAlarm must be from 1 to EvaluationPeriods (3), found 4
    """
    if not 1 <= len(name) <= 255:
        raise props.error("AlarmName", f"must be 1 to 255 characters, found {len(name)}")
    description = props.text("AlarmDescription") or ""
    if len(description) > 1024:
        raise props.error("AlarmDescription", f"must be at most 1024 characters, found {len(description)}")
    metric_hint = "the metric a metric filter publishes: its MetricTransformations' MetricName and MetricNamespace"
    metric_name = props.text("MetricName", required=True, hint=metric_hint) or ""
    if not 1 <= len(metric_name) <= 255:
        raise props.error("MetricName", f"must be 1 to 255 characters, found {len(metric_name)}")
    namespace = props.text("Namespace", required=True, hint=metric_hint) or ""
    if not 1 <= len(namespace) <= 255 or namespace.startswith(":"):
        raise props.error("Namespace", "must be 1 to 255 characters, not starting with ':'")
    statistic_text = props.text("Statistic")
    if statistic_text is None:
        raise props.missing(
            "Statistic", hint=f"one of {', '.join(STATISTICS)} (metric filter alarms usually count with Sum)"
        )
    if statistic_text not in STATISTICS:
        hint = did_you_mean(statistic_text, STATISTICS)
        if hint is None and _PERCENTILE.fullmatch(statistic_text):
            hint = "percentiles are an ExtendedStatistic, which trailmatch does not simulate"
        raise props.error("Statistic", f"must be one of {', '.join(STATISTICS)}, found {statistic_text!r}", hint=hint)
    period = _period(props)
    evaluation_periods = props.integer("EvaluationPeriods", required=True, minimum=1)
    assert evaluation_periods is not None
    limit = 86_400 if period < 3_600 else 604_800
    if period * evaluation_periods > limit:
        raise props.error(
            "EvaluationPeriods",
            f"is too large: {evaluation_periods} periods of {period} seconds make {period * evaluation_periods:,}; "
            f"CloudWatch allows at most {limit:,} seconds "
            f"({'one day when the period is under an hour' if limit == 86_400 else 'seven days'})",
        )
    datapoints = props.integer("DatapointsToAlarm", minimum=1)
    if datapoints is not None and datapoints > evaluation_periods:
        raise props.error(
            "DatapointsToAlarm",
            f"must be from 1 to {props.label('EvaluationPeriods')} ({evaluation_periods}), found {datapoints}",
            hint="M out of N: DatapointsToAlarm (M) breaching datapoints among the last EvaluationPeriods (N)",
        )
    threshold = props.number("Threshold")
    if threshold is None:
        raise props.missing("Threshold", hint="the value each datapoint is compared with")
    operator = props.choice("ComparisonOperator", COMPARISON_OPERATORS, required=True)
    assert operator is not None
    treat_missing = props.choice("TreatMissingData", TREAT_MISSING_DATA) or "missing"
    dimensions = _dimensions(
        props,
        "Dimensions",
        pair_keys=None if mapping_dimensions else ("Name", "Value"),
        limit=MAX_ALARM_DIMENSIONS,
        value_limit=1024,
    )
    unit = props.choice("Unit", UNITS, shown=_UNITS_SHOWN)
    enabled = props.boolean("ActionsEnabled")
    actions = {key: _actions(props, key) for key in ACTION_KEYS}
    return model.Alarm(
        name=name,
        region=region,
        account=account,
        metric_name=metric_name,
        namespace=namespace,
        statistic=statistic_text,
        period=period,
        evaluation_periods=evaluation_periods,
        threshold=threshold,
        comparison_operator=operator,
        datapoints_to_alarm=datapoints,
        treat_missing_data=treat_missing,
        dimensions=dimensions,
        unit=unit,
        actions_enabled=True if enabled is None else enabled,
        alarm_actions=actions["AlarmActions"],
        ok_actions=actions["OKActions"],
        insufficient_data_actions=actions["InsufficientDataActions"],
        description=description,
        location=props.where.location(),
    )


def canonical(node: LineDict, table: Mapping[str, str], *, prefix: str = "") -> tuple[LineDict, dict[str, str]]:
    """``node`` with its keys renamed to CloudFormation names by ``table`` (file key →
    CloudFormation name; other keys dropped), and the label of each property of ``table``
    (``prefix`` and its key in the file).

    Example:
        >>> node = LineDict(1)
        >>> node.update(metricName="m", creationTime=1)
        >>> canonical(node, {"metricName": "MetricName", "unit": "Unit"})
        ({'MetricName': 'm'}, {'MetricName': 'metricName', 'Unit': 'unit'})
    """
    out = LineDict(node.line)
    labels = {cfn: prefix + key for key, cfn in table.items()}
    for key, value in node.items():
        if key in table:
            out[table[key]] = value
            line = node.key_lines.get(key)
            if line is not None:
                out.key_lines[table[key]] = line
    return out, labels
