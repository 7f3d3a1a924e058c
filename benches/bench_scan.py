"""`trailmatch scan`'s engine on CloudTrail log files as S3 holds them (gzipped `{"Records": [...]}`).

Method: every real CloudTrail sample bundled in tests/data (3,694 records) written as one
gzipped CloudTrail file, compact as CloudTrail writes them, ten times over (36,940 records,
~47 MB of JSON, ~5 MB gzipped), in a temporary directory. Each benchmark reads all ten files
from disk (page cache) and matches every record on its region's default bus, through
`Scanner.scan` (Rust threads read, decompress, split and match without ever taking the GIL;
Python sees only matches, each parsed once for delivery). Rule sets:

* `alerts`: the four detections of examples/rules/detections.yaml, as deployed (states
  included): 5.7 % of the records raise an alert, as in an alerting deployment;
* `broad`: the 18 detections of tests/samples.py in state
  ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: 85 % of the records match (1.8 matches each),
  which measures the cost of handing matches to Python;
* `10,000`: those 18 plus 9,982 selective rules (benches/workloads.py), 69 % matching.

The baseline, in the same run, is the least a Python scanner does: `gzip.decompress` and
`json.loads` of each file, one core. Two more, in the same run: decompression only (reading
each file and inflating it with Python's zlib, on one thread and on two), the floor of any
scanner of gzipped files; each two-thread scan is also compared with its one-thread run, which
is pinned to one core (its reading thread and the thread dispatching matches share that core;
unpinned, they would use two). `test_two_cores_interleaved` measures the two-core ratio again
with one-core and two-thread scans alternated round by round (the median per-round ratio), which
separate benchmarks on a shared machine cannot. Run with:

    python -m pytest benches/bench_scan.py --benchmark-enable --benchmark-min-rounds=5
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import one_core, record_interleaved, record_throughput
from samples import DETECTIONS
from trailmatch import model
from trailmatch.rules import load_rules
from trailmatch.scan import Scanner
from trailmatch.sources import Source, expand
from workloads import selective_rules

COPIES = 10
BASELINE = "gzip + json.loads (Python, 1 core)"
DECOMPRESS = "decompress only (Python zlib, 1 thread)"
DECOMPRESS_2 = "decompress only (Python zlib, 2 threads)"


@pytest.fixture(scope="module")
def copies(smoke: bool) -> int:
    """Ten copies of the samples; one in the smoke run."""
    return 1 if smoke else COPIES


@pytest.fixture(scope="module")
def logs(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, dict[str, Any]]], copies: int
) -> tuple[list[Source], int]:
    root = tmp_path_factory.mktemp("bench-logs")
    # Compact, as CloudTrail writes its files (no whitespace between tokens).
    doc = json.dumps({"Records": [r for _, r in records]}, separators=(",", ":")).encode()
    for i in range(copies):
        (root / f"123456789012_CloudTrail_us-east-1_20261122T{i:04}Z_bench.json.gz").write_bytes(gzip.compress(doc, 6))
    return expand([str(root)]).sources, len(doc) * copies


def deployment(patterns: dict[str, Any]) -> model.Deployment:
    target = model.Target(id="t", arn="arn:aws:sqs:us-east-1:123456789012:q")
    rules = [
        model.Rule(
            name=name,
            region="us-east-1",
            account="123456789012",
            event_pattern=json.dumps(p),
            state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
            targets=(target,),
        )
        for name, p in patterns.items()
    ]
    return model.Deployment(rules=rules)


def test_python_baseline(benchmark: Any, logs: tuple[list[Source], int], records: list[Any], copies: int) -> None:
    sources, size = logs

    def run() -> int:
        n = 0
        for s in sources:
            assert s.path is not None
            n += len(json.loads(gzip.decompress(Path(s.path).read_bytes()))["Records"])
        return n

    assert benchmark(run) == len(records) * copies
    record_throughput(benchmark, BASELINE, count=len(records) * copies, size=size, baseline=BASELINE)


@pytest.mark.parametrize("threads", [1, 2])
def test_decompress_only(
    benchmark: Any, logs: tuple[list[Source], int], records: list[Any], copies: int, threads: int
) -> None:
    sources, size = logs
    paths = [s.path for s in sources if s.path is not None]

    def inflate(path: str) -> int:
        return len(zlib.decompress(Path(path).read_bytes(), wbits=31))

    def run() -> int:
        if threads == 1:
            return sum(map(inflate, paths))
        with ThreadPoolExecutor(max_workers=threads) as pool:  # zlib releases the GIL
            return sum(pool.map(inflate, paths))

    assert benchmark(run) == size
    name = DECOMPRESS if threads == 1 else DECOMPRESS_2
    record_throughput(benchmark, name, count=len(records) * copies, size=size, baseline=(name, BASELINE))


EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "rules" / "detections.yaml"


def rule_set(rules: str, records: list[tuple[str, dict[str, Any]]], copies: int) -> model.Deployment:
    """The deployment of a rule-set name (see the module docs)."""
    if rules == "alerts":
        return load_rules(EXAMPLES)
    patterns = dict(DETECTIONS)
    if rules == "10,000":
        patterns.update(selective_rules(records, (500 if copies == 1 else 10_000) - len(patterns), seed=1))
    return deployment(patterns)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("rules", ["alerts", "broad", "10,000"])
def test_scan(
    benchmark: Any,
    logs: tuple[list[Source], int],
    records: list[tuple[str, dict[str, Any]]],
    copies: int,
    rules: str,
    threads: int,
    smoke: bool,
) -> None:
    sources, size = logs
    scanner = Scanner(rule_set(rules, records, copies), threads=threads)
    deliveries = [0]

    def deliver(rule: Any, target: Any, event: Any, event_id: str) -> None:
        deliveries[0] += 1

    if threads == 1 and not smoke:
        # One core: the reading thread and the dispatching one share it (unpinned, a one-thread
        # scan overlaps its reading with the dispatch of the previous file on a second core).
        with one_core():
            summary = benchmark(lambda: scanner.scan(sources, deliver))
    else:
        summary = benchmark(lambda: scanner.scan(sources, deliver))
    assert summary.records == len(records) * copies
    assert summary.errors == 0
    record_throughput(
        benchmark,
        f"scan, {rules} rules, {threads} thread{'s' if threads > 1 else ''}",
        count=summary.records,
        size=size,
        baseline=(BASELINE, DECOMPRESS, DECOMPRESS_2) + ((f"scan, {rules} rules, 1 thread",) if threads > 1 else ()),
        matched_events=summary.matched_events,
        matches=sum(summary.matches_by_rule.values()),
    )


@pytest.mark.parametrize("rules", ["alerts", "broad", "10,000"])
def test_two_cores_interleaved(
    logs: tuple[list[Source], int], records: list[tuple[str, dict[str, Any]]], copies: int, rules: str, smoke: bool
) -> None:
    """Two threads against one core, alternated round by round: on a shared machine, separate
    benchmarks of the two can see different loads; here each round's ratio sees the same."""
    sources, _ = logs
    deployed = rule_set(rules, records, copies)
    one, two = Scanner(deployed, threads=1), Scanner(deployed, threads=2)
    ratios = []
    for _ in range(1 if smoke else 9):
        with one_core():
            started = time.perf_counter()
            alone = one.scan(sources, lambda *_: None)
            t1 = time.perf_counter() - started
        started = time.perf_counter()
        both = two.scan(sources, lambda *_: None)
        t2 = time.perf_counter() - started
        assert (alone.records, alone.matches_by_rule) == (both.records, both.matches_by_rule)
        ratios.append(t1 / t2)
    if not smoke:
        record_interleaved(f"scan, {rules} rules: 2 threads / 1 core", ratios, target="≥ 1.8")
