"""Replaying CloudTrail data through a deployment of EventBridge rules.

:class:`Scanner` compiles every rule of a :class:`~trailmatch.model.Deployment` into the Rust
replay engine, reads the sources in parallel (reading, decompression, splitting and matching
run in Rust without the GIL; Python sees only matches and problems), and for each match:

* counts it for the rule;
* forwards the event to each target that is an event bus — across regions too — where the
  receiving bus's rules match it; a rule on the receiving bus does not forward it again (one
  hop, as EventBridge does: "EventBridge can't route events received from a sender event bus
  to a third event bus");
* hands every other (rule, target, event) to the caller's ``deliver`` function.

Results come back in input order whatever the number of threads, so a run is reproducible.

Example:
    >>> from trailmatch.model import Deployment, Rule, Target
    >>> rule = Rule(name="iam", region="us-east-1", account="111122223333",
    ...             event_pattern='{"source": ["aws.iam"]}',
    ...             targets=(Target(id="t", arn="arn:aws:sns:us-east-1:111122223333:alerts"),))
    >>> scanner = Scanner(Deployment(rules=[rule]))
    >>> data = b'{"Records": [{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", '
    >>> data += b'"awsRegion": "us-east-1", "eventID": "e1", "readOnly": false}]}'
    >>> seen = []
    >>> summary = scanner.scan_bytes(data, lambda r, t, event, event_id: seen.append((r.name, t.id, event_id)))
    >>> seen, summary.records, summary.matches_by_rule[rule.key]
    ([('iam', 't', 'e1')], 1, 1)
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from trailmatch import _core, model
from trailmatch.alarms import AlarmReport
from trailmatch.errors import FilterPatternError, PatternError
from trailmatch.metrics import MetricStore, selectors_of
from trailmatch.model import bus_of
from trailmatch.sources import Source
from trailmatch.transform import EventJSON

__all__ = [
    "DeliverFn",
    "Problem",
    "Progress",
    "ScanError",
    "ScanSummary",
    "Scanner",
    "bus_of",
    "render_alarm_report",
    "render_summary",
]

#: ``deliver(rule, target, event, event_id)``: called for every (rule, non-bus target, event).
#: ``event`` is an :class:`~trailmatch.transform.EventJSON`: a mapping parsed on first use.
DeliverFn = Callable[[model.Rule, model.Target, EventJSON, str], None]


@dataclass(frozen=True)
class _Plan:
    rule: model.Rule
    key: str
    deliver_to: tuple[model.Target, ...]
    #: (``region/bus``, region, bus) per event-bus target.
    forward_to: tuple[tuple[str, str, str], ...]


class ScanError(ValueError):
    """The deployment cannot be replayed (an invalid pattern); the message names every rule
    concerned, with its file and line."""


@dataclass(frozen=True)
class Problem:
    """A part of a source that could not be read or matched."""

    source: str
    message: str
    index: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        where = self.source if self.offset is None else f"{self.source}: byte {self.offset}"
        return f"{where}: {self.message}"

    @classmethod
    def unreadable(cls, source: str, error: Exception) -> Problem:
        """A source that could not be read at all (missing, unreadable, an S3 error)."""
        reason = error.strerror if isinstance(error, OSError) and error.strerror else f"{type(error).__name__}: {error}"
        return cls(source, f"cannot read: {reason}")


@dataclass
class ScanSummary:
    """What a scan read, matched, forwarded and skipped (deliveries are the dispatcher's)."""

    files: int = 0
    gzip_files: int = 0
    ignored: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    records: int = 0
    events: int = 0
    read_only: int = 0
    matched_events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    #: The first problems (all are counted in ``errors``; see ``Scanner.max_problems``).
    problems: list[Problem] = field(default_factory=list)
    #: Matches per rule key (``region/bus/name``), forwarded events included.
    matches_by_rule: Counter[str] = field(default_factory=Counter)
    #: Events forwarded per target bus ``region/bus``.
    forwarded: Counter[str] = field(default_factory=Counter)
    #: Events forwarded per forwarding rule key.
    forwarded_by_rule: Counter[str] = field(default_factory=Counter)
    #: Events a rule on a receiving bus would have forwarded again (EventBridge does not).
    not_forwarded_again: int = 0
    deliveries: int = 0
    #: Records the metric filters saw (each one log event).
    log_events: int = 0
    #: Matches per metric filter key (``region/log group/name``).
    filter_matches: Counter[str] = field(default_factory=Counter)
    #: Metric samples published (matches and default values).
    samples: int = 0
    #: Records without a usable ``eventTime``: their matches count, no metric can place them.
    untimed: int = 0
    #: The first of those (source, record, why).
    untimed_examples: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def report(self, problem: Problem, keep: int) -> None:
        """Counts ``problem`` in ``errors`` and keeps it if fewer than ``keep`` are kept."""
        self.errors += 1
        if len(self.problems) < keep:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``--summary-json``)."""
        return {
            "files": self.files,
            "gzip_files": self.gzip_files,
            "ignored": [{"name": n, "reason": r} for n, r in self.ignored],
            "bytes": self.bytes,
            "records": self.records,
            "events": self.events,
            "read_only_events": self.read_only,
            "matched_events": self.matched_events,
            "skipped": dict(sorted(self.skipped.items())),
            "errors": self.errors,
            "problems": [str(p) for p in self.problems],
            "matches": dict(sorted(self.matches_by_rule.items())),
            "forwarded": dict(sorted(self.forwarded.items())),
            "forwarded_by_rule": dict(sorted(self.forwarded_by_rule.items())),
            "not_forwarded_again": self.not_forwarded_again,
            "deliveries": self.deliveries,
            "log_events": self.log_events,
            "filter_matches": dict(sorted(self.filter_matches.items())),
            "samples": self.samples,
            "untimed": self.untimed,
            "seconds": round(self.seconds, 3),
        }


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


class Progress:
    """A one-line progress bar on a terminal (``stream``), redrawn at most ``hz`` times a second.

    Off when ``stream`` is not a terminal unless ``force``; :meth:`close` clears the line.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> p = Progress(out, total_files=4, total_bytes=4000, force=True, hz=0)
        >>> p.update(files=1, bytes=1000, records=10, matches=2)
        >>> out.getvalue().strip()
        '[#######.......................] 1/4 files  1.0 kB/4.0 kB  10 records  2 matches  0:00:00'
    """

    def __init__(
        self,
        stream: TextIO | None,
        *,
        total_files: int,
        total_bytes: int | None,
        force: bool = False,
        hz: float = 8.0,
        width: int = 30,
    ) -> None:
        self.stream = stream
        self.enabled = stream is not None and (force or (hasattr(stream, "isatty") and stream.isatty()))
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.interval = 1.0 / hz if hz > 0 else 0.0
        self.width = width
        self.started = time.monotonic()
        self._last = -1e9
        self._drawn = False

    def update(self, *, files: int, bytes: int, records: int, matches: int, final: bool = False) -> None:
        """Redraws the line if enough time has passed (always when ``final``)."""
        if not self.enabled or self.stream is None:
            return
        now = time.monotonic()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        if self.total_bytes:
            fraction = min(bytes / self.total_bytes, 1.0)
        else:
            fraction = files / self.total_files if self.total_files else 1.0
        done = int(fraction * self.width)
        bar = "#" * done + "." * (self.width - done)
        size = _size(bytes) + (f"/{_size(self.total_bytes)}" if self.total_bytes else "")
        elapsed = int(now - self.started)
        clock = f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        line = f"[{bar}] {files}/{self.total_files} files  {size}  {records:,} records  {matches:,} matches  {clock}"
        self.stream.write("\r" + line)
        self.stream.flush()
        self._drawn = True

    def show(self, summary: ScanSummary, *, final: bool = False) -> None:
        """:meth:`update` from a scan's running summary."""
        matches = sum(summary.matches_by_rule.values())
        self.update(files=summary.files, bytes=summary.bytes, records=summary.records, matches=matches, final=final)

    def close(self) -> None:
        """Ends the bar's line."""
        if self._drawn and self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class Scanner:
    """Rules of a deployment, compiled for replay (see the module docs).

    Args:
        deployment: the rules (their targets are used for forwarding and delivery).
        read_only: how ``ENABLED`` rules recognise read-only management events: ``"flag"``
            (the record's ``readOnly``) or ``"name-prefix"`` (``Get``/``List``/``Describe``).
        ids: envelope ``id``: ``"deterministic"`` (UUIDv5 of ``eventID``) or ``"random"``.
        source_overrides: ``eventSource`` → ``source`` overrides.
        vpce_detail_type: ``detail-type`` for ``AwsVpceEvent`` records (default: not delivered).
        validation: ``"full"`` (every byte checked) or ``"lazy"``.
        threads: reader threads (default: the number of cores, at most 8).

    Metric filters of the deployment see every record as one log event of their log group, as
    a (multi-region) trail delivers its records to CloudWatch Logs: every region, read-only
    events and records EventBridge never gets included; the log event's time is the record's
    ``eventTime``. Pass a :class:`~trailmatch.metrics.MetricStore` to :meth:`scan` to publish
    their metrics.

    Raises:
        ScanError: a rule's pattern or a metric filter's pattern is invalid (each is named).
    """

    #: How many problems a summary keeps (all are counted).
    max_problems = 1000

    def __init__(
        self,
        deployment: model.Deployment,
        *,
        read_only: Literal["flag", "name-prefix"] = "flag",
        ids: Literal["deterministic", "random"] = "deterministic",
        source_overrides: dict[str, str] | None = None,
        vpce_detail_type: str | None = None,
        validation: Literal["full", "lazy"] = "full",
        threads: int | None = None,
    ) -> None:
        self.deployment = deployment
        self.rules: list[model.Rule] = list(deployment.rules)
        self.threads = max(1, threads if threads is not None else min(os.cpu_count() or 1, 8))
        default_account = self.rules[0].account if self.rules else model.DEFAULT_ACCOUNT
        self.replay = _core.Replay(
            read_only=read_only,
            ids=ids,
            source_overrides=sorted((source_overrides or {}).items()),
            vpce_detail_type=vpce_detail_type,
            default_account=default_account,
            validation=validation,
        )
        failures: dict[tuple[str, str], str] = {}
        for key, rule in enumerate(self.rules):
            try:
                self.replay.add_rule(key, rule.region, rule.bus, rule.state, rule.event_pattern)
            except PatternError as e:
                where = str(rule.location) if rule.location else "(rules)"
                failures.setdefault((where, rule.name), f"{where}: rule {rule.name}: {e}")
            except ValueError as e:
                where = str(rule.location) if rule.location else "(rules)"
                failures.setdefault((where, rule.name), f"{where}: rule {rule.name}: {e}")
        self.metric_filters: list[model.MetricFilter] = list(deployment.metric_filters)
        for key, f in enumerate(self.metric_filters):
            try:
                self.replay.add_filter(key, f.filter_pattern, selectors_of(f))
            except FilterPatternError as e:
                where = str(f.location) if f.location else "(rules)"
                failures.setdefault((where, f.name), f"{where}: metric filter {f.name}: {e}")
        if failures:
            raise ScanError("\n".join(failures.values()))
        # Per rule, computed once: its key, the targets delivered to, the buses forwarded to.
        self._plans = [
            _Plan(
                rule,
                rule.key,
                tuple(t for t in rule.targets if bus_of(t.arn) is None),
                tuple((f"{b[0]}/{b[1]}", b[0], b[1]) for t in rule.targets if (b := bus_of(t.arn)) is not None),
            )
            for rule in self.rules
        ]
        # The same, shaped for the dispatch loop: per rule key, its (rule, target) deliveries,
        # whether it forwards, and the keys of rules that neither deliver nor forward.
        self._pairs = [tuple((p.rule, t) for t in p.deliver_to) for p in self._plans]
        self._forwards = [bool(p.forward_to) for p in self._plans]
        self._quiet = frozenset(k for k, p in enumerate(self._plans) if not p.deliver_to and not p.forward_to)

    # --- matching -------------------------------------------------------------------------------

    def _dispatch(
        self,
        result: dict[str, Any],
        name: str,
        summary: ScanSummary,
        deliver: DeliverFn,
        metrics: MetricStore | None,
    ) -> None:
        stats = result["stats"]
        summary.bytes += stats["bytes"]
        summary.gzip_files += int(stats["gzip"])
        summary.records += stats["records"]
        summary.events += stats["events"]
        summary.read_only += stats["read_only"]
        summary.matched_events += stats["matched_events"]
        summary.skipped.update(stats["skipped"])
        for index, offset, message in result["errors"]:
            summary.report(Problem(name, message, index, offset), self.max_problems)
        if self.metric_filters:
            summary.log_events += sum(n for _, n in stats["log_seconds"]) + stats["untimed"]
            for _index, _time, hits in result["logged"]:
                for key, _values in hits:
                    summary.filter_matches[self.metric_filters[key].key] += 1
            for index, offset, why, hits in result["untimed"]:
                for key, _values in hits:
                    summary.filter_matches[self.metric_filters[key].key] += 1
                summary.untimed += 1
                if len(summary.untimed_examples) < 10:
                    summary.untimed_examples.append(Problem(name, f"record {index}: {why}", index, offset))
            if metrics is not None:
                summary.samples += metrics.add_batch(self.metric_filters, stats["log_seconds"], result["logged"])
        # Matches per rule and their deliveries are counted from Rust's per-rule totals; per
        # match, Python only builds the event and calls ``deliver`` (and forwards, rarely).
        plans = self._plans
        for key, n in result["match_counts"]:
            plan = plans[key]
            summary.matches_by_rule[plan.key] += n
            summary.deliveries += n * len(plan.deliver_to)
        pairs, forwards, quiet = self._pairs, self._forwards, self._quiet
        for _index, _offset, keys, event_json, event_id, _region, event_time in result["matches"]:
            if quiet and all(k in quiet for k in keys):
                continue
            event = EventJSON(event_json, time=event_time)
            for key in keys:
                for rule, target in pairs[key]:
                    deliver(rule, target, event, event_id)
                if forwards[key]:
                    self._forward(plans[key], event, event_id, summary, deliver, forwarded=False)

    def _matched(
        self, plan: _Plan, event: EventJSON, event_id: str, summary: ScanSummary, deliver: DeliverFn, *, forwarded: bool
    ) -> None:
        summary.matches_by_rule[plan.key] += 1
        for target in plan.deliver_to:
            summary.deliveries += 1
            deliver(plan.rule, target, event, event_id)
        self._forward(plan, event, event_id, summary, deliver, forwarded=forwarded)

    def _forward(
        self, plan: _Plan, event: EventJSON, event_id: str, summary: ScanSummary, deliver: DeliverFn, *, forwarded: bool
    ) -> None:
        for name, region, bus in plan.forward_to:
            if forwarded:
                summary.not_forwarded_again += 1
                continue
            summary.forwarded[name] += 1
            summary.forwarded_by_rule[plan.key] += 1
            for key in self.replay.match_forwarded(region, bus, event.text):
                self._matched(self._plans[key], event, event_id, summary, deliver, forwarded=True)

    # --- driving --------------------------------------------------------------------------------

    def scan_bytes(
        self, data: bytes, deliver: DeliverFn, *, name: str = "<bytes>", metrics: MetricStore | None = None
    ) -> ScanSummary:
        """Replays one input held in memory (metric filters publish into ``metrics``)."""
        summary = ScanSummary(files=1)
        started = time.monotonic()
        self._dispatch(self.replay.process(data), name, summary, deliver, metrics)
        summary.seconds = time.monotonic() - started
        return summary

    def _read(self, source: Source) -> dict[str, Any]:
        if source.path is not None:
            return self.replay.process_file(source.path)
        assert source.load is not None
        return self.replay.process(source.load())

    def _results(self, sources: Sequence[Source]) -> Iterator[tuple[Source, dict[str, Any] | Exception]]:
        """Each source with its result (or what kept it from being read), in order.

        Local files are read by Rust threads that never take the GIL (``process_files``): the
        GIL stays with this thread, which dispatches. Sources with a loader (stdin, S3) are
        loaded and replayed by Python threads, whose downloads overlap.
        """
        paths = [s.path for s in sources]
        if all(p is not None for p in paths):
            files = self.replay.process_files([p for p in paths if p is not None], threads=self.threads)
            try:
                yield from zip(sources, files, strict=True)
            finally:
                # After the last file the workers are done; after an error or Ctrl-C, do not
                # wait for a file being read (it may be stalled): they stop on their own.
                files.close(wait=False)
            return
        window = 2 * self.threads
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="trailmatch-read") as pool:
            pending: deque[tuple[Source, Future[dict[str, Any]]]] = deque()
            it = iter(sources)
            exhausted = False
            while True:
                while not exhausted and len(pending) < window:
                    source = next(it, None)
                    if source is None:
                        exhausted = True
                        break
                    pending.append((source, pool.submit(self._read, source)))
                if not pending:
                    return
                source, future = pending.popleft()
                try:
                    result: dict[str, Any] | Exception = future.result()
                except Exception as e:  # an unreadable source is reported; the others are read
                    result = e
                yield source, result

    def scan(
        self,
        sources: Sequence[Source],
        deliver: DeliverFn,
        *,
        progress: Progress | None = None,
        on_problem: Callable[[Problem], None] | None = None,
        ignored: Iterable[tuple[str, str]] = (),
        metrics: MetricStore | None = None,
    ) -> ScanSummary:
        """Replays ``sources`` (read in parallel, handled in order) and returns the summary;
        the metric filters publish into ``metrics`` (if given).

        A source that cannot be read at all (missing, unreadable, an S3 error) is a problem of
        the summary; the others are still read. ``on_problem`` sees each problem as it is found.
        """
        summary = ScanSummary(ignored=list(ignored))
        started = time.monotonic()
        for source, result in self._results(sources):
            summary.files += 1
            before = summary.errors
            if isinstance(result, Exception):  # an unreadable source is reported; the others are read
                summary.report(Problem.unreadable(source.name, result), self.max_problems)
            else:
                self._dispatch(result, source.name, summary, deliver, metrics)
            if on_problem is not None:
                for problem in summary.problems[before : summary.errors]:
                    on_problem(problem)
            if progress is not None:
                progress.show(summary)
        if progress is not None:
            progress.show(summary, final=True)
            progress.close()
        summary.seconds = time.monotonic() - started
        return summary


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: frozenset[int]) -> list[str]:
    cells = [[str(h) for h in headers]] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return out


