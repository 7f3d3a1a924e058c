"""``trailmatch alarms show``, ``alarms plot`` and ``alarms metrics``: what a scan's alarm
simulation left in its state file.

A scan with ``--state FILE`` keeps there the metrics its metric filters published, each
alarm's definition, state and transitions. These commands read that file (they never write
it): ``show`` prints each alarm's state, last transition and reason (``--json``), ``plot``
draws one PNG per alarm (:mod:`trailmatch.plot`; needs matplotlib), ``metrics`` exports the
per-minute datapoints as JSON Lines or CSV.

Exit status: 0; 2 for a usage error, a state file that does not exist or cannot be read, an
unknown alarm name, or plotting without matplotlib.

Example:
    >>> import argparse, io, contextlib, os, tempfile
    >>> from trailmatch.cli import Parser
    >>> parser = Parser(prog="trailmatch")
    >>> register(parser.add_subparsers(dest="command", parser_class=Parser))
    >>> args = parser.parse_args(["alarms", "show", "--state", os.path.join(tempfile.mkdtemp(), "none.db")])
    >>> try:
    ...     args.run(args)
    ... except Exception as e:
    ...     print(type(e).__name__, str(e).split(":")[0])
    InputError --state ...none.db
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from trailmatch.alarms import AlarmRecord, aws_time, load_records
from trailmatch.cli import InputError, Parser
from trailmatch.metrics import MetricStore
from trailmatch.state import StateError, StateStore

__all__ = ["register", "show_records"]


def _open_state(path: str) -> StateStore:
    if not Path(path).is_file():
        raise InputError(f"--state {path}: no such file (run `trailmatch scan --state {path} ...` first)")
    try:
        return StateStore(path)
    except StateError as e:
        raise InputError(f"--state {path}: {e}") from e


def _select(records: dict[str, AlarmRecord], names: Sequence[str] | None) -> list[AlarmRecord]:
    chosen = sorted(records.values(), key=lambda r: (r.alarm.name, r.alarm.region, r.alarm.account))
    if not names:
        return chosen
    known = {r.alarm.name for r in chosen} | {r.alarm.arn for r in chosen}
    unknown = [n for n in names if n not in known]
    if unknown:
        listed = ", ".join(sorted({r.alarm.name for r in chosen})) or "none"
        raise InputError(f"--alarm {', '.join(unknown)}: no such alarm in the state file (alarms: {listed})")
    wanted = set(names)
    return [r for r in chosen if r.alarm.name in wanted or r.alarm.arn in wanted]


def _summary(record: AlarmRecord) -> dict[str, Any]:
    a = record.alarm
    last = record.history[-1] if record.history else None
    return {
        "name": a.name,
        "region": a.region,
        "account": a.account,
        "arn": a.arn,
        "state": record.state,
        "state_updated": aws_time(record.state_updated or record.created),
        "reason": record.reason,
        "reason_data": record.reason_data,
        "last_evaluated": aws_time(record.last_evaluated) if record.last_evaluated else None,
        "last_transition": last.to_dict() if last else None,
        "transitions": len(record.history),
        "tentative": [t.to_dict() for t in record.tail],
    }


def _when(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def show_records(records: Sequence[AlarmRecord], stream: Any, *, as_json: bool = False) -> None:
    """Prints each alarm's state, last transition and reason (as JSON with ``as_json``).

    Example:
        >>> import io
        >>> from datetime import timezone
        >>> from trailmatch.model import Alarm
        >>> a = Alarm(name="bucket-created", region="ap-northeast-1", account="1", metric_name="M", namespace="N",
        ...           statistic="Sum", period=60, evaluation_periods=1, threshold=0.0,
        ...           comparison_operator="GreaterThanThreshold")
        >>> t0 = datetime(2023, 12, 21, 11, 35, tzinfo=timezone.utc)
        >>> out = io.StringIO()
        >>> show_records([AlarmRecord(a, t0, t0)], out)
        >>> print(out.getvalue(), end="")
        INSUFFICIENT_DATA  bucket-created (ap-northeast-1, 1) since 2023-12-21 11:35:00 UTC
          reason: Unchecked: Initial alarm creation
          transitions: none
    """
    if as_json:
        stream.write(json.dumps([_summary(r) for r in records], indent=2, ensure_ascii=False) + "\n")
        return
    for r in records:
        a = r.alarm
        stream.write(f"{r.state:<17}  {a.name} ({a.region}, {a.account}) since {_when(r.state_updated or r.created)}\n")
        stream.write(f"  reason: {r.reason}\n")
        if r.history:
            last = r.history[-1]
            stream.write(
                f"  transitions: {len(r.history)}, the last {last.old_state} -> {last.new_state} "
                f"at {_when(last.time)}\n"
            )
        else:
            stream.write("  transitions: none\n")
        for t in r.tail:
            stream.write(f"  after the data (tentative): {t.old_state} -> {t.new_state} at {_when(t.time)}\n")


def _cmd_show(args: argparse.Namespace) -> int:
    with _open_state(args.state) as state:
        records = _select(load_records(state), args.alarm)
    show_records(records, sys.stdout, as_json=args.json)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from trailmatch.plot import PlotError, alarm_filename, plot_alarm

    with _open_state(args.state) as state:
        records = _select(load_records(state), args.alarm)
        metrics = MetricStore.load(state)
    if not records:
        print("trailmatch: no alarms in the state file", file=sys.stderr)
        return 0
    out = Path(args.out)
    for record in records:
        try:
            path = plot_alarm(record, metrics, out / alarm_filename(record.alarm))
        except PlotError as e:
            raise InputError(str(e)) from e
        print(path)
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    with _open_state(args.state) as state:
        metrics = MetricStore.load(state)
    stream = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout  # noqa: SIM115
    try:
        if args.format == "csv":
            metrics.write_csv(stream)
        else:
            metrics.write_jsonl(stream)
    finally:
        if args.out:
            stream.close()
    return 0


def register(commands: Any) -> None:
    """Adds ``alarms`` (``show``, ``plot``, ``metrics``) to the ``trailmatch`` sub-command parsers."""
    alarms = commands.add_parser(
        "alarms",
        help="show and plot the CloudWatch alarms a scan simulated",
        description="Reads the state file of `trailmatch scan --state FILE`: alarm states, transitions, metrics.",
    )
    sub = alarms.add_subparsers(dest="alarms_command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    show = sub.add_parser("show", help="each alarm's state, last transition and reason")
    show.add_argument("--state", required=True, metavar="FILE", help="the state file of a scan")
    show.add_argument("--alarm", action="append", metavar="NAME", help="only this alarm (name or ARN; repeatable)")
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(run=_cmd_show)

    plot = sub.add_parser(
        "plot",
        help="one PNG per alarm: metric, threshold, ALARM periods, transitions",
        description="Writes <region>_<alarm name>.png into --out for each alarm (needs matplotlib: "
        "pip install 'trailmatch[plot]'). Prints the paths written.",
    )
    plot.add_argument("--state", required=True, metavar="FILE", help="the state file of a scan")
    plot.add_argument("--alarm", action="append", metavar="NAME", help="only this alarm (name or ARN; repeatable)")
    plot.add_argument("--out", required=True, metavar="DIR", help="directory for the PNG files (created)")
    plot.set_defaults(run=_cmd_plot)

    metrics = sub.add_parser("metrics", help="the per-minute datapoints metric filters published")
    metrics.add_argument("--state", required=True, metavar="FILE", help="the state file of a scan")
    metrics.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="JSON Lines (default) or CSV")
    metrics.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    metrics.set_defaults(run=_cmd_metrics)
