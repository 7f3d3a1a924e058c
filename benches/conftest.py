"""Benchmark fixtures and the throughput summary.

Benchmarks double as smoke tests: under `--benchmark-disable` (the default in pyproject.toml)
each runs once. With `--benchmark-enable`, pytest-benchmark times them and this file prints
events/s and MB/s for each, and the ratio to the `json.loads` baseline measured in the same run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from samples import cloudtrail_records, envelope

RESULTS: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def records() -> list[tuple[str, dict[str, Any]]]:
    return cloudtrail_records()


@pytest.fixture(scope="session")
def events(records: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """Every real CloudTrail sample as an EventBridge event (JSON bytes)."""
    return [json.dumps(envelope(r)).encode() for _, r in records]


def record_throughput(
    benchmark: Any,
    name: str,
    events: list[bytes] | None = None,
    *,
    count: int | None = None,
    size: int | None = None,
    baseline: str = "json.loads",
    **extra: Any,
) -> None:
    """Attach sizes to the benchmark and remember its throughput for the summary.

    ``baseline`` names the benchmark (of the same run) this one is compared with; a benchmark
    whose name equals its baseline is a baseline. Give ``events``, or ``count`` and ``size``.
    """
    count = len(events) if events is not None else count or 0
    size = sum(map(len, events)) if events is not None else size or 0
    benchmark.extra_info.update(events=count, bytes=size, **extra)
    stats = getattr(benchmark, "stats", None)
    if stats is None or not benchmark.enabled:
        return
    median = stats.stats.median
    RESULTS.append(
        {
            "name": name,
            "baseline": baseline,
            "events_per_s": count / median,
            "mb_per_s": size / median / 1e6,
            "median": median,
        }
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    by_name = {r["name"]: r for r in RESULTS}
    tr = terminalreporter
    tr.section("throughput (median of the timed rounds)")
    tr.write_line(f"{'benchmark':<48} {'events/s':>12} {'MB/s':>9} {'ratio':>7}  baseline")
    for r in RESULTS:
        base = by_name.get(r["baseline"])
        ratio = f"{r['events_per_s'] / base['events_per_s']:.1f}" if base else "-"
        tr.write_line(f"{r['name']:<48} {r['events_per_s']:>12,.0f} {r['mb_per_s']:>9.0f} {ratio:>7}  {r['baseline']}")