def render_summary(
    summary: ScanSummary,
    rules: Sequence[model.Rule],
    deliveries: dict[str, Counter[str]] | None = None,
    *,
    max_problems: int = 10,
    metric_filters: Sequence[model.MetricFilter] = (),
) -> str:
    """The end-of-scan report: totals, then one row per rule (matches and delivery outcomes),
    then one row per metric filter (matches).

    ``deliveries`` maps a rule ARN to outcome counts (``delivered``, ``duplicate``, ``failed``,
    ``invalid``, ``dry-run``).

    Example:
        >>> r = model.Rule(name="iam", region="us-east-1", account="1", event_pattern="{}")
        >>> s = ScanSummary(files=2, bytes=2048, records=10, events=9, matched_events=3)
        >>> s.skipped["no eventSource"] = 1
        >>> s.matches_by_rule[r.key] = 3
        >>> print(render_summary(s, [r], {r.arn: Counter(delivered=3)}))  # doctest: +NORMALIZE_WHITESPACE
        Scanned 2 files (2.0 kB, 0 gzip) in 0.0 s: 10 records, 9 events (0 read-only), 3 matched
        Skipped 1 record CloudTrail does not deliver: no eventSource 1
        rule  region     bus      state    matches  delivered
        ----  ---------  -------  -------  -------  ---------
        iam   us-east-1  default  ENABLED        3          3
    """
    deliveries = deliveries or {}
    lines = [
        f"Scanned {summary.files:,} file{'s' if summary.files != 1 else ''} ({_size(summary.bytes)}, "
        f"{summary.gzip_files:,} gzip) in {summary.seconds:.1f} s: {summary.records:,} records, "
        f"{summary.events:,} events ({summary.read_only:,} read-only), {summary.matched_events:,} matched"
    ]
    if summary.ignored:
        reasons = Counter(r for _, r in summary.ignored)
        lines.append("Ignored " + ", ".join(f"{n:,} {r}{'s' if n != 1 else ''}" for r, n in sorted(reasons.items())))
    skipped = sum(summary.skipped.values())
    if skipped:
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.skipped.items()))
        lines.append(f"Skipped {skipped:,} record{'s' if skipped != 1 else ''} CloudTrail does not deliver: {detail}")
    if summary.forwarded:
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.forwarded.items()))
        lines.append(f"Forwarded to buses: {detail}")
    if summary.not_forwarded_again:
        lines.append(f"Not forwarded a second time (one hop only): {summary.not_forwarded_again:,}")
    outcomes = sorted({o for c in deliveries.values() for o in c})
    forwarding = ["forwarded"] if summary.forwarded_by_rule else []
    headers = ["rule", "region", "bus", "state", "matches", *forwarding, *outcomes]
    rows = []
    for rule in rules:
        counts = deliveries.get(rule.arn, Counter())
        rows.append(
            [rule.name, rule.region, rule.bus, rule.state, summary.matches_by_rule.get(rule.key, 0)]
            + [summary.forwarded_by_rule.get(rule.key, 0) for _ in forwarding]
            + [counts.get(o, 0) for o in outcomes]
        )
    if rows:
        lines.extend(_table(headers, rows, frozenset(range(4, len(headers)))))
    if metric_filters:
        lines.append(
            f"Metric filters saw {summary.log_events:,} log event{'s' if summary.log_events != 1 else ''} "
            f"and published {summary.samples:,} sample{'s' if summary.samples != 1 else ''}"
        )
        if summary.untimed:
            lines.append(
                f"{summary.untimed:,} log event{'s' if summary.untimed != 1 else ''} without a usable eventTime: "
                "their matches are counted, but no metric can place them in a minute; first:"
            )
            lines.extend(f"  {p}" for p in summary.untimed_examples[:3])
        lines.extend(
            _table(
                ["metric filter", "region", "log group", "metric", "matches"],
                (
                    [
                        f.name,
                        f.region,
                        f.log_group,
                        f"{f.transformation.metric_namespace}/{f.transformation.metric_name}",
                        summary.filter_matches.get(f.key, 0),
                    ]
                    for f in metric_filters
                ),
                frozenset({4}),
            )
        )
    if summary.errors:
        lines.append(f"Errors: {summary.errors:,} (each reported; reading went on after it where the data allowed)")
        lines.extend(f"  {p}" for p in summary.problems[:max_problems])
        if summary.errors > max_problems:
            lines.append(f"  ... and {summary.errors - max_problems:,} more")
    return "\n".join(lines)


