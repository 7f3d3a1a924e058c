"""Metric filters publishing CloudWatch metrics: per-event samples, per-minute datapoints, statistics.

This module owns what happens *after* a metric filter's pattern was evaluated on a log event
(the matching itself, and the extraction of selector values, is the engine's job): the sample
the event emits, the per-minute aggregation CloudWatch publishes, statistics over any period,
export (JSON Lines, CSV) and persistence in the state file. Alarms read it
(:mod:`trailmatch.alarms`); it knows nothing about alarms.

**Input**: one :class:`LogEventResult` per (log event, metric filter): the event's timestamp
(for CloudTrail its ``eventTime``), the filter, whether it matched, and the text the engine
extracted for each selector the filter's transformation uses (:func:`selectors_of`).

**Publication** (``PutMetricFilter`` semantics; decisions marked as such, see
``docs/ALARMS.md``):

* a matching event emits one sample: ``metricValue`` when it is a number (``"1"``), else the
  number extracted by its selector (``$.bytes``, ``$size``, ``$7``);
* a non-matching event emits ``defaultValue`` when the transformation has one, else nothing;
* *decision*: a missing or non-numeric extracted value, or a missing dimension value, emits
  nothing and counts a diagnostic (:attr:`MetricStore.diagnostics`);
* ``defaultValue`` together with ``dimensions`` is refused by ``PutMetricFilter`` (the loaders
  report it); should such a filter reach this module anyway, a non-matching event emits
  nothing and counts a ``default_with_dimensions`` diagnostic;
* *decision*: the sample's timestamp is the log event's timestamp;
* samples are aggregated per (account, region, namespace, metric name, dimensions, unit,
  minute) into ``SampleCount``, ``Sum``, ``Minimum``, ``Maximum`` (``Average`` = Sum /
  SampleCount); a minute without samples has no datapoint at all.

Example:
    >>> from trailmatch.model import MetricFilter, MetricTransformation
    >>> f = MetricFilter(name="bucket-created", log_group="trail", region="ap-northeast-1", account="111122223333",
    ...                  filter_pattern='{ ($.eventName = "CreateBucket") }',
    ...                  transformation=MetricTransformation("CreateBucketCount", "CloudTrailMetrics",
    ...                                                      default_value=0.0, unit="Count"))
    >>> store = MetricStore()
    >>> for time, matched in [("2023-12-21T11:35:14Z", True), ("2023-12-21T11:35:50Z", False),
    ...                       ("2023-12-21T11:37:02Z", True)]:
    ...     _ = store.add(LogEventResult(event_time(time), f, matched))
    >>> [(d.timestamp.strftime("%H:%M"), d.sample_count, d.sum) for d in store.datapoints()]
    [('11:35', 2, 1.0), ('11:37', 1, 1.0)]
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final, Literal, NamedTuple, TextIO

from trailmatch.model import MetricFilter
from trailmatch.state import StateStore

__all__ = [
    "CSV_COLUMNS",
    "DIAGNOSTIC_KINDS",
    "STATISTICS",
    "Datapoint",
    "Diagnostic",
    "LogEventResult",
    "MetricKey",
    "MetricStore",
    "Sample",
    "Statistics",
    "event_time",
    "format_time",
    "selectors_of",
]

#: The statistics an alarm (and :meth:`Statistics.value`) knows.
STATISTICS: Final = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

#: Columns of :meth:`MetricStore.write_csv` (and keys of :meth:`Datapoint.to_dict`).
CSV_COLUMNS: Final = (
    "timestamp",
    "account",
    "region",
    "namespace",
    "metric_name",
    "dimensions",
    "unit",
    "period",
    "sample_count",
    "sum",
    "minimum",
    "maximum",
    "average",
)

#: Why an event emitted no sample (keys of :attr:`MetricStore.diagnostics`).
DIAGNOSTIC_KINDS: Final = {
    "missing_value": "the metric value's selector found no value in the event",
    "non_numeric_value": "the metric value's selector found a value that is not a number",
    "missing_dimension": "a dimension's selector found no value in the event",
    "invalid_dimension": "a dimension value is empty or longer than 255 characters",
    "invalid_metric_value": "the transformation's metricValue is neither a number nor a selector",
    "default_with_dimensions": "defaultValue with dimensions (refused by PutMetricFilter): nothing emitted",
    "before_start": "the event is older than the metric filter (filters are not retroactive)",
    "already_published": "the event is not newer than the data of a previous run (re-read or late): dropped",
}

#: State file namespaces.
_NS_BUCKETS: Final = "metrics"
_NS_META: Final = "metrics-meta"

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_DIMENSION_VALUE = 255
_DAY: Final = 86_400


def event_time(text: str) -> datetime:
    """A CloudTrail ``eventTime`` (ISO 8601, ``Z`` or an offset) as an aware UTC datetime.

    Example:
        >>> event_time("2023-12-21T11:35:14Z")
        datetime.datetime(2023, 12, 21, 11, 35, 14, tzinfo=datetime.timezone.utc)
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return _utc(parsed)


