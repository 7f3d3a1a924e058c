"""Pictures of simulated alarms: one PNG per alarm with its metric, threshold, states and transitions.

The picture shows, in UTC, what the alarm evaluated: at each evaluation (every minute), the
statistic of its most recent period, placed at the period's start — the datapoints its
``StateReason`` quotes; for 1-minute periods these are the per-minute datapoints, for longer
ones a sliding window (spans of more than 200,000 evaluations are drawn per period aligned to
multiples of the period instead). Also the threshold, the time spent in ``ALARM`` (red) and
``INSUFFICIENT_DATA`` (grey), the end of the replayed data (dashed) and each transition (a
vertical line labelled with the new state and time; dotted when tentative, i.e. after the end
of the data).

matplotlib is an optional dependency (``pip install 'trailmatch[plot]'``), imported only when
a picture is drawn, with its headless Agg canvas (no display, no global pyplot state).

Example:
    >>> from trailmatch.model import Alarm
    >>> a = Alarm(name="bucket created!", region="ap-northeast-1", account="1", metric_name="M", namespace="N",
    ...           statistic="Sum", period=60, evaluation_periods=1, threshold=0.0,
    ...           comparison_operator="GreaterThanThreshold")
    >>> alarm_filename(a)
    'ap-northeast-1_bucket_created_.png'
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from trailmatch.alarms import ALARM, INSUFFICIENT_DATA, AlarmRecord, Transition
from trailmatch.metrics import MetricKey, MetricStore
from trailmatch.model import Alarm

__all__ = ["PlotError", "alarm_filename", "plot_alarm", "state_intervals"]

_SYMBOLS: Final = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_COLORS: Final = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#7f7f7f"}


class PlotError(RuntimeError):
    """A picture cannot be drawn (matplotlib is missing, the file cannot be written)."""


def alarm_filename(alarm: Alarm) -> str:
    """The file name of ``alarm``'s picture: ``<region>_<name>.png``, other characters than
    letters, digits, ``.``, ``-`` and ``_`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{alarm.region}_{alarm.name}") + ".png"


def state_intervals(
    record: AlarmRecord, end: datetime, *, tentative: bool = True
) -> list[tuple[datetime, datetime, str]]:
    """The alarm's states as ``(from, to, state)`` intervals from its creation to ``end``,
    through its committed transitions (and the tentative ones too when ``tentative``).

    Example:
        >>> from trailmatch.alarms import Transition
        >>> a = Alarm(name="a", region="us-east-1", account="1", metric_name="M", namespace="N", statistic="Sum",
        ...           period=60, evaluation_periods=1, threshold=0.0, comparison_operator="GreaterThanThreshold")
        >>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> up = Transition(a.arn, "a", t0 + timedelta(minutes=5), "INSUFFICIENT_DATA", "ALARM", "", "")
        >>> r = AlarmRecord(a, t0, t0, state="ALARM", history=[up])
        >>> [(s.minute, e.minute, state) for s, e, state in state_intervals(r, t0 + timedelta(minutes=9))]
        [(0, 5, 'INSUFFICIENT_DATA'), (5, 9, 'ALARM')]
    """
    transitions = record.transitions if tentative else record.history
    found: list[tuple[datetime, datetime, str]] = []
    begin, state = record.created, INSUFFICIENT_DATA
    if transitions:
        state = transitions[0].old_state
    for t in transitions:
        if t.time > begin:
            found.append((begin, min(t.time, end), state))
        begin, state = t.time, t.new_state
    if end > begin:
        found.append((begin, end, state))
    return [(b, e, s) for b, e, s in found if e > b]


def _matplotlib() -> tuple[Any, Any, Any]:
    try:
        figure = importlib.import_module("matplotlib.figure")
        agg = importlib.import_module("matplotlib.backends.backend_agg")
        dates = importlib.import_module("matplotlib.dates")
    except ImportError:
        raise PlotError(
            "drawing alarms needs matplotlib: pip install 'trailmatch[plot]' (or pip install matplotlib)"
        ) from None
    return figure, agg, dates


def _naive(when: datetime) -> datetime:
    # matplotlib's date axis is UTC by default: hand it naive UTC times
    return when.astimezone(timezone.utc).replace(tzinfo=None)


#: Above this many evaluations in the picture, periods are drawn aligned instead of sliding.
_MAX_SLIDING: Final = 200_000


def _series(
    metrics: MetricStore, key: MetricKey, alarm: Alarm, first: datetime, last: datetime
) -> tuple[list[datetime], list[float]]:
    """What the alarm saw: at each evaluation time ``t`` (every minute, every 10 s under a
    minute), the statistic of its most recent period ``[t - Period, t)``, placed at the period's
    start as in ``StateReason``; ``nan`` breaks the line where periods have no data. Over very
    long spans, periods aligned to multiples of the period instead."""
    period = alarm.period
    step = 10 if period < 60 else 60
    begin = int(first.timestamp()) // step * step
    finish = int(last.timestamp())
    xs: list[datetime] = []
    ys: list[float] = []
    sliding = (finish - begin) // step <= _MAX_SLIDING
    stride = step if sliding else period
    t = begin + period if sliding else begin // period * period
    previous: int | None = None
    while t <= finish + period:
        window_start = t - period if sliding else t
        stats = metrics.window(key, window_start, window_start + period, unit=alarm.unit)
        if stats is None:
            nxt = metrics.next_datapoint(key, window_start + period, unit=alarm.unit)
            if nxt is None:
                break
            # jump to the first window that holds the next datapoint
            t = max(t + stride, (nxt // stride) * stride + (stride if sliding else 0))
            continue
        when = datetime.fromtimestamp(window_start, tz=timezone.utc)
        if previous is not None and window_start - previous > stride:
            xs.append(_naive(datetime.fromtimestamp(previous + stride, tz=timezone.utc)))
            ys.append(float("nan"))
        xs.append(_naive(when))
        ys.append(stats.value(alarm.statistic))
        previous = window_start
        t += stride
    if previous is not None:
        xs.append(_naive(datetime.fromtimestamp(previous + stride, tz=timezone.utc)))
        ys.append(ys[-1])
    return xs, ys


def plot_alarm(
    record: AlarmRecord,
    metrics: MetricStore,
    path: str | Path,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Path:
    """Draws ``record``'s alarm over ``metrics`` into the PNG file ``path`` (directories are
    created); returns the path.

    ``start`` / ``end`` bound the picture; by default it spans the metric's datapoints and the
    alarm's transitions, with a few periods of margin.

    Raises:
        PlotError: matplotlib is not installed, or the file cannot be written.
    """
    figure_mod, agg, dates = _matplotlib()
    alarm = record.alarm
    period = alarm.period
    key = MetricKey.of(alarm.account, alarm.region, alarm.namespace, alarm.metric_name, alarm.dimensions)
    transitions: Sequence[Transition] = record.transitions
    points = list(metrics.datapoints(key, unit=alarm.unit))
    moments = [p.timestamp for p in points] + [t.time for t in transitions]
    margin = timedelta(seconds=max(period, 60) * 3)
    first = start or (min(moments) - margin if moments else record.created)
    last = end or (max(moments) + margin if moments else (record.last_evaluated or record.created) + margin)
    if last <= first:
        last = first + margin

    xs, ys = _series(metrics, key, alarm, first, last)

    fig = figure_mod.Figure(figsize=(13, 5), dpi=100)
    agg.FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for begin, finish, state in state_intervals(record, last):
        if state in (ALARM, INSUFFICIENT_DATA):
            ax.axvspan(
                _naive(max(begin, first)),
                _naive(finish),
                color=_COLORS[state],
                alpha=0.18 if state == ALARM else 0.10,
                linewidth=0,
                label=state,
            )
    if xs:
        label = (
            f"{alarm.statistic} per {period} s period"
            if period <= 60
            else f"{alarm.statistic} over {period} s, sliding\n(each evaluation's latest period)"
        )
        ax.step(xs, ys, where="post", color="#1f77b4", linewidth=1.5, label=label)
        ax.plot(xs, ys, "o", color="#1f77b4", markersize=2.5)
    symbol = _SYMBOLS.get(alarm.comparison_operator, alarm.comparison_operator)
    ax.axhline(
        alarm.threshold, color="#d62728", linestyle="--", linewidth=1.2, label=f"threshold {symbol} {alarm.threshold:g}"
    )
    if record.last_evaluated is not None and first < record.last_evaluated < last:
        ax.axvline(
            _naive(record.last_evaluated),
            color="black",
            alpha=0.5,
            linestyle="--",
            linewidth=1,
            label="end of the data",
        )
    for t in transitions:
        x = _naive(t.time)
        color = _COLORS.get(t.new_state, "black")
        ax.axvline(x, color=color, linestyle=":" if t.tentative else "-", linewidth=1.2)
        ax.annotate(
            f"{t.new_state}{' (tentative)' if t.tentative else ''} {t.time:%H:%M}",
            xy=(x, 0.98),
            xycoords=("data", "axes fraction"),
            xytext=(2, 0),
            textcoords="offset points",
            rotation=90,
            va="top",
            ha="left",
            fontsize=7,
            color=color,
        )
    ax.set_xlim(_naive(first), _naive(last))
    low = min([*(y for y in ys if y == y), alarm.threshold, 0.0])
    high = max([*(y for y in ys if y == y), alarm.threshold, 1.0])
    pad = (high - low) * 0.15 or 1.0
    ax.set_ylim(low - pad * 0.3, high + pad * 2)
    locator = dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"{alarm.statistic}" + (f" ({alarm.unit})" if alarm.unit else ""))
    dims = "".join(f" {k}={v}" for k, v in alarm.dimensions.items())
    ax.set_title(
        f"{alarm.name} ({alarm.region}): {alarm.statistic} of {alarm.namespace}/{alarm.metric_name}{dims} "
        f"{symbol} {alarm.threshold:g}\nperiod {period} s, {alarm.m} of {alarm.evaluation_periods} datapoints, "
        f"missing data: {alarm.treat_missing_data}; now {record.state}",
        fontsize=10,
    )
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, format="png")
    except OSError as e:
        raise PlotError(f"cannot write {target}: {e.strerror or e}") from None
    return target
