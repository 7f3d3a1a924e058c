"""CloudWatch metric alarms, simulated on event time: evaluation, state transitions, actions.

This module owns the alarm state machine of ``PutMetricAlarm`` alarms over the metrics of
:class:`~trailmatch.metrics.MetricStore`: datapoints per period, the evaluation of the last
``EvaluationPeriods`` (N) of them with ``DatapointsToAlarm`` (M), missing data, state
transitions worded like CloudWatch's ``StateReason`` / ``StateReasonData``, and the notification
CloudWatch publishes to each action of the new state. Delivering a notification is the
dispatcher's job (:class:`ActionDelivery` hands it over); matching and publishing metrics is
:mod:`trailmatch.metrics`'.

**The clock is event time.** There is no wall clock: the replay's "now" is the latest log event
time read (:attr:`MetricStore.last_event <trailmatch.metrics.MetricStore.last_event>`), and the
alarm is evaluated at every minute boundary (every 10 s when ``Period`` < 60 s) between its
creation and the end of the data. ``docs/ALARMS.md`` describes every rule and decision; in
short:

* at evaluation time ``t``, period ``k`` (0 = most recent) is ``[t - (k+1)·Period, t - k·Period)``;
  its datapoint is the statistic of the samples in it, *missing* when there are none;
* the evaluation range is the last N + 2 periods (``evaluation_range``);
* with ≥ N real datapoints in the range, the most recent N real ones are evaluated; with fewer,
  ``breaching`` / ``notBreaching`` fill as few missing ones as needed to make N, ``missing`` /
  ``ignore`` evaluate the real ones alone (and the premature-alarm rule applies); with none,
  ``missing`` → ``INSUFFICIENT_DATA``, ``ignore`` keeps the state, ``breaching`` → ``ALARM``,
  ``notBreaching`` → ``OK``;
* ``ALARM`` when at least M evaluated datapoints breach, else ``OK`` — except (*decision*) when
  fewer than N real datapoints, all breaching, neither reach M nor satisfy the premature rule:
  then the state is kept.

Example:
    >>> decide([0.0, None, 1.0, None, 1.0], n=3, m=3, threshold=0.0, comparison="GreaterThanThreshold",
    ...        treat_missing="missing").state
    'OK'
    >>> decide([None, None, 1.0, None, None], n=3, m=3, threshold=0.0, comparison="GreaterThanThreshold",
    ...        treat_missing="missing").state              # the premature-alarm rule
    'ALARM'
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote

from trailmatch.metrics import STATISTICS, MetricKey, MetricStore, event_time
from trailmatch.model import Alarm, Location
from trailmatch.state import StateStore

if TYPE_CHECKING:
    from trailmatch.dispatch import Dispatcher, Outcome

__all__ = [
    "ALARM",
    "COMPARISON_OPERATORS",
    "INSUFFICIENT_DATA",
    "OK",
    "REGION_NAMES",
    "STATES",
    "TREAT_MISSING_DATA",
    "ActionDelivery",
    "AlarmAction",
    "AlarmNotification",
    "AlarmRecord",
    "AlarmReport",
    "AlarmSimulator",
    "Decision",
    "PeriodValue",
    "Transition",
    "alarm_email",
    "alarm_from_dict",
    "alarm_message",
    "alarm_notification",
    "alarm_subject",
    "alarm_to_dict",
    "aws_time",
    "breaches",
    "decide",
    "java_double",
    "load_records",
    "region_name",
    "save_records",
    "state_reason",
]

OK: Final = "OK"
ALARM: Final = "ALARM"
INSUFFICIENT_DATA: Final = "INSUFFICIENT_DATA"
#: The alarm states.
STATES: Final = (OK, ALARM, INSUFFICIENT_DATA)

#: ComparisonOperator → (test, the words of ``StateReason``).
COMPARISON_OPERATORS: Final[dict[str, tuple[Callable[[float, float], bool], str]]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}

#: TreatMissingData values.
TREAT_MISSING_DATA: Final = ("missing", "notBreaching", "breaching", "ignore")

#: The reason of a new alarm's ``INSUFFICIENT_DATA`` (CloudWatch's wording).
INITIAL_REASON: Final = "Unchecked: Initial alarm creation"

#: Region names as CloudWatch writes them in notifications (``Region``, e-mail subject); EU
#: regions are "EU (...)" there, as observed in CloudWatch's messages. Unknown codes stay codes.
REGION_NAMES: Final[dict[str, str]] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-east-2": "Asia Pacific (Taipei)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-southeast-5": "Asia Pacific (Malaysia)",
    "ap-southeast-7": "Asia Pacific (Thailand)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "eu-north-1": "EU (Stockholm)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "mx-central-1": "Mexico (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
    "cn-north-1": "China (Beijing)",
    "cn-northwest-1": "China (Ningxia)",
}

#: State file namespace of the alarm records.
_NS_ALARMS: Final = "alarms"
#: Datapoints listed in a ``StateReason`` without ``DatapointsToAlarm`` (more: "The most recent ...").
_REASON_LIST_LIMIT: Final = 5
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# --- formatting -----------------------------------------------------------------------------


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` writes it (CloudWatch's messages are Java's).

    Example:
        >>> [java_double(v) for v in (0.0, 1.0, 0.0983375, 45628.0, 12345678.0, 0.0001, -2.5)]
        ['0.0', '1.0', '0.0983375', '45628.0', '1.2345678E7', '1.0E-4', '-2.5']
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def aws_time(when: datetime) -> str:
    """``when`` as CloudWatch writes times in alarm messages (``2019-10-02T17:04:40.989+0000``).

    Example:
        >>> aws_time(datetime(2023, 12, 21, 11, 36, tzinfo=timezone.utc))
        '2023-12-21T11:36:00.000+0000'
    """
    utc = when.astimezone(timezone.utc) if when.tzinfo else when
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _reason_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _email_time(when: datetime) -> str:
    utc = when.astimezone(timezone.utc)
    return f"{_WEEKDAYS[utc.weekday()]} {utc.day:02d} {_MONTHS[utc.month - 1]}, {utc.year} {utc:%H:%M:%S} UTC"


def region_name(region: str) -> str:
    """The name CloudWatch gives ``region`` in notifications.

    Example:
        >>> region_name("ap-northeast-1"), region_name("eu-west-2"), region_name("xx-test-1")
        ('Asia Pacific (Tokyo)', 'EU (London)', 'xx-test-1')
    """
    return REGION_NAMES.get(region, region)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


# --- the decision -------------------------------------------------------------------------------


def breaches(value: float, threshold: float, comparison: str) -> bool:
    """Whether ``value`` breaches: ``value <ComparisonOperator> threshold``.

    Example:
        >>> breaches(1.0, 0.0, "GreaterThanThreshold"), breaches(0.0, 0.0, "GreaterThanThreshold")
        (True, False)

    Raises:
        ValueError: an unknown (or anomaly-detection) operator.
    """
    try:
        test = COMPARISON_OPERATORS[comparison][0]
    except KeyError:
        known = ", ".join(COMPARISON_OPERATORS)
        raise ValueError(f"unknown ComparisonOperator {comparison!r} (known: {known})") from None
    return test(value, threshold)


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation over a range of datapoints (oldest first).

    Attributes:
        state: the new state; ``None`` to keep the current one (``ignore``).
        evaluated: indices (into the range) of the datapoints evaluated, oldest first; filled
            slots included.
        filled: the indices among ``evaluated`` that were missing and filled with the
            ``TreatMissingData`` value.
        to_fill: how many datapoints the range lacks to make N real ones (the tables' "# to
            fill" / "# missing" column): ``max(0, N - real)``.
        breaching: how many evaluated datapoints breach (filled ones included).
        premature: the state is ``ALARM`` (or kept, with ``ignore``) by the premature-alarm rule.
    """

    state: str | None
    evaluated: tuple[int, ...]
    filled: tuple[int, ...]
    to_fill: int
    breaching: int
    premature: bool = False