def render_alarm_report(
    report: AlarmReport,
    alarms: Sequence[model.Alarm],
    deliveries: dict[str, Counter[str]] | None = None,
    *,
    max_transitions: int = 20,
) -> str:
    """One row per alarm after a scan: its state, its transitions in this run (and to ``ALARM``),
    the tentative ones after the data, and its actions' delivery outcomes; then the last
    ``max_transitions`` transitions with their reasons, and the warnings.

    Example:
        >>> a = model.Alarm(name="bucket-created", region="us-east-1", account="1", metric_name="M", namespace="N",
        ...                 statistic="Sum", period=60, evaluation_periods=1, threshold=0.0,
        ...                 comparison_operator="GreaterThanThreshold")
        >>> print(render_alarm_report(AlarmReport(), [a]))  # doctest: +NORMALIZE_WHITESPACE
        alarm           region     state  transitions  to ALARM  tentative
        --------------  ---------  -----  -----------  --------  ---------
        bucket-created  us-east-1  -                0         0          0
    """
    deliveries = deliveries or {}
    outcomes = sorted({o for a in alarms for o in deliveries.get(a.arn, Counter())})
    headers = ["alarm", "region", "state", "transitions", "to ALARM", "tentative", *outcomes]
    rows = []
    committed = Counter(t.alarm_arn for t in report.transitions)
    to_alarm = Counter(t.alarm_arn for t in report.transitions if t.new_state == "ALARM")
    tentative = Counter(t.alarm_arn for t in report.tentative)
    for a in alarms:
        record = report.records.get(a.arn)
        counts = deliveries.get(a.arn, Counter())
        rows.append(
            [
                a.name,
                a.region,
                record.state if record is not None else "-",
                committed[a.arn],
                to_alarm[a.arn],
                tentative[a.arn],
            ]
            + [counts.get(o, 0) for o in outcomes]
        )
    lines = _table(headers, rows, frozenset(range(3, len(headers)))) if rows else []
    shown = report.transitions[-max_transitions:] if max_transitions else []
    if len(report.transitions) > len(shown):
        lines.append(f"Last {len(shown)} of {len(report.transitions):,} transitions:")
    elif shown:
        lines.append("Transitions:")
    for label, items in (("", shown), (" (tentative: after the data)", report.tentative[:max_transitions])):
        for t in items:
            when = t.time.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"  {when}  {t.alarm_name}  {t.old_state} -> {t.new_state}{label}: {t.reason}")
    lines.extend(f"Alarm warning: {w}" for w in report.warnings)
    return "\n".join(lines)


def print_problem(stream: TextIO = sys.stderr) -> Callable[[Problem], None]:
    """A problem reporter writing one line per problem to ``stream``."""

    def report(problem: Problem) -> None:
        stream.write(f"trailmatch: {problem}\n")

    return report
