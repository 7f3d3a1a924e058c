"""Benchmark fixtures and the throughput summary.

Benchmarks double as smoke tests: under `--benchmark-disable` (the default in pyproject.toml)
each runs once. With `--benchmark-enable`, pytest-benchmark times them and this file prints
events/s and MB/s for each, and the ratio to each of its baselines measured in the same run
(`json.loads` unless it names others). With TRAILMATCH_BENCH_JSON=path, the summary is also
written there as JSON (one object per benchmark), for medians over several runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
from collections.abc import Iterator, Sequence
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
    baseline: str | Sequence[str] = "json.loads",
    **extra: Any,
) -> None:
    """Attach sizes to the benchmark and remember its throughput for the summary.

    ``baseline`` names the benchmark (of the same run) this one is compared with; a benchmark
    whose name equals its baseline is a baseline. Several baselines: a sequence of names (the
    summary gives a ratio to each). Give ``events``, or ``count`` and ``size``.
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
            "baselines": [baseline] if isinstance(baseline, str) else list(baseline),
            "events_per_s": count / median,
            "mb_per_s": size / median / 1e6,
            "median": median,
            **extra,
        }
    )


#: Ratios measured by alternating the two sides round by round (see `record_interleaved`).
INTERLEAVED: list[dict[str, Any]] = []


def record_interleaved(name: str, ratios: Sequence[float], *, target: str = "") -> None:
    """Remember per-round ratios of two measurements taken alternately (A, B, A, B, ...), so
    that load from other processes hits both alike; the summary gives their median."""
    if ratios:
        INTERLEAVED.append(
            {
                "name": name,
                "interleaved": True,
                "median_ratio": statistics.median(ratios),
                "ratios": sorted(ratios),
                "target": target,
            }
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if INTERLEAVED:
        terminalreporter.section("interleaved ratios (median of per-round ratios)")
        for r in INTERLEAVED:
            spread = ", ".join(f"{x:.2f}" for x in r["ratios"])
            terminalreporter.write_line(f"{r['name']:<70} {r['median_ratio']:>6.2f}  {r['target']}  [{spread}]")
    if not RESULTS:
        path = os.environ.get("TRAILMATCH_BENCH_JSON")
        if path and INTERLEAVED:
            Path(path).write_text(json.dumps(INTERLEAVED, indent=1))
        return
    by_name = {r["name"]: r for r in RESULTS}
    tr = terminalreporter
    tr.section("throughput (median of the timed rounds)")
    tr.write_line(f"{'benchmark':<60} {'events/s':>12} {'MB/s':>9} {'ratio':>7}  baseline")
    for r in RESULTS:
        r["ratios"] = {
            b: r["events_per_s"] / by_name[b]["events_per_s"] for b in r["baselines"] if b in by_name and b != r["name"]
        }
        for i, b in enumerate(r["baselines"]):
            ratio = f"{r['ratios'][b]:.2f}" if b in r["ratios"] else "-"
            head = f"{r['name']:<60} {r['events_per_s']:>12,.0f} {r['mb_per_s']:>9.1f}" if i == 0 else " " * 83
            tr.write_line(f"{head} {ratio:>7}  {b}")
    path = os.environ.get("TRAILMATCH_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps(RESULTS + INTERLEAVED, indent=1))


@pytest.fixture(scope="session")
def smoke(request: pytest.FixtureRequest) -> bool:
    """True under `--benchmark-disable` (each benchmark runs once): workloads shrink to stay fast."""
    config = request.config
    return bool(config.getoption("benchmark_disable", True)) and not config.getoption("benchmark_enable", False)


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Pin every thread of this process (rayon's workers included) to one CPU, then restore.

    `match_many` uses rayon's global pool, sized once per process; pinning measures it on one
    core in the same run as on all cores. Skips where thread affinity cannot be set.
    """
    if not hasattr(os, "sched_setaffinity") or not Path("/proc/self/task").is_dir():
        pytest.skip("needs Linux thread affinity")
    before = os.sched_getaffinity(0)
    if len(before) < 2:
        pytest.skip("needs at least two CPUs")
    tasks = [int(t.name) for t in Path("/proc/self/task").iterdir()]
    for tid in tasks:
        os.sched_setaffinity(tid, {min(before)})
    try:
        yield
    finally:
        for tid in [int(t.name) for t in Path("/proc/self/task").iterdir()]:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, before)