def format_time(when: datetime) -> str:
    """``when`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds): the timestamps of exports.

    Example:
        >>> format_time(datetime(2023, 12, 21, 11, 35, tzinfo=timezone.utc))
        '2023-12-21T11:35:00Z'
    """
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(when: datetime) -> datetime:
    # naive datetimes are taken as UTC: CloudTrail's clock is UTC
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _epoch(when: datetime) -> int:
    return math.floor(_utc(when).timestamp())


def _from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _number(text: str | None) -> float | None:
    """The number ``text`` writes, or ``None`` (CloudWatch takes no NaN or infinity)."""
    if text is None:
        return None
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    value = float(stripped)
    return value if math.isfinite(value) else None


def _is_selector(text: str) -> bool:
    return text.startswith("$") or text.startswith("@aws.")


def selectors_of(metric_filter: MetricFilter) -> tuple[str, ...]:
    """The selectors whose values a :class:`LogEventResult` of ``metric_filter`` must carry:
    ``metricValue`` when it is a selector, then each dimension's selector (no duplicates).

    ``@aws.account`` and ``@aws.region`` (system fields) are filled in from the filter and
    need no value.

    Example:
        >>> from trailmatch.model import MetricTransformation
        >>> f = MetricFilter(name="bytes", log_group="g", region="us-east-1", account="1", filter_pattern="",
        ...                  transformation=MetricTransformation("Bytes", "App", metric_value="$.bytes",
        ...                                                      dimensions={"User": "$.user", "Op": "$.op"}))
        >>> selectors_of(f)
        ('$.bytes', '$.user', '$.op')
    """
    t = metric_filter.transformation
    found: list[str] = []
    for text in (t.metric_value, *t.dimensions.values()):
        if text.startswith("$") and text not in found:
            found.append(text)
    return tuple(found)


@dataclass(frozen=True, order=True)
class MetricKey:
    """A CloudWatch metric: account, region, namespace, name and dimensions (sorted by name).

    Example:
        >>> k = MetricKey.of("1", "us-east-1", "App", "Bytes", {"User": "bob", "Op": "put"})
        >>> k.dimensions, k.dimension_dict()
        ((('Op', 'put'), ('User', 'bob')), {'Op': 'put', 'User': 'bob'})
    """

    account: str
    region: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls, account: str, region: str, namespace: str, name: str, dimensions: Mapping[str, str] | None = None
    ) -> MetricKey:
        """A key with ``dimensions`` given as a mapping."""
        return cls(account, region, namespace, name, tuple(sorted((dimensions or {}).items())))

    def dimension_dict(self) -> dict[str, str]:
        """The dimensions as a ``dict``."""
        return dict(self.dimensions)

    def __str__(self) -> str:
        dims = "".join(f" {k}={v}" for k, v in self.dimensions)
        return f"{self.namespace}/{self.name}{dims} ({self.region}, {self.account})"