def decide(
    values: Sequence[float | None],
    *,
    n: int,
    m: int,
    threshold: float,
    comparison: str,
    treat_missing: str = "missing",
) -> Decision:
    """Evaluates a range of datapoints (oldest first, ``None`` = missing) as CloudWatch does.

    Args:
        values: the evaluation range, usually N + 2 datapoints.
        n: ``EvaluationPeriods``; m: ``DatapointsToAlarm``.

    Example:
        >>> X, O, _ = 1.0, 0.0, None
        >>> d = decide([O, _, _, _, _], n=3, m=3, threshold=0.0, comparison="GreaterThanThreshold",
        ...            treat_missing="breaching")
        >>> d.state, d.to_fill, d.evaluated, d.filled      # the 0 and two filled (breaching) slots
        ('OK', 2, (0, 3, 4), (3, 4))

    Raises:
        ValueError: an unknown ``comparison`` or ``treat_missing``, or not 1 ≤ m ≤ n.
    """
    if treat_missing not in TREAT_MISSING_DATA:
        raise ValueError(f"unknown TreatMissingData {treat_missing!r} (known: {', '.join(TREAT_MISSING_DATA)})")
    if not 1 <= m <= n:
        raise ValueError(f"DatapointsToAlarm must be from 1 to EvaluationPeriods ({n}), found {m}")
    size = len(values)
    present = {i: v for i, v in enumerate(values) if v is not None}
    real = sorted(present)
    hits = {i for i, v in present.items() if breaches(v, threshold, comparison)}
    to_fill = max(0, n - len(real))

    if not real:
        slots = tuple(range(max(0, size - n), size))
        if treat_missing == "missing":
            return Decision(INSUFFICIENT_DATA, slots, (), to_fill, 0)
        if treat_missing == "ignore":
            return Decision(None, slots, (), to_fill, 0)
        breaching = treat_missing == "breaching"
        return Decision(ALARM if breaching else OK, slots, slots, to_fill, len(slots) if breaching else 0)

    if len(real) >= n:
        evaluated = tuple(real[-n:])
        count = sum(1 for i in evaluated if i in hits)
        return Decision(ALARM if count >= m else OK, evaluated, (), 0, count)

    if treat_missing in ("breaching", "notBreaching"):
        # "as few times as possible": every real datapoint of the range, and the most recent
        # missing slots to make N
        missing = [i for i in range(size) if values[i] is None]
        filled = tuple(missing[-to_fill:]) if to_fill else ()
        evaluated = tuple(sorted((*real, *filled)))
        count = len([i for i in real if i in hits]) + (len(filled) if treat_missing == "breaching" else 0)
        return Decision(ALARM if count >= m else OK, evaluated, filled, to_fill, count)

    # missing / ignore: the real datapoints alone, and the premature-alarm rule: ALARM when the
    # oldest available datapoint breaches, is at least M periods old (and within the last N),
    # and every more recent datapoint breaches or is missing
    evaluated = tuple(real)
    count = len(hits)
    age = size - real[0]
    premature = count == len(real) and m <= age <= n
    if premature:
        return Decision(ALARM if treat_missing == "missing" else None, evaluated, (), to_fill, count, True)
    if count >= m:
        return Decision(ALARM, evaluated, (), to_fill, count)
    if count < len(real):
        return Decision(OK, evaluated, (), to_fill, count)
    # decision: only breaching datapoints, too few and too recent to alarm ("- - - - X" does
    # not alarm) — and nothing says OK either: the state is kept
    return Decision(None, evaluated, (), to_fill, count)


# --- what an evaluation says --------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodValue:
    """The datapoint of one period as an alarm sees it: ``timestamp`` is the period's start,
    ``value`` the statistic (``None`` = missing), ``sample_count`` the samples behind it."""

    timestamp: datetime
    value: float | None
    sample_count: int = 0


def _point_text(point: PeriodValue) -> str:
    assert point.value is not None
    return f"{java_double(point.value)} ({_reason_time(point.timestamp)})"


