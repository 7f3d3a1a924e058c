"""Log events other than CloudTrail files, for metric filters: ``trailmatch scan --log-events``.

A metric filter reads whatever a log group holds — application logs, VPC flow logs, web server
access logs — not only CloudTrail. This module reads such log events with their timestamps, from
the forms in which users have them, and evaluates the metric filters on them (the engine's
``FilterSet``, in parallel without the GIL), publishing into a
:class:`~trailmatch.metrics.MetricStore`:

* ``aws logs filter-log-events`` / ``aws logs get-log-events`` output:
  ``{"events": [{"timestamp": <ms>, "message": "..."}, ...]}``;
* CloudWatch Logs subscription payloads, as Lambda, Kinesis and Firehose receive them (usually
  gzipped, several concatenated): ``{"messageType": "DATA_MESSAGE", "logEvents": [{"id",
  "timestamp", "message"}]}`` (``CONTROL_MESSAGE`` payloads are skipped);
* JSON Lines of ``{"timestamp": <ms or ISO 8601>, "message": "..."}`` objects, or of JSON log
  records carrying their own time (``eventTime``, ``time``, ``timestamp``, ``@timestamp``): the
  line is the message;
* text lines that start with an ISO 8601 time (``2024-05-01T12:00:00Z ...``, as ``aws logs tail``
  prints them) or hold an access-log time (``[01/May/2024:12:00:00 +0000]``): the line is the
  message.

Gzip is recognised by its magic bytes. A line or event without a usable time is a problem of the
summary (source, line and byte offset), and the rest is read.

Example:
    >>> from trailmatch.model import MetricFilter, MetricTransformation
    >>> f = MetricFilter(name="errors", log_group="app", region="us-east-1", account="1",
    ...                  filter_pattern="ERROR", transformation=MetricTransformation("Errors", "App"))
    >>> data = b"2024-05-01T12:00:05Z ERROR disk full\\n2024-05-01T12:00:09Z INFO ok\\n"
    >>> events, problems = parse_log_events(data, "app.log")
    >>> [(e.timestamp_ms, e.message) for e in events], problems
    ([(1714564805000, '2024-05-01T12:00:05Z ERROR disk full'), (1714564809000, '2024-05-01T12:00:09Z INFO ok')], [])
    >>> store = MetricStore()
    >>> summary = LogEventScanner([f]).scan_bytes(data, metrics=store)
    >>> summary.log_events, dict(summary.filter_matches), [(d.sample_count, d.sum) for d in store.datapoints()]
    (2, {'us-east-1/app/errors': 1}, [(1, 1.0)])
"""

from __future__ import annotations

import gzip
import json
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trailmatch import _core, model
from trailmatch.errors import FilterPatternError
from trailmatch.metrics import MetricStore, event_time, selectors_of
from trailmatch.scan import Problem, Progress, ScanError, ScanSummary
from trailmatch.sources import Source

__all__ = ["LogEvent", "LogEventScanner", "parse_log_events"]