@dataclass(frozen=True)
class LogEventResult:
    """What the engine found for one (log event, metric filter) pair.

    ``values`` maps each selector of :func:`selectors_of` to the extracted text, or ``None``
    when the event has no value there (missing, or an object/array/null).
    """

    timestamp: datetime
    filter: MetricFilter
    matched: bool
    values: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One value a metric filter emitted for one event."""

    key: MetricKey
    timestamp: datetime
    value: float
    unit: str


class Diagnostic(NamedTuple):
    """Key of :attr:`MetricStore.diagnostics`: the filter (``region/log group/name``) and the kind
    (:data:`DIAGNOSTIC_KINDS`)."""

    filter: str
    kind: str


class Statistics(NamedTuple):
    """Aggregated samples: ``SampleCount``, ``Sum``, ``Minimum``, ``Maximum``.

    Example:
        >>> s = Statistics(4, 10.0, 1.0, 4.0)
        >>> s.average, s.value("Maximum"), s.value("SampleCount")
        (2.5, 4.0, 4.0)
    """

    sample_count: int
    sum: float
    minimum: float
    maximum: float

    @property
    def average(self) -> float:
        """Sum / SampleCount."""
        return self.sum / self.sample_count

    def value(self, statistic: str) -> float:
        """The value of one of :data:`STATISTICS`.

        Raises:
            ValueError: an unknown statistic (percentiles are not simulated).
        """
        if statistic == "Sum":
            return self.sum
        if statistic == "SampleCount":
            return float(self.sample_count)
        if statistic == "Average":
            return self.average
        if statistic == "Minimum":
            return self.minimum
        if statistic == "Maximum":
            return self.maximum
        raise ValueError(f"unknown statistic {statistic!r} (known: {', '.join(STATISTICS)})")


@dataclass(frozen=True)
class Datapoint:
    """The statistics of one metric over one period (a minute unless said otherwise).

    ``timestamp`` is the start of the period (UTC).
    """

    key: MetricKey
    timestamp: datetime
    unit: str
    sample_count: int
    sum: float
    minimum: float
    maximum: float
    period: int = 60

    @property
    def average(self) -> float:
        """Sum / SampleCount."""
        return self.sum / self.sample_count

    @property
    def statistics(self) -> Statistics:
        """The four aggregates as :class:`Statistics`."""
        return Statistics(self.sample_count, self.sum, self.minimum, self.maximum)

    def to_dict(self) -> dict[str, Any]:
        """A row of the exports (:data:`CSV_COLUMNS`; ``dimensions`` is an object here)."""
        return {
            "timestamp": format_time(self.timestamp),
            "account": self.key.account,
            "region": self.key.region,
            "namespace": self.key.namespace,
            "metric_name": self.key.name,
            "dimensions": self.key.dimension_dict(),
            "unit": self.unit,
            "period": self.period,
            "sample_count": self.sample_count,
            "sum": self.sum,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "average": self.average,
        }


class _Series:
    """Per-minute buckets of one (metric, unit), with sorted arrays for range queries."""

    __slots__ = ("_counts", "_maxs", "_mins", "_sums", "_times", "buckets")

    def __init__(self) -> None:
        #: minute (epoch seconds) → [count, sum, min, max]
        self.buckets: dict[int, list[float]] = {}
        self._times: list[int] | None = None
        self._counts: list[int] = []
        self._sums: list[float] = []
        self._mins: list[float] = []
        self._maxs: list[float] = []

    def add(self, minute: int, value: float, count: int = 1) -> None:
        bucket = self.buckets.get(minute)
        if bucket is None:
            self.buckets[minute] = [count, value * count, value, value]
            self._times = None
        else:
            bucket[0] += count
            bucket[1] += value * count
            bucket[2] = min(bucket[2], value)
            bucket[3] = max(bucket[3], value)
            self._times = None

    def merge(self, minute: int, count: int, total: float, low: float, high: float) -> None:
        self.buckets[minute] = [count, total, low, high]
        self._times = None

    def _arrays(self) -> list[int]:
        if self._times is None:
            times = sorted(self.buckets)
            rows = [self.buckets[t] for t in times]
            self._counts = [int(r[0]) for r in rows]
            self._sums = [r[1] for r in rows]
            self._mins = [r[2] for r in rows]
            self._maxs = [r[3] for r in rows]
            self._times = times
        return self._times

    def window(self, start: int, end: int) -> Statistics | None:
        times = self._arrays()
        i = bisect.bisect_left(times, start)
        j = bisect.bisect_left(times, end)
        if i >= j:
            return None
        # fsum: the correctly rounded sum, whatever the order the minutes are combined in
        return Statistics(
            sum(self._counts[i:j]), math.fsum(self._sums[i:j]), min(self._mins[i:j]), max(self._maxs[i:j])
        )

    def next_minute(self, at_or_after: int) -> int | None:
        times = self._arrays()
        i = bisect.bisect_left(times, at_or_after)
        return times[i] if i < len(times) else None


def _combine(parts: Iterable[Statistics]) -> Statistics | None:
    found = list(parts)
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    return Statistics(
        sum(p.sample_count for p in found),
        math.fsum(p.sum for p in found),
        min(p.minimum for p in found),
        max(p.maximum for p in found),
    )


def _series_id(key: MetricKey, unit: str) -> str:
    return json.dumps(
        [key.account, key.region, key.namespace, key.name, [list(d) for d in key.dimensions], unit],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _series_from_id(text: str) -> tuple[MetricKey, str]:
    account, region, namespace, name, dims, unit = json.loads(text)
    return MetricKey(account, region, namespace, name, tuple((str(k), str(v)) for k, v in dims)), str(unit)


class MetricStore:
    """The metrics metric filters published: per-minute datapoints, statistics, export, persistence.

    Args:
        start: samples of events before this time are not published (metric filters are not
            retroactive); they count a ``before_start`` diagnostic. ``None``: everything counts.
        late: what happens to events not newer than the latest event of the data this store
            was loaded with (:meth:`load`; a previous run): ``"drop"`` (default) publishes
            nothing for them and counts an ``already_published`` diagnostic, so that reading
            the same logs again does not count their samples twice; ``"accept"`` publishes
            them (late data, when the caller knows the logs are new).

    The store also keeps the **replay clock**: the earliest and latest log event time it saw
    (:attr:`first_event`, :attr:`last_event`), matching or not — the alarms' notion of "now".

    Example:
        >>> from datetime import timedelta
        >>> store = MetricStore()
        >>> key = MetricKey.of("1", "us-east-1", "App", "Latency")
        >>> for second, value in [(0, 10.0), (30, 20.0), (61, 5.0)]:
        ...     _ = store.put(key, datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=second), value)
        >>> [(d.timestamp.minute, d.sample_count, d.average) for d in store.datapoints(key)]
        [(0, 2, 15.0), (1, 1, 5.0)]
        >>> [(d.timestamp.minute, d.sum) for d in store.statistics(key, start=datetime(2024, 1, 1, 12, 0),
        ...                                                          end=datetime(2024, 1, 1, 12, 5), period=300)]
        [(0, 35.0)]
    """

    def __init__(self, *, start: datetime | None = None, late: Literal["drop", "accept"] = "drop") -> None:
        if late not in ("drop", "accept"):
            raise ValueError(f"late must be drop or accept, found {late!r}")
        self.start = _utc(start) if start is not None else None
        self.late = late
        #: The latest event time of the data loaded from a state file (``None``: nothing loaded).
        self.watermark: datetime | None = None
        self._watermark: int | None = None
        self._series: dict[tuple[MetricKey, str], _Series] = {}
        self._dirty: set[tuple[MetricKey, str, int]] = set()
        self._first: int | None = None
        self._last: int | None = None
        #: Events that emitted nothing, and why (see :data:`DIAGNOSTIC_KINDS`).
        self.diagnostics: Counter[Diagnostic] = Counter()
        #: Samples published since this store was created or loaded.
        self.samples = 0
        #: Log event results seen since this store was created or loaded.
        self.results = 0

    # --- the replay clock -----------------------------------------------------------------------

    def observe(self, timestamp: datetime) -> None:
        """Moves the replay clock: a log event at ``timestamp`` was read (matching or not)."""
        self._observe_seconds(_epoch(timestamp))

    @property
    def first_event(self) -> datetime | None:
        """The earliest log event time seen (``None`` before any)."""
        return None if self._first is None else _from_epoch(self._first)

    @property
    def last_event(self) -> datetime | None:
        """The latest log event time seen (``None`` before any): the end of the replayed data."""
        return None if self._last is None else _from_epoch(self._last)

    # --- publication ----------------------------------------------------------------------------

    def add(self, result: LogEventResult) -> Sample | None:
        """Publishes what ``result`` emits (see the module docs); the sample, or ``None``."""
        self.results += 1
        f = result.filter
        t = f.transformation
        if self._stale(result.timestamp):
            self.diagnostics[Diagnostic(f.key, "already_published")] += 1
            return None
        self.observe(result.timestamp)
        if self.start is not None and _utc(result.timestamp) < self.start:
            self.diagnostics[Diagnostic(f.key, "before_start")] += 1
            return None
        if result.matched:
            if _is_selector(t.metric_value):
                value = result.values.get(t.metric_value)
                if value is None:
                    self.diagnostics[Diagnostic(f.key, "missing_value")] += 1
                    return None
                number = _number(value)
                if number is None:
                    self.diagnostics[Diagnostic(f.key, "non_numeric_value")] += 1
                    return None
            else:
                number = _number(t.metric_value)
                if number is None:
                    self.diagnostics[Diagnostic(f.key, "invalid_metric_value")] += 1
                    return None
            dimensions: dict[str, str] = {}
            for name, selector in t.dimensions.items():
                if selector == "@aws.account":
                    text: str | None = f.account
                elif selector == "@aws.region":
                    text = f.region
                else:
                    text = result.values.get(selector)
                if text is None:
                    self.diagnostics[Diagnostic(f.key, "missing_dimension")] += 1
                    return None
                if not text or len(text) > _MAX_DIMENSION_VALUE:
                    self.diagnostics[Diagnostic(f.key, "invalid_dimension")] += 1
                    return None
                dimensions[name] = text
        else:
            if t.default_value is None:
                return None
            if t.dimensions:
                self.diagnostics[Diagnostic(f.key, "default_with_dimensions")] += 1
                return None
            number, dimensions = float(t.default_value), {}
        key = MetricKey.of(f.account, f.region, t.metric_namespace, t.metric_name, dimensions)
        sample = Sample(key, _utc(result.timestamp), number, t.unit or "None")
        self._add(sample.key, sample.unit, _epoch(sample.timestamp), sample.value)
        return sample

    def add_event(
        self,
        timestamp: datetime,
        filters: Iterable[MetricFilter],
        matches: Mapping[str, Sequence[str | None]],
    ) -> int:
        """Publishes what one log event emits for every metric filter of its log group; returns
        how many samples it emitted. The scan's entry point.

        ``matches`` maps the :attr:`~trailmatch.model.MetricFilter.key` of each filter the event
        matched to the values of its selectors, in :func:`selectors_of` order — what
        :meth:`trailmatch._core.FilterSet.match` reports when each filter was added as
        ``add(f.key, f.filter_pattern, values=selectors_of(f))``. Filters not in ``matches``
        did not match: those with a ``defaultValue`` emit it. The replay clock moves even when
        nothing is emitted.

        Example:
            >>> from trailmatch.model import MetricTransformation
            >>> count = MetricFilter(name="all", log_group="g", region="us-east-1", account="1", filter_pattern="",
            ...                      transformation=MetricTransformation("Events", "App", default_value=0.0))
            >>> size = MetricFilter(name="size", log_group="g", region="us-east-1", account="1",
            ...                     filter_pattern="{ $.bytes > 0 }",
            ...                     transformation=MetricTransformation("Bytes", "App", metric_value="$.bytes"))
            >>> store = MetricStore()
            >>> store.add_event(event_time("2024-01-01T00:00:10Z"), [count, size], {size.key: ["512"]})
            2
            >>> store.add_event(event_time("2024-01-01T00:00:20Z"), [count, size], {count.key: []})
            1
            >>> [(d.key.name, d.sample_count, d.sum) for d in store.datapoints()]  # "all": 0 (default) then 1
            [('Bytes', 1, 512.0), ('Events', 2, 1.0)]
        """
        emitted = 0
        if self._stale(timestamp):
            for f in filters:
                self.diagnostics[Diagnostic(f.key, "already_published")] += 1
            return 0
        self.observe(timestamp)
        for f in filters:
            values = matches.get(f.key)
            if values is None:
                if f.transformation.default_value is None:
                    continue
                result = LogEventResult(timestamp, f, False)
            else:
                result = LogEventResult(timestamp, f, True, dict(zip(selectors_of(f), values, strict=False)))
            if self.add(result) is not None:
                emitted += 1
        return emitted

    def add_batch(
        self,
        filters: Sequence[MetricFilter],
        log_seconds: Iterable[tuple[int, int]],
        logged: Iterable[tuple[int, int, Sequence[tuple[int, Sequence[str | None]]]]],
    ) -> int:
        """Publishes what a batch of log events emits for every filter of ``filters`` — the
        same as :meth:`add_event` per event, without an object per event; returns how many
        samples were emitted. The scan's entry point (the shapes of
        :meth:`trailmatch._core.Replay.process`).

        ``log_seconds`` counts every log event of the batch per second of event time (Unix
        seconds); ``logged`` lists the events that matched filters: ``(index, unix_seconds,
        [(filter position in filters, selector values), ...])``. Events of a second that match
        no filter emit each filter's ``defaultValue``, as one merged bucket update.

        Example:
            >>> from trailmatch.model import MetricTransformation
            >>> count = MetricFilter(name="created", log_group="g", region="us-east-1", account="1",
            ...                      filter_pattern="{ $.eventName = CreateBucket }",
            ...                      transformation=MetricTransformation("Created", "S3", default_value=0.0))
            >>> store = MetricStore()
            >>> store.add_batch([count], [(1704067200, 3), (1704067265, 1)], [(1, 1704067200, [(0, [])])])
            4
            >>> [(d.timestamp.strftime("%H:%M"), d.sample_count, d.sum) for d in store.datapoints()]
            [('00:00', 3, 1.0), ('00:01', 1, 0.0)]
        """
        results = self.results
        emitted = 0
        defaults = {i: f for i, f in enumerate(filters) if f.transformation.default_value is not None}
        matched: dict[int, Counter[int]] = {i: Counter() for i in defaults}
        for _index, seconds, hits in logged:
            if self._stale_seconds(seconds):
                continue  # counted below, with the events that matched nothing
            when = _from_epoch(seconds)
            for position, values in hits:
                f = filters[position]
                if position in matched:
                    matched[position][seconds] += 1
                result = LogEventResult(when, f, True, dict(zip(selectors_of(f), values, strict=False)))
                if self.add(result) is not None:
                    emitted += 1
        total = 0
        for seconds, n in log_seconds:
            total += n
            if self._stale_seconds(seconds):
                for f in filters:
                    self.diagnostics[Diagnostic(f.key, "already_published")] += n
                continue
            self._observe_seconds(seconds)
            for i, f in defaults.items():
                k = n - matched[i][seconds]
                if k <= 0:
                    continue
                if f.transformation.dimensions:
                    self.diagnostics[Diagnostic(f.key, "default_with_dimensions")] += k
                elif self.start is not None and seconds < _epoch(self.start):
                    self.diagnostics[Diagnostic(f.key, "before_start")] += k
                else:
                    t = f.transformation
                    key = MetricKey.of(f.account, f.region, t.metric_namespace, t.metric_name, {})
                    self._add(key, t.unit or "None", seconds, float(t.default_value or 0.0), k)
                    emitted += k
        # one result per (event, filter), whatever `add` counted for the matching ones above
        self.results = results + total * len(filters)
        return emitted

    def _stale_seconds(self, seconds: int) -> bool:
        return self.late == "drop" and self._watermark is not None and seconds <= self._watermark

    def _observe_seconds(self, seconds: int) -> None:
        if self._first is None or seconds < self._first:
            self._first = seconds
        if self._last is None or seconds > self._last:
            self._last = seconds

    def add_all(self, results: Iterable[LogEventResult]) -> int:
        """Publishes every result; how many samples were emitted."""
        return sum(1 for r in results if self.add(r) is not None)

    def put(self, key: MetricKey, timestamp: datetime, value: float, *, unit: str = "None") -> bool:
        """Adds one sample directly (as ``PutMetricData`` would) and moves the replay clock;
        whether it was added (see ``late``).

        Raises:
            ValueError: ``value`` is NaN or infinite.
        """
        if not math.isfinite(value):
            raise ValueError(f"metric values must be finite numbers, found {value!r}")
        if self._stale(timestamp):
            return False
        self.observe(timestamp)
        self._add(key, unit, _epoch(timestamp), float(value))
        return True

    def _stale(self, timestamp: datetime) -> bool:
        return self._stale_seconds(_epoch(timestamp))

    def _add(self, key: MetricKey, unit: str, seconds: int, value: float, count: int = 1) -> None:
        minute = seconds - seconds % 60
        series = self._series.get((key, unit))
        if series is None:
            series = self._series[(key, unit)] = _Series()
        series.add(minute, value, count)
        self._dirty.add((key, unit, minute // _DAY))
        self.samples += count

    # --- queries --------------------------------------------------------------------------------

    def keys(self) -> list[MetricKey]:
        """Every metric with at least one datapoint, sorted."""
        return sorted({k for k, _ in self._series})

    def units(self, key: MetricKey) -> list[str]:
        """The units ``key`` was published with."""
        return sorted(u for k, u in self._series if k == key)

    def _parts(self, key: MetricKey, unit: str | None) -> list[_Series]:
        if unit is not None:
            found = self._series.get((key, unit))
            return [found] if found is not None else []
        return [s for (k, _), s in self._series.items() if k == key]

    def window(self, key: MetricKey, start: int, end: int, *, unit: str | None = None) -> Statistics | None:
        """The statistics of ``key`` over the minutes starting in ``[start, end)`` (epoch seconds),
        or ``None`` when no datapoint falls there. ``unit``: only datapoints with that unit
        (``None``: any unit, as an alarm without ``Unit``)."""
        return _combine(w for s in self._parts(key, unit) if (w := s.window(start, end)) is not None)

    def next_datapoint(self, key: MetricKey, at_or_after: int, *, unit: str | None = None) -> int | None:
        """The first minute (epoch seconds) at or after ``at_or_after`` with a datapoint of ``key``."""
        found = [m for s in self._parts(key, unit) if (m := s.next_minute(at_or_after)) is not None]
        return min(found) if found else None

    def datapoints(self, key: MetricKey | None = None, *, unit: str | None = None) -> Iterator[Datapoint]:
        """The per-minute datapoints, in time order (then metric, then unit); of ``key`` only when
        given (and of ``unit`` only when given)."""
        rows: list[tuple[int, MetricKey, str, list[float]]] = []
        for (k, u), series in self._series.items():
            if (key is not None and k != key) or (unit is not None and u != unit):
                continue
            rows.extend((minute, k, u, b) for minute, b in series.buckets.items())
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        for minute, k, u, b in rows:
            yield Datapoint(k, _from_epoch(minute), u, int(b[0]), b[1], b[2], b[3])

    def statistics(
        self, key: MetricKey, *, start: datetime, end: datetime, period: int, unit: str | None = None
    ) -> list[Datapoint]:
        """Datapoints of ``key`` over periods of ``period`` seconds from ``start`` (aligned to it)
        until ``end``, like ``GetMetricStatistics``; periods without data are left out.

        Periods shorter than a minute (10, 20, 30 s) see each minute's datapoint in the period
        that holds the minute's first second: metric filters publish once a minute.

        Raises:
            ValueError: ``period`` is not positive.
        """
        if period <= 0:
            raise ValueError(f"period must be positive, found {period}")
        first, last = _epoch(start), _epoch(end)
        units = {unit} if unit is not None else set(self.units(key))
        label = unit if unit is not None else (next(iter(units)) if len(units) == 1 else "None")
        found: list[Datapoint] = []
        begin = first
        while begin < last:
            stats = self.window(key, begin, begin + period, unit=unit)
            if stats is not None:
                found.append(Datapoint(key, _from_epoch(begin), label, *stats, period=period))
            if stats is None and period >= 60:
                # jump over periods without data
                nxt = self.next_datapoint(key, begin + period, unit=unit)
                if nxt is None:
                    break
                begin += max(1, (nxt - begin) // period) * period
            else:
                begin += period
        return found

    # --- export ---------------------------------------------------------------------------------

    def write_jsonl(self, stream: TextIO, key: MetricKey | None = None) -> int:
        """Writes one JSON object per datapoint (:meth:`Datapoint.to_dict`); how many.

        Example:
            >>> import io
            >>> store = MetricStore()
            >>> _ = store.put(MetricKey.of("1", "us-east-1", "App", "Errors"), datetime(2024, 1, 1, 12, 0, 5), 1.0)
            >>> out = io.StringIO(); store.write_jsonl(out)
            1
            >>> print(out.getvalue().replace(", ", ",\\n"), end="")
            {"timestamp": "2024-01-01T12:00:00Z",
            "account": "1",
            "region": "us-east-1",
            "namespace": "App",
            "metric_name": "Errors",
            "dimensions": {},
            "unit": "None",
            "period": 60,
            "sample_count": 1,
            "sum": 1.0,
            "minimum": 1.0,
            "maximum": 1.0,
            "average": 1.0}
        """
        count = 0
        for point in self.datapoints(key):
            stream.write(json.dumps(point.to_dict(), ensure_ascii=False) + "\n")
            count += 1
        return count

    def write_csv(self, stream: TextIO, key: MetricKey | None = None) -> int:
        """Writes a header (:data:`CSV_COLUMNS`) and one row per datapoint; ``dimensions`` is a JSON
        object with sorted keys. Returns the number of rows.

        Example:
            >>> import io
            >>> store = MetricStore()
            >>> key = MetricKey.of("1", "us-east-1", "App", "Bytes", {"User": "bob"})
            >>> store.put(key, datetime(2024, 1, 1), 512.0, unit="Bytes")
            True
            >>> out = io.StringIO(); store.write_csv(out)
            1
            >>> print(out.getvalue().replace("\\r", ""), end="")
            timestamp,account,region,namespace,metric_name,dimensions,unit,period,sample_count,sum,minimum,maximum,average
            2024-01-01T00:00:00Z,1,us-east-1,App,Bytes,"{""User"": ""bob""}",Bytes,60,1,512.0,512.0,512.0,512.0
        """
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        count = 0
        for point in self.datapoints(key):
            row = point.to_dict()
            row["dimensions"] = json.dumps(row["dimensions"], ensure_ascii=False, sort_keys=True)
            writer.writerow([row[c] for c in CSV_COLUMNS])
            count += 1
        return count

    # --- persistence ----------------------------------------------------------------------------

    def save(self, state: StateStore) -> int:
        """Writes what changed since the last :meth:`save` / :meth:`load` into ``state`` (one
        record per metric, unit and UTC day, namespace ``metrics``), and the replay clock.
        Returns the number of records written.

        Example:
            >>> store = MetricStore()
            >>> _ = store.put(MetricKey.of("1", "us-east-1", "App", "Errors"), datetime(2024, 1, 1, 12, 0), 1.0)
            >>> with StateStore() as state:
            ...     store.save(state)
            ...     again = MetricStore.load(state)
            1
            >>> [(d.timestamp.hour, d.sum) for d in again.datapoints()], again.last_event.hour
            ([(12, 1.0)], 12)
        """
        written = 0
        with state.transaction():
            for key, unit, day in sorted(self._dirty):
                series = self._series[(key, unit)]
                begin, end = day * _DAY, (day + 1) * _DAY
                rows = [
                    [minute - begin, int(b[0]), b[1], b[2], b[3]]
                    for minute, b in sorted(series.buckets.items())
                    if begin <= minute < end
                ]
                day_text = _from_epoch(begin).strftime("%Y-%m-%d")
                state.put(_NS_BUCKETS, f"{_series_id(key, unit)}|{day_text}", rows)
                written += 1
            if self._first is not None and self._last is not None:
                state.put(
                    _NS_META,
                    "clock",
                    {"first": format_time(_from_epoch(self._first)), "last": format_time(_from_epoch(self._last))},
                )
        self._dirty.clear()
        return written

    @classmethod
    def load(
        cls, state: StateStore, *, start: datetime | None = None, late: Literal["drop", "accept"] = "drop"
    ) -> MetricStore:
        """A store holding what :meth:`save` wrote into ``state`` (empty when nothing was); its
        :attr:`watermark` is the latest event time of that data."""
        store = cls(start=start, late=late)
        for record_key, rows in state.items(_NS_BUCKETS).items():
            series_text, _, day_text = record_key.rpartition("|")
            key, unit = _series_from_id(series_text)
            begin = _epoch(datetime.strptime(day_text, "%Y-%m-%d"))
            series = store._series.setdefault((key, unit), _Series())
            for offset, count, total, low, high in rows:
                series.merge(begin + int(offset), int(count), float(total), float(low), float(high))
        clock = state.get(_NS_META, "clock")
        if isinstance(clock, dict) and clock.get("first") and clock.get("last"):
            store.observe(event_time(clock["first"]))
            store.observe(event_time(clock["last"]))
            store.watermark = store.last_event
            store._watermark = store._last
        return store