def state_reason(
    alarm: Alarm,
    values: Sequence[PeriodValue],
    decision: Decision,
    new_state: str,
    *,
    when: datetime,
) -> tuple[str, str]:
    """``(StateReason, StateReasonData)`` of a transition to ``new_state`` decided by ``decision``
    over ``values`` (the range, oldest first) at ``when``, worded as CloudWatch words them.

    Forms (see ``docs/ALARMS.md`` for the sources):

    * ``Insufficient Data: 3 datapoints were unknown.``
    * ``Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was
      treated as [NonBreaching].`` (filled datapoints)
    * with ``DatapointsToAlarm`` set: ``Threshold Crossed: 1 out of the last 1 datapoints [5.0
      (21/12/23 11:35:00)] was greater than the threshold (0.0) (minimum 1 datapoint for OK ->
      ALARM transition).``
    * without: ``Threshold Crossed: 1 datapoint [5.0 (21/12/23 11:35:00)] was greater than the
      threshold (0.0).`` — more than 5 datapoints: ``Threshold Crossed: 6 datapoints were ...
      the threshold (0.0). The most recent datapoints which crossed the threshold: [...]``.

    Example:
        >>> a = Alarm(name="bucket-created", region="ap-northeast-1", account="1", metric_name="CreateBucketCount",
        ...           namespace="CloudTrailMetrics", statistic="Sum", period=60, evaluation_periods=1,
        ...           threshold=0.0, comparison_operator="GreaterThanThreshold", datapoints_to_alarm=1)
        >>> t = datetime(2023, 12, 21, 11, 36, tzinfo=timezone.utc)
        >>> values = [PeriodValue(t - timedelta(minutes=k), v, 1 if v is not None else 0)
        ...           for k, v in ((3, None), (2, None), (1, 1.0))]
        >>> d = decide([p.value for p in values], n=1, m=1, threshold=0.0, comparison="GreaterThanThreshold")
        >>> reason, data = state_reason(a, values, d, "ALARM", when=t)
        >>> print(reason.replace("] ", "]\\n"))
        Threshold Crossed: 1 out of the last 1 datapoints [1.0 (21/12/23 11:35:00)]
        was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).
        >>> for name, value in json.loads(data).items():
        ...     print(f"{name}: {value}")
        version: 1.0
        queryDate: 2023-12-21T11:36:00.000+0000
        startDate: 2023-12-21T11:35:00.000+0000
        statistic: Sum
        period: 60
        recentDatapoints: [1.0]
        threshold: 0.0
        evaluatedDatapoints: [{'timestamp': '2023-12-21T11:35:00.000+0000', 'sampleCount': 1.0, 'value': 1.0}]
    """
    n = alarm.evaluation_periods
    threshold_text = java_double(alarm.threshold)
    evaluated = [values[i] for i in decision.evaluated]
    real = [
        p
        for i, p in zip(decision.evaluated, evaluated, strict=True)
        if i not in decision.filled and p.value is not None
    ]
    data: dict[str, Any] = {"version": "1.0", "queryDate": aws_time(when)}
    if real:
        data["startDate"] = aws_time(real[0].timestamp)
    if alarm.unit:
        data["unit"] = alarm.unit
    data.update(statistic=alarm.statistic, period=alarm.period)
    data["recentDatapoints"] = [p.value for p in real]
    data["threshold"] = alarm.threshold

    def entry(point: PeriodValue) -> dict[str, Any]:
        if point.value is None:
            return {"timestamp": aws_time(point.timestamp)}
        return {"timestamp": aws_time(point.timestamp), "sampleCount": float(point.sample_count), "value": point.value}

    if new_state == INSUFFICIENT_DATA:
        data["evaluatedDatapoints"] = [entry(p) for p in reversed(evaluated)]
        count = len(evaluated) or n
        reason = f"Insufficient Data: {_plural(count, 'datapoint')} {_was(count)} unknown."
        return reason, _json(data)

    if decision.filled:
        data["evaluatedDatapoints"] = [
            {"timestamp": aws_time(p.timestamp)} if i in decision.filled else entry(p)
            for i, p in reversed(list(zip(decision.evaluated, evaluated, strict=True)))
        ]
        received = len(real)
        filled = len(decision.filled)
        got = "no datapoints were" if received == 0 else f"{_plural(received, 'datapoint')} {_was(received)}"
        kind = "Breaching" if alarm.treat_missing_data == "breaching" else "NonBreaching"
        reason = (
            f"Threshold Crossed: {got} received for {_plural(len(evaluated), 'period')} and "
            f"{_plural(filled, 'missing datapoint')} {_was(filled)} treated as [{kind}]."
        )
        return reason, _json(data)

    to_alarm = new_state == ALARM
    counted = [
        p
        for p in real
        if p.value is not None and breaches(p.value, alarm.threshold, alarm.comparison_operator) == to_alarm
    ]
    newest_first = list(reversed(counted))
    data["evaluatedDatapoints"] = [entry(p) for p in newest_first]
    words = ("" if to_alarm else "not ") + COMPARISON_OPERATORS[alarm.comparison_operator][1]
    k = len(counted)
    if alarm.datapoints_to_alarm is not None:
        minimum = alarm.m if to_alarm else n - alarm.m + 1
        change = "OK -> ALARM" if to_alarm else "ALARM -> OK"
        listed = ", ".join(_point_text(p) for p in newest_first)
        reason = (
            f"Threshold Crossed: {k} out of the last {len(real)} datapoints [{listed}] {_was(k)} {words} "
            f"the threshold ({threshold_text}) (minimum {_plural(minimum, 'datapoint')} for {change} transition)."
        )
    elif k <= _REASON_LIST_LIMIT:
        listed = ", ".join(_point_text(p) for p in newest_first)
        reason = (
            f"Threshold Crossed: {_plural(k, 'datapoint')} [{listed}] {_was(k)} {words} "
            f"the threshold ({threshold_text})."
        )
    else:
        listed = ", ".join(_point_text(p) for p in newest_first[:_REASON_LIST_LIMIT])
        reason = (
            f"Threshold Crossed: {k} datapoints were {words} the threshold ({threshold_text}). "
            f"The most recent datapoints which crossed the threshold: [{listed}]."
        )
    return reason, _json(data)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- transitions and records ----------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """A state change of an alarm at ``time`` (event time; a minute boundary).

    ``tentative``: it happened after the end of the replayed data (the *tail*, see
    :class:`AlarmSimulator`), assuming no more data came; a later run may not confirm it.

    Example:
        >>> t = Transition("arn:aws:cloudwatch:us-east-1:1:alarm:a", "a", datetime(2024, 1, 1, tzinfo=timezone.utc),
        ...                "INSUFFICIENT_DATA", "ALARM", "Threshold Crossed: ...", "{}")
        >>> Transition.from_dict(t.to_dict()) == t
        True
    """

    alarm_arn: str
    alarm_name: str
    time: datetime
    old_state: str
    new_state: str
    reason: str
    reason_data: str
    tentative: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready ``dict`` (times as ``...+0000``)."""
        return {
            "alarm_arn": self.alarm_arn,
            "alarm_name": self.alarm_name,
            "time": aws_time(self.time),
            "old_state": self.old_state,
            "new_state": self.new_state,
            "reason": self.reason,
            "reason_data": self.reason_data,
            "tentative": self.tentative,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transition:
        """The inverse of :meth:`to_dict`."""
        return cls(
            alarm_arn=str(data["alarm_arn"]),
            alarm_name=str(data["alarm_name"]),
            time=_parse_aws_time(str(data["time"])),
            old_state=str(data["old_state"]),
            new_state=str(data["new_state"]),
            reason=str(data["reason"]),
            reason_data=str(data["reason_data"]),
            tentative=bool(data.get("tentative", False)),
        )


def _parse_aws_time(text: str) -> datetime:
    if text.endswith("+0000"):
        text = text[:-5] + "+00:00"
    return event_time(text)


def alarm_to_dict(alarm: Alarm) -> dict[str, Any]:
    """``alarm`` as a JSON-ready ``dict`` (its definition, as the state file keeps it).

    Example:
        >>> a = Alarm(name="a", region="us-east-1", account="1", metric_name="M", namespace="N", statistic="Sum",
        ...           period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold",
        ...           alarm_actions=("arn:aws:sns:us-east-1:1:t",))
        >>> alarm_from_dict(alarm_to_dict(a)) == a
        True
    """
    data = dataclasses.asdict(alarm)
    location = alarm.location
    data["location"] = (
        None if location is None else {"file": location.file, "line": location.line, "name": location.name}
    )
    for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
        data[key] = list(data[key])
    return data


def alarm_from_dict(data: Mapping[str, Any]) -> Alarm:
    """The inverse of :func:`alarm_to_dict`."""
    fields = dict(data)
    location = fields.pop("location", None)
    for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
        fields[key] = tuple(fields.get(key) or ())
    fields["dimensions"] = dict(fields.get("dimensions") or {})
    return Alarm(**fields, location=Location(**location) if location else None)


@dataclass
class AlarmRecord:
    """What the state file keeps of one alarm: its definition, state and history.

    Attributes:
        alarm: the definition (the latest one seen).
        created: when the simulation created the alarm (event time).
        configuration_updated: ``AlarmConfigurationUpdatedTimestamp`` (creation, or the first
            evaluation after the definition changed).
        state, reason, reason_data, state_updated: the current state.
        last_evaluated: the last committed evaluation time (``None``: never evaluated).
        history: every committed transition, oldest first.
        tail: the tentative transitions of the last run (after the end of its data).
    """

    alarm: Alarm
    created: datetime
    configuration_updated: datetime
    state: str = INSUFFICIENT_DATA
    reason: str = INITIAL_REASON
    reason_data: str | None = None
    state_updated: datetime | None = None
    last_evaluated: datetime | None = None
    history: list[Transition] = field(default_factory=list)
    tail: list[Transition] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready ``dict``."""
        return {
            "alarm": alarm_to_dict(self.alarm),
            "created": aws_time(self.created),
            "configuration_updated": aws_time(self.configuration_updated),
            "state": self.state,
            "reason": self.reason,
            "reason_data": self.reason_data,
            "state_updated": aws_time(self.state_updated or self.created),
            "last_evaluated": aws_time(self.last_evaluated) if self.last_evaluated else None,
            "history": [t.to_dict() for t in self.history],
            "tail": [t.to_dict() for t in self.tail],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlarmRecord:
        """The inverse of :meth:`to_dict`."""
        return cls(
            alarm=alarm_from_dict(data["alarm"]),
            created=_parse_aws_time(data["created"]),
            configuration_updated=_parse_aws_time(data["configuration_updated"]),
            state=str(data["state"]),
            reason=str(data["reason"]),
            reason_data=data.get("reason_data"),
            state_updated=_parse_aws_time(data["state_updated"]) if data.get("state_updated") else None,
            last_evaluated=_parse_aws_time(data["last_evaluated"]) if data.get("last_evaluated") else None,
            history=[Transition.from_dict(t) for t in data.get("history", [])],
            tail=[Transition.from_dict(t) for t in data.get("tail", [])],
        )

    @property
    def transitions(self) -> list[Transition]:
        """Committed then tentative transitions, in time order."""
        return [*self.history, *self.tail]


def load_records(state: StateStore) -> dict[str, AlarmRecord]:
    """Every alarm record of the state file, by alarm ARN.

    Example:
        >>> a = Alarm(name="a", region="us-east-1", account="1", metric_name="M", namespace="N", statistic="Sum",
        ...           period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold")
        >>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> with StateStore() as state:
        ...     save_records(state, [AlarmRecord(a, t0, t0, state="ALARM")])
        ...     load_records(state)[a.arn].state
        'ALARM'
    """
    return {arn: AlarmRecord.from_dict(data) for arn, data in state.items(_NS_ALARMS).items()}


def save_records(state: StateStore, records: Iterable[AlarmRecord]) -> None:
    """Writes alarm records into the state file (one transaction), replacing those of the same
    alarm ARN."""
    with state.transaction():
        for record in records:
            state.put(_NS_ALARMS, record.alarm.arn, record.to_dict())


# --- notifications ------------------------------------------------------------------------------


def alarm_subject(alarm: Alarm, new_state: str) -> str:
    """The subject CloudWatch gives the SNS notification of a state change (SNS allows 100
    characters: longer subjects are cut).

    Example:
        >>> a = Alarm(name="bucket-created", region="ap-northeast-1", account="1", metric_name="M", namespace="N",
        ...           statistic="Sum", period=60, evaluation_periods=1, threshold=0.0,
        ...           comparison_operator="GreaterThanThreshold")
        >>> alarm_subject(a, "ALARM")
        'ALARM: "bucket-created" in Asia Pacific (Tokyo)'
    """
    return f'{new_state}: "{alarm.name}" in {region_name(alarm.region)}'[:100]


def alarm_message(alarm: Alarm, transition: Transition, *, configuration_updated: datetime) -> dict[str, Any]:
    """The JSON message CloudWatch publishes to an SNS action, with its fields in its order.

    Example:
        >>> a = Alarm(name="bucket-created", region="ap-northeast-1", account="111122223333",
        ...           metric_name="CreateBucketCount", namespace="CloudTrailMetrics", statistic="Sum", period=60,
        ...           evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold",
        ...           alarm_actions=("arn:aws:sns:ap-northeast-1:111122223333:notify",))
        >>> when = datetime(2023, 12, 21, 11, 36, tzinfo=timezone.utc)
        >>> t = Transition(a.arn, a.name, when, "INSUFFICIENT_DATA", "ALARM", "Threshold Crossed: ...", "{}")
        >>> m = alarm_message(a, t, configuration_updated=when - timedelta(hours=1))
        >>> print(*m)
        AlarmName AlarmDescription AWSAccountId AlarmConfigurationUpdatedTimestamp NewStateValue NewStateReason ...
        >>> print(*m["Trigger"])
        MetricName Namespace StatisticType Statistic Unit Dimensions Period EvaluationPeriods DatapointsToAlarm ...
        >>> m["Region"], m["Trigger"]["Statistic"], m["Trigger"]["Unit"], m["StateChangeTime"]
        ('Asia Pacific (Tokyo)', 'SUM', None, '2023-12-21T11:36:00.000+0000')
    """
    statistic = "SAMPLE_COUNT" if alarm.statistic == "SampleCount" else alarm.statistic.upper()
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": alarm.account,
        "AlarmConfigurationUpdatedTimestamp": aws_time(configuration_updated),
        "NewStateValue": transition.new_state,
        "NewStateReason": transition.reason,
        "StateChangeTime": aws_time(transition.time),
        "Region": region_name(alarm.region),
        "AlarmArn": alarm.arn,
        "OldStateValue": transition.old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": statistic,
            "Unit": alarm.unit,
            "Dimensions": [{"value": v, "name": k} for k, v in alarm.dimensions.items()],
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.m,
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def alarm_email(alarm: Alarm, transition: Transition) -> str:
    """The text CloudWatch sends to an SNS topic's ``email`` subscriptions (SNS appends its
    unsubscribe footer).

    Example:
        >>> a = Alarm(name="bucket-created", region="ap-northeast-1", account="111122223333",
        ...           metric_name="CreateBucketCount", namespace="CloudTrailMetrics", statistic="Sum", period=60,
        ...           evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold",
        ...           alarm_actions=("arn:aws:sns:ap-northeast-1:111122223333:notify",))
        >>> t = Transition(a.arn, a.name, datetime(2023, 12, 21, 11, 36, tzinfo=timezone.utc), "INSUFFICIENT_DATA",
        ...                "ALARM", "Threshold Crossed: (...)", "{}")
        >>> print(alarm_email(a, t))
        You are receiving this email because your Amazon CloudWatch Alarm "bucket-created" in the Asia Pacific ...
        <BLANKLINE>
        View this alarm in the AWS Management Console:
        https://ap-northeast-1.console.aws.amazon.com/cloudwatch/deeplink.js?region=ap-northeast-1#alarmsV2:alarm/bucket-created
        <BLANKLINE>
        Alarm Details:
        - Name:                       bucket-created
        - Description:
        - State Change:               INSUFFICIENT_DATA -> ALARM
        - Reason for State Change:    Threshold Crossed: (...)
        - Timestamp:                  Thursday 21 December, 2023 11:36:00 UTC
        - AWS Account:                111122223333
        - Alarm Arn:                  arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:bucket-created
        <BLANKLINE>
        Threshold:
        - The alarm is in the ALARM state when the metric is GreaterThanThreshold 0.0 for at least 1 of the last 1 ...
        <BLANKLINE>
        Monitored Metric:
        - MetricNamespace:                     CloudTrailMetrics
        - MetricName:                          CreateBucketCount
        - Dimensions:
        - Period:                              60 seconds
        - Statistic:                           Sum
        - Unit:                                not specified
        - TreatMissingData:                    missing
        <BLANKLINE>
        <BLANKLINE>
        State Change Actions:
        - OK:
        - ALARM: [arn:aws:sns:ap-northeast-1:111122223333:notify]
        - INSUFFICIENT_DATA:
    """
    region = alarm.region
    when = _email_time(transition.time)
    dims = " ".join(f"[{k} = {v}]" for k, v in alarm.dimensions.items())

    def actions(arns: Sequence[str]) -> str:
        return f"[{', '.join(arns)}]" if arns else ""

    def detail(label: str, value: str, width: int) -> str:
        return f"- {label}:".ljust(width) + value

    lines = [
        f'You are receiving this email because your Amazon CloudWatch Alarm "{alarm.name}" in the '
        f"{region_name(region)} region has entered the {transition.new_state} state, because "
        f'"{transition.reason}" at "{when}".',
        "",
        "View this alarm in the AWS Management Console:",
        f"https://{region}.console.aws.amazon.com/cloudwatch/deeplink.js?region={region}"
        f"#alarmsV2:alarm/{quote(alarm.name, safe='')}",
        "",
        "Alarm Details:",
        detail("Name", alarm.name, 30),
        detail("Description", alarm.description, 30),
        detail("State Change", f"{transition.old_state} -> {transition.new_state}", 30),
        detail("Reason for State Change", transition.reason, 30),
        detail("Timestamp", when, 30),
        detail("AWS Account", alarm.account, 30),
        detail("Alarm Arn", alarm.arn, 30),
        "",
        "Threshold:",
        f"- The alarm is in the ALARM state when the metric is {alarm.comparison_operator} "
        f"{java_double(alarm.threshold)} for at least {alarm.m} of the last {alarm.evaluation_periods} "
        f"period(s) of {alarm.period} seconds.",
        "",
        "Monitored Metric:",
        detail("MetricNamespace", alarm.namespace, 39),
        detail("MetricName", alarm.metric_name, 39),
        detail("Dimensions", dims, 39),
        detail("Period", f"{alarm.period} seconds", 39),
        detail("Statistic", alarm.statistic, 39),
        detail("Unit", alarm.unit or "not specified", 39),
        detail("TreatMissingData", alarm.treat_missing_data, 39),
        "",
        "",
        "State Change Actions:",
        f"- OK: {actions(alarm.ok_actions)}",
        f"- ALARM: {actions(alarm.alarm_actions)}",
        f"- INSUFFICIENT_DATA: {actions(alarm.insufficient_data_actions)}",
    ]
    return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class AlarmNotification:
    """What CloudWatch publishes for one transition: ``subject``, the JSON ``message`` (what
    every subscription but e-mail receives) and the ``email`` text; ``dedup_key`` identifies
    the transition (time and new state) for the dispatcher's dedup."""

    subject: str
    message: str
    email: str
    dedup_key: str


def alarm_notification(alarm: Alarm, transition: Transition, *, configuration_updated: datetime) -> AlarmNotification:
    """The notification of ``transition`` (see :func:`alarm_message`, :func:`alarm_email`).

    Example:
        >>> a = Alarm(name="a", region="us-east-1", account="1", metric_name="M", namespace="N", statistic="Sum",
        ...           period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold")
        >>> when = datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)
        >>> t = Transition(a.arn, "a", when, "OK", "ALARM", "r", "{}")
        >>> n = alarm_notification(a, t, configuration_updated=when)
        >>> n.subject, n.dedup_key
        ('ALARM: "a" in US East (N. Virginia)', '2024-01-01T00:01:00.000+0000|ALARM')
    """
    message = alarm_message(alarm, transition, configuration_updated=configuration_updated)
    return AlarmNotification(
        subject=alarm_subject(alarm, transition.new_state),
        message=_json(message),
        email=alarm_email(alarm, transition),
        dedup_key=f"{aws_time(transition.time)}|{transition.new_state}",
    )


@dataclass(frozen=True)
class AlarmAction:
    """One action to run for one transition: the ARN of the new state's action list, and the
    notification to deliver there."""

    alarm: Alarm
    transition: Transition
    action_arn: str
    notification: AlarmNotification


class ActionDelivery:
    """Delivers :class:`AlarmAction` s through a :class:`~trailmatch.dispatch.Dispatcher`
    (``Dispatcher.deliver_notification``): resolution (bindings, emulated SNS topics, boto3),
    retries, dead letters and dedup (a transition already delivered to an action is not
    delivered again). ``outcomes`` collects ``(action, Outcome)``.

    Example:
        >>> import io
        >>> from trailmatch import model
        >>> from trailmatch.dispatch import Dispatcher
        >>> out = io.StringIO()
        >>> delivery = ActionDelivery(Dispatcher(model.Deployment(), stdout=out))
        >>> a = Alarm(name="a", region="us-east-1", account="1", metric_name="M", namespace="N", statistic="Sum",
        ...           period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold",
        ...           alarm_actions=("arn:aws:sns:us-east-1:1:alerts",))
        >>> when = datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)
        >>> t = Transition(a.arn, "a", when, "INSUFFICIENT_DATA", "ALARM", "r", "{}")
        >>> delivery(AlarmAction(a, t, a.alarm_actions[0], alarm_notification(a, t, configuration_updated=when)))
        Outcome(status='delivered', destination='stdout', ...)
        >>> out.getvalue().startswith('a -> arn:aws:sns:us-east-1:1:alerts: {"AlarmName":"a",')
        True
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.outcomes: list[tuple[AlarmAction, Outcome]] = []

    def __call__(self, action: AlarmAction) -> Outcome:
        n = action.notification
        outcome = self.dispatcher.deliver_notification(
            action.alarm.arn,
            action.action_arn,
            n.message,
            dedup_key=n.dedup_key,
            subject=n.subject,
            messages={"email": n.email},
            source_name=action.alarm.name,
        )
        self.outcomes.append((action, outcome))
        return outcome


# --- the simulator ------------------------------------------------------------------------------

Tail = Literal["off", "show", "deliver"]


@dataclass
class AlarmReport:
    """What :meth:`AlarmSimulator.run` did.

    Attributes:
        transitions: committed transitions of this run, in time order.
        tentative: transitions after the end of the data (``tail="show"``), in time order.
        actions: the actions handed to ``notify`` (committed transitions; tail ones too with
            ``tail="deliver"``).
        records: every alarm's record after the run, by ARN.
        evaluations: how many evaluations were computed.
        until: the end of the committed evaluations (``None``: nothing to evaluate).
        warnings: alarms that cannot be simulated, alarms watching a metric nothing publishes
            with their dimensions, ...
    """

    transitions: list[Transition] = field(default_factory=list)
    tentative: list[Transition] = field(default_factory=list)
    actions: list[AlarmAction] = field(default_factory=list)
    records: dict[str, AlarmRecord] = field(default_factory=dict)
    evaluations: int = 0
    until: datetime | None = None
    warnings: list[str] = field(default_factory=list)


def _epoch(when: datetime) -> int:
    utc = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when
    return math.floor(utc.timestamp())


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _step(alarm: Alarm) -> int:
    """Evaluation cadence: every minute, every 10 s for periods under a minute."""
    return 10 if alarm.period < 60 else 60


class AlarmSimulator:
    """Evaluates alarms over a :class:`~trailmatch.metrics.MetricStore`, on event time.

    Args:
        alarms: the alarms (``Deployment.alarms``).
        metrics: the published metrics; its replay clock says where the data ends.
        state: where alarm records are read and written (incremental runs); ``None``: memory.
        evaluation_range: periods fetched per evaluation, ``N + 2`` by default; an ``int``
            adds to N (``evaluation_range=2`` is the default), a callable returns the range
            of an alarm (at least N).
        tail: what happens after the end of the data — ``"show"`` (default): keep evaluating,
            as if no more data came, until every alarm's range is past the last datapoint;
            the transitions found there are *tentative*: reported and kept for ``alarms
            show`` / plots, not committed, no actions; ``"deliver"``: the same, committed and
            delivered (the data is complete: no later run will add to it); ``"off"``: stop at
            the end of the data.
        start: when the alarms were created (event time); default: the minute of the first
            event the metric store saw.

    **Committed evaluations** run at every boundary from the alarm's creation (or the last
    committed evaluation of a previous run) up to the end of the minute of the latest log
    event (``until`` to choose another end). A later run over later logs continues from there:
    its transitions are those a single run over all the logs would find, provided it brings
    no events older than the previous run's end (older ones are *late* data: they enter the
    metrics, but evaluations already committed are not redone).

    Example:
        >>> from trailmatch.metrics import MetricKey, MetricStore
        >>> store = MetricStore()
        >>> key = MetricKey.of("1", "ap-northeast-1", "CloudTrailMetrics", "CreateBucketCount")
        >>> _ = store.put(key, datetime(2023, 12, 21, 11, 35, 14), 1.0, unit="Count")
        >>> alarm = Alarm(name="bucket-created", region="ap-northeast-1", account="1",
        ...               metric_name="CreateBucketCount", namespace="CloudTrailMetrics", statistic="Sum",
        ...               period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold")
        >>> report = AlarmSimulator([alarm], store).run()
        >>> [(t.time.strftime("%H:%M"), t.old_state, t.new_state) for t in report.transitions]
        [('11:36', 'INSUFFICIENT_DATA', 'ALARM')]
        >>> # after the data, as if none came: the 11:35 datapoint is the most recent real one of the
        >>> # range (N + 2 = 3 periods) until 11:39
        >>> [(t.time.strftime("%H:%M"), t.new_state, t.reason) for t in report.tentative]
        [('11:39', 'INSUFFICIENT_DATA', 'Insufficient Data: 1 datapoint was unknown.')]
    """

    def __init__(
        self,
        alarms: Iterable[Alarm],
        metrics: MetricStore,
        *,
        state: StateStore | None = None,
        evaluation_range: int | Callable[[Alarm], int] = 2,
        tail: Tail = "show",
        start: datetime | None = None,
    ) -> None:
        if tail not in ("off", "show", "deliver"):
            raise ValueError(f"tail must be off, show or deliver, found {tail!r}")
        self.metrics = metrics
        self.state = state
        self.evaluation_range = evaluation_range
        self.tail = tail
        self.start = start
        self.alarms: list[Alarm] = []
        self.problems: list[str] = []
        for alarm in alarms:
            problem = _unsupported(alarm)
            if problem:
                self.problems.append(f"alarm {alarm.name} ({alarm.region}): {problem}; not simulated")
            else:
                self.alarms.append(alarm)
        self.records: dict[str, AlarmRecord] = load_records(state) if state is not None else {}

    def range_of(self, alarm: Alarm) -> int:
        """How many periods one evaluation of ``alarm`` fetches."""
        if callable(self.evaluation_range):
            size = int(self.evaluation_range(alarm))
        else:
            size = alarm.evaluation_periods + int(self.evaluation_range)
        return max(size, alarm.evaluation_periods)

    def run(
        self, *, until: datetime | None = None, notify: Callable[[AlarmAction], object] | None = None
    ) -> AlarmReport:
        """Evaluates every alarm up to ``until`` (default: the end of the minute of the latest
        event), then the tail; hands each action to ``notify``; saves the records.

        Actions run only on transitions, only when the alarm's ``actions_enabled``: ``ALARM`` →
        ``AlarmActions``, ``OK`` → ``OKActions``, ``INSUFFICIENT_DATA`` →
        ``InsufficientDataActions``.
        """
        report = AlarmReport(warnings=list(self.problems))
        last = self.metrics.last_event
        first = self.metrics.first_event
        for alarm in self.alarms:
            step = _step(alarm)
            if until is not None:
                horizon = _epoch(until) // step * step
            elif last is not None:
                horizon = _epoch(last) // step * step + step
            else:
                continue
            record = self._record(alarm, first, step)
            if record is None:
                continue
            end = _dt(self._evaluate(alarm, record, horizon, report, notify))
            report.until = max(report.until or end, end)
            report.records[alarm.arn] = record
        for alarm in self.alarms:
            if alarm.arn not in report.records and alarm.arn in self.records:
                report.records[alarm.arn] = self.records[alarm.arn]
        report.warnings.extend(self._unwatched())
        report.transitions.sort(key=lambda t: (t.time, t.alarm_arn))
        report.tentative.sort(key=lambda t: (t.time, t.alarm_arn))
        if self.state is not None:
            save_records(self.state, report.records.values())
        return report

    def _record(self, alarm: Alarm, first: datetime | None, step: int) -> AlarmRecord | None:
        record = self.records.get(alarm.arn)
        if record is None:
            created_at = self.start if self.start is not None else first
            if created_at is None:
                return None
            # on a minute: metric filters publish per minute, a minute's datapoint starts on it
            created = _dt(_epoch(created_at) // 60 * 60)
            record = AlarmRecord(alarm, created, created, state_updated=created)
            self.records[alarm.arn] = record
        elif record.alarm != alarm:
            # an update keeps the state and overwrites the configuration (PutMetricAlarm)
            after = record.last_evaluated or record.created
            record.alarm = alarm
            record.configuration_updated = after + timedelta(seconds=step)
        return record

    def _values(self, alarm: Alarm, key: MetricKey, size: int, t: int) -> list[PeriodValue]:
        period = alarm.period
        values: list[PeriodValue] = []
        for k in range(size - 1, -1, -1):
            begin = t - (k + 1) * period
            stats = self.metrics.window(key, begin, begin + period, unit=alarm.unit)
            if stats is None:
                values.append(PeriodValue(_dt(begin), None, 0))
            else:
                values.append(PeriodValue(_dt(begin), stats.value(alarm.statistic), stats.sample_count))
        return values

    def _evaluate(
        self,
        alarm: Alarm,
        record: AlarmRecord,
        horizon: int,
        report: AlarmReport,
        notify: Callable[[AlarmAction], object] | None,
    ) -> int:
        """Evaluates ``alarm`` up to ``horizon`` (and the tail); returns the committed end."""
        step = _step(alarm)
        size = self.range_of(alarm)
        key = MetricKey.of(alarm.account, alarm.region, alarm.namespace, alarm.metric_name, alarm.dimensions)
        start = _epoch(record.last_evaluated) + step if record.last_evaluated else _epoch(record.created) + step

        def sweep(begin: int, end: int, state: str, *, tentative: bool) -> str:
            t = begin
            while t <= end:
                values = self._values(alarm, key, size, t)
                report.evaluations += 1
                decision = decide(
                    [v.value for v in values],
                    n=alarm.evaluation_periods,
                    m=alarm.m,
                    threshold=alarm.threshold,
                    comparison=alarm.comparison_operator,
                    treat_missing=alarm.treat_missing_data,
                )
                if decision.state is not None and decision.state != state:
                    when = _dt(t)
                    reason, data = state_reason(alarm, values, decision, decision.state, when=when)
                    transition = Transition(alarm.arn, alarm.name, when, state, decision.state, reason, data, tentative)
                    state = decision.state
                    self._transition(alarm, record, transition, report, notify)
                if all(v.value is None for v in values):
                    # nothing in the range: every evaluation until data comes back decides the same
                    nxt = self.metrics.next_datapoint(key, t, unit=alarm.unit)
                    if nxt is None:
                        break
                    t = max(t + step, nxt // step * step + step)
                else:
                    t += step
            return state

        committed_end = horizon
        if self.tail == "deliver":
            committed_end = horizon + size * alarm.period
        record.state = sweep(start, committed_end, record.state, tentative=False)
        if start <= committed_end:
            record.last_evaluated = _dt(max(committed_end, _epoch(record.last_evaluated or record.created)))
        record.tail = []
        if self.tail == "show":
            before = len(report.tentative)
            sweep(max(start, horizon + step), horizon + size * alarm.period, record.state, tentative=True)
            record.tail = report.tentative[before:]
        return committed_end

    def _transition(
        self,
        alarm: Alarm,
        record: AlarmRecord,
        transition: Transition,
        report: AlarmReport,
        notify: Callable[[AlarmAction], object] | None,
    ) -> None:
        if transition.tentative:
            report.tentative.append(transition)
            return
        record.history.append(transition)
        record.reason = transition.reason
        record.reason_data = transition.reason_data
        record.state_updated = transition.time
        report.transitions.append(transition)
        if not alarm.actions_enabled:
            return
        arns = {ALARM: alarm.alarm_actions, OK: alarm.ok_actions, INSUFFICIENT_DATA: alarm.insufficient_data_actions}
        for arn in arns[transition.new_state]:
            notification = alarm_notification(alarm, transition, configuration_updated=record.configuration_updated)
            action = AlarmAction(alarm, transition, arn, notification)
            report.actions.append(action)
            if notify is not None:
                notify(action)

    def _unwatched(self) -> list[str]:
        """Alarms whose metric exists only with other dimensions (a classic: the metric filter
        publishes dimensions, the alarm names none, and stays INSUFFICIENT_DATA)."""
        found: list[str] = []
        keys = self.metrics.keys()
        for alarm in self.alarms:
            key = MetricKey.of(alarm.account, alarm.region, alarm.namespace, alarm.metric_name, alarm.dimensions)
            if key in keys:
                if alarm.unit and alarm.unit not in self.metrics.units(key):
                    units = ", ".join(self.metrics.units(key))
                    found.append(f"alarm {alarm.name}: its Unit {alarm.unit} matches no datapoint of {key} ({units})")
                continue
            others = [
                k
                for k in keys
                if (k.account, k.region, k.namespace, k.name) == (key.account, key.region, key.namespace, key.name)
            ]
            if others:
                shown = "; ".join(str(k.dimension_dict() or "no dimensions") for k in others[:3])
                found.append(
                    f"alarm {alarm.name}: watches {key.namespace}/{key.name} with dimensions "
                    f"{alarm.dimensions or 'none'}, but it is published only with: {shown}"
                )
        return found


def _unsupported(alarm: Alarm) -> str | None:
    if alarm.statistic not in STATISTICS:
        return f"statistic {alarm.statistic!r} is not one of {', '.join(STATISTICS)}"
    if alarm.comparison_operator not in COMPARISON_OPERATORS:
        return f"ComparisonOperator {alarm.comparison_operator!r} is not simulated"
    if alarm.treat_missing_data not in TREAT_MISSING_DATA:
        return f"TreatMissingData {alarm.treat_missing_data!r} is unknown"
    if alarm.period <= 0 or (alarm.period % 60 and alarm.period not in (10, 20, 30)):
        return f"Period {alarm.period} is not 10, 20, 30 or a multiple of 60"
    if not 1 <= alarm.m <= alarm.evaluation_periods:
        return f"DatapointsToAlarm {alarm.m} is not from 1 to EvaluationPeriods ({alarm.evaluation_periods})"
    return None