#: ISO 8601 at the start of a line (``aws logs tail`` prints ``<time> <stream> <message>``).
_ISO_AT_START = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})?(?=[\s,;|\]]|$)")
#: An access-log time: ``[01/May/2024:12:00:00 +0000]``.
_CLF = re.compile(r"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
_TIME_FIELDS = ("eventTime", "time", "timestamp", "@timestamp")


@dataclass(frozen=True)
class LogEvent:
    """One log event: its time (Unix milliseconds, as CloudWatch Logs has it) and message."""

    timestamp_ms: int
    message: str


def _iso_ms(text: str) -> int | None:
    """Unix milliseconds of an ISO 8601 time (no offset: UTC), or ``None``."""
    m = _ISO_AT_START.match(text.strip())
    if m is None or m.end() != len(text.strip()):
        return None
    return _iso_match_ms(m)


def _iso_match_ms(m: re.Match[str]) -> int | None:
    """The time :data:`_ISO_AT_START` found, in the form :func:`~trailmatch.metrics.event_time`
    reads (fraction to 6 digits, ``±HH:MM`` offsets, no offset: UTC)."""
    date, clock, fraction, zone = m.groups()
    if zone and zone not in ("Z", "z") and ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    fraction = fraction[:7].ljust(7, "0") if fraction else ""
    try:
        when = event_time(f"{date}T{clock}{fraction}{zone or 'Z'}")
    except ValueError:
        return None
    return int(when.timestamp() * 1000)


def _time_ms(value: Any) -> int | None:
    """A ``timestamp`` field: Unix milliseconds (an integer) or an ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return _iso_ms(value)
    return None


def _text_time_ms(line: str) -> int | None:
    m = _ISO_AT_START.match(line)
    if m is not None:
        return _iso_match_ms(m)
    c = _CLF.search(line, 0, 200)
    if c is not None:
        try:
            return int(datetime.strptime(c.group(1), "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)
        except ValueError:
            return None
    return None


def _decompress(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        # keep what a damaged stream still gives (zlib with gzip framing, member by member)
        d = zlib.decompressobj(wbits=31)
        try:
            return d.decompress(data)
        except zlib.error:
            return b""


def _documents(text: str) -> Iterator[tuple[int, Any]]:
    """Concatenated JSON documents (Firehose writes subscription payloads back to back)."""
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        if at >= len(text):
            return
        doc, end = decoder.raw_decode(text, at)
        yield at, doc
        at = end


def parse_log_events(data: bytes, name: str) -> tuple[list[LogEvent], list[Problem]]:
    """The log events of one input (any form of the module docs, gzip or not), and the problems
    (lines or events without a usable time, unreadable documents)."""
    raw = _decompress(data)
    text = raw.decode("utf-8", errors="replace")
    events: list[LogEvent] = []
    problems: list[Problem] = []
    stripped = text.lstrip()
    if stripped.startswith("{") and ('"events"' in text[:4096] or '"logEvents"' in text[:4096]):
        try:
            documents = list(_documents(text))
        except json.JSONDecodeError:
            documents = []
        exports = [d for _, d in documents if isinstance(d, dict) and ("events" in d or "logEvents" in d)]
        if documents and len(exports) == len(documents):
            for offset, doc in documents:
                if doc.get("messageType") == "CONTROL_MESSAGE":
                    continue
                items = doc.get("events", doc.get("logEvents"))
                if not isinstance(items, list):
                    problems.append(Problem(name, "'events' / 'logEvents' is not a list", None, offset))
                    continue
                for i, item in enumerate(items):
                    when = _time_ms(item.get("timestamp")) if isinstance(item, dict) else None
                    message = item.get("message") if isinstance(item, dict) else None
                    if when is None or not isinstance(message, str):
                        problems.append(
                            Problem(name, f"log event {i}: needs a timestamp (ms) and a message", i, offset)
                        )
                        continue
                    events.append(LogEvent(when, message))
            return events, problems
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        here, offset = offset, offset + len(line.encode("utf-8", errors="replace")) + 1
        line = line.rstrip("\r")
        if not line.strip():
            continue
        stamp: int | None = None
        message = line
        if line.lstrip().startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                if isinstance(doc.get("message"), str) and "timestamp" in doc:
                    stamp, message = _time_ms(doc["timestamp"]), doc["message"]
                else:
                    stamp = next((t for f in _TIME_FIELDS if (t := _time_ms(doc.get(f))) is not None), None)
        if stamp is None and not line.lstrip().startswith("{"):
            stamp = _text_time_ms(line)
        if stamp is None:
            problems.append(
                Problem(
                    name,
                    f"line {number}: no time (start the line with an ISO 8601 time, or give JSON with "
                    "'timestamp' and 'message', or `aws logs filter-log-events` output)",
                    number - 1,
                    here,
                )
            )
            continue
        events.append(LogEvent(stamp, message))
    return events, problems


class LogEventScanner:
    """Metric filters over log events (see the module docs): every event is a log event of every
    filter's log group.

    Raises:
        ScanError: a metric filter's pattern is invalid (each is named).
    """

    #: How many problems a summary keeps (all are counted).
    max_problems = 1000

    def __init__(self, metric_filters: Sequence[model.MetricFilter]) -> None:
        self.metric_filters = list(metric_filters)
        self.filters = _core.FilterSet()
        failures = []
        for i, f in enumerate(self.metric_filters):
            try:
                self.filters.add(str(i), f.filter_pattern, values=selectors_of(f))
            except FilterPatternError as e:
                where = str(f.location) if f.location else "(rules)"
                failures.append(f"{where}: metric filter {f.name}: {e}")
        if failures:
            raise ScanError("\n".join(failures))

    def _publish(self, events: list[LogEvent], summary: ScanSummary, metrics: MetricStore | None) -> None:
        seconds: Counter[int] = Counter()
        logged: list[tuple[int, int, list[tuple[int, list[str | None]]]]] = []
        for index, (event, found) in enumerate(
            zip(events, self.filters.match_many([e.message for e in events]), strict=True)
        ):
            second = event.timestamp_ms // 1000
            seconds[second] += 1
            if found:
                hits = [(int(key), values) for key, _extracted, values in found]
                for key, _ in hits:
                    summary.filter_matches[self.metric_filters[key].key] += 1
                logged.append((index, second, hits))
        summary.log_events += len(events)
        summary.records += len(events)
        if metrics is not None:
            summary.samples += metrics.add_batch(self.metric_filters, sorted(seconds.items()), logged)

    def _problem(self, summary: ScanSummary, problem: Problem, on_problem: Callable[[Problem], None] | None) -> None:
        summary.report(problem, self.max_problems)
        if on_problem is not None:
            on_problem(problem)

    def scan_bytes(self, data: bytes, *, name: str = "<bytes>", metrics: MetricStore | None = None) -> ScanSummary:
        """Reads one input held in memory."""
        summary = ScanSummary(files=1, bytes=len(data))
        events, problems = parse_log_events(data, name)
        for p in problems:
            self._problem(summary, p, None)
        self._publish(events, summary, metrics)
        return summary

    def scan(
        self,
        sources: Iterable[Source],
        *,
        metrics: MetricStore | None = None,
        progress: Progress | None = None,
        on_problem: Callable[[Problem], None] | None = None,
        ignored: Iterable[tuple[str, str]] = (),
    ) -> ScanSummary:
        """Reads every source in order and returns the summary (an unreadable source is a
        problem; the others are read)."""
        summary = ScanSummary(ignored=list(ignored))
        started = time.monotonic()
        for source in sources:
            summary.files += 1
            try:
                if source.path is not None:
                    with open(source.path, "rb") as f:
                        data = f.read()
                else:
                    assert source.load is not None
                    data = source.load()
            except Exception as e:  # an unreadable source is reported; the others are read
                self._problem(summary, Problem.unreadable(source.name, e), on_problem)
                continue
            summary.bytes += len(data)
            summary.gzip_files += int(data[:2] == b"\x1f\x8b")
            events, problems = parse_log_events(data, source.name)
            for p in problems:
                self._problem(summary, p, on_problem)
            self._publish(events, summary, metrics)
            if progress is not None:
                progress.show(summary)
        if progress is not None:
            progress.show(summary, final=True)
            progress.close()
        summary.seconds = time.monotonic() - started
        return summary
