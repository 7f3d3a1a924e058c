"""Pictures of alarms (``trailmatch.plot``) and the ``trailmatch alarms`` commands over a state file
written by a replay."""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import struct
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from trailmatch import cli_alarms, model
from trailmatch.alarms import AlarmSimulator, load_records
from trailmatch.cli import InputError, Parser
from trailmatch.metrics import LogEventResult, MetricStore
from trailmatch.plot import PlotError, alarm_filename, plot_alarm, state_intervals
from trailmatch.state import StateStore

ACCOUNT = "111122223333"
REGION = "ap-northeast-1"
T0 = datetime(2023, 12, 21, 11, 0, tzinfo=timezone.utc)

FILTER = model.MetricFilter(
    name="CreateBucket",
    log_group="trail",
    region=REGION,
    account=ACCOUNT,
    filter_pattern='{ ($.eventName = "CreateBucket") }',
    transformation=model.MetricTransformation("CreateBucketCount", "CloudTrailMetrics", "1", 0.0, {}, "Count"),
)
BUCKETS = model.Alarm(
    name="s3-bucket-created",
    region=REGION,
    account=ACCOUNT,
    metric_name="CreateBucketCount",
    namespace="CloudTrailMetrics",
    statistic="Sum",
    period=60,
    evaluation_periods=1,
    datapoints_to_alarm=1,
    threshold=0.0,
    comparison_operator="GreaterThanThreshold",
)
BURST = model.Alarm(
    name="bucket burst",
    region=REGION,
    account=ACCOUNT,
    metric_name="CreateBucketCount",
    namespace="CloudTrailMetrics",
    statistic="Sum",
    period=300,
    evaluation_periods=3,
    datapoints_to_alarm=2,
    threshold=2.0,
    comparison_operator="GreaterThanOrEqualToThreshold",
)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A state file as a scan leaves it: three hours of CloudTrail records, some CreateBucket."""
    path = tmp_path / "state.db"
    store = MetricStore()
    for minute in range(180):
        when = T0 + timedelta(minutes=minute, seconds=(minute * 7) % 60)
        created = minute in (30, 95, 96, 97, 98, 150) or (60 <= minute < 70 and minute % 2 == 0)
        store.add(LogEventResult(when, FILTER, created))
    with StateStore(path) as state:
        store.save(state)
        AlarmSimulator([BUCKETS, BURST], store, state=state).run()
    return path


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="trailmatch")
    cli_alarms.register(p.add_subparsers(dest="command", parser_class=Parser))
    return p


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args = parser().parse_args(argv)
    status = args.run(args)
    return status, capsys.readouterr().out


# --- pictures -----------------------------------------------------------------------------------


def test_plot_alarm_writes_a_png(state_file: Path, tmp_path: Path) -> None:
    with StateStore(state_file) as state:
        records = load_records(state)
        metrics = MetricStore.load(state)
    for record in records.values():
        path = plot_alarm(record, metrics, tmp_path / "pictures" / alarm_filename(record.alarm))
        assert path.stat().st_size > 20_000
        assert png_size(path) == (1300, 500)
    assert sorted(p.name for p in (tmp_path / "pictures").iterdir()) == [
        "ap-northeast-1_bucket_burst.png",
        "ap-northeast-1_s3-bucket-created.png",
    ]


def test_plot_without_data_or_transitions(tmp_path: Path) -> None:
    store = MetricStore()
    store.observe(T0)
    record = AlarmSimulator([BUCKETS], store).run().records[BUCKETS.arn]
    assert png_size(plot_alarm(record, store, tmp_path / "empty.png")) == (1300, 500)


def test_plot_needs_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.dates"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: the import fails
    store = MetricStore()
    store.observe(T0)
    record = AlarmSimulator([BUCKETS], store).run().records[BUCKETS.arn]
    with pytest.raises(PlotError, match=r"pip install 'trailmatch\[plot\]'"):
        plot_alarm(record, store, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_state_intervals(state_file: Path) -> None:
    with StateStore(state_file) as state:
        record = load_records(state)[BUCKETS.arn]
    end = T0 + timedelta(hours=4)
    intervals = state_intervals(record, end)
    assert intervals[0][0] == record.created
    assert intervals[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(intervals))
    assert {s for _, _, s in intervals} == {"OK", "ALARM", "INSUFFICIENT_DATA"}


# --- the commands -------------------------------------------------------------------------------


def test_alarms_show(state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = cli(["alarms", "show", "--state", str(state_file)], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("OK                 bucket burst (ap-northeast-1, 111122223333) since ")
    assert any(line.startswith("OK                 s3-bucket-created") for line in lines)
    assert any("after the data (tentative): OK -> INSUFFICIENT_DATA at 2023-12-21 14:0" in line for line in lines)


def test_alarms_show_json(state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = cli(["alarms", "show", "--state", str(state_file), "--json", "--alarm", "s3-bucket-created"], capsys)
    assert status == 0
    (alarm,) = json.loads(out)
    assert (alarm["name"], alarm["state"], alarm["arn"]) == ("s3-bucket-created", "OK", BUCKETS.arn)
    assert alarm["last_transition"]["new_state"] == "OK"
    assert alarm["last_transition"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [0.0 (")
    assert alarm["transitions"] >= 10
    assert alarm["last_evaluated"] == "2023-12-21T14:00:00.000+0000"


def test_alarms_plot(state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    status, out = cli(
        ["alarms", "plot", "--state", str(state_file), "--alarm", "bucket burst", "--out", str(out_dir)], capsys
    )
    assert status == 0
    (printed,) = out.splitlines()
    assert Path(printed) == out_dir / "ap-northeast-1_bucket_burst.png"
    assert png_size(Path(printed)) == (1300, 500)


def test_alarms_metrics(state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = cli(["alarms", "metrics", "--state", str(state_file)], capsys)
    assert status == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 180
    assert sum(r["sum"] for r in rows) == 11.0
    target = tmp_path / "metrics.csv"
    assert (
        cli(["alarms", "metrics", "--state", str(state_file), "--format", "csv", "--out", str(target)], capsys)[0] == 0
    )
    with target.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 180
    assert table[0]["timestamp"] == "2023-12-21T11:00:00Z"


def test_errors(state_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="no such file"):
        cli(["alarms", "show", "--state", str(tmp_path / "missing.db")], capsys)
    assert not (tmp_path / "missing.db").exists()  # reading never creates a state file
    with pytest.raises(InputError, match=r"--alarm nope: no such alarm in the state file \(alarms: bucket burst, s3-"):
        cli(["alarms", "show", "--state", str(state_file), "--alarm", "nope"], capsys)
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["alarms", "plot", "--state", str(state_file)])
    assert exit_info.value.code == 2


def test_main_runs_the_commands_once_wired(state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through ``trailmatch.cli.main`` when the lead has registered ``cli_alarms`` there."""
    from trailmatch import cli

    try:
        status = cli.main(["alarms", "show", "--state", str(state_file), "--json"])
    except SystemExit:
        pytest.skip("trailmatch alarms is not registered in trailmatch.cli yet")
    assert status == 0
    assert {a["name"] for a in json.loads(capsys.readouterr().out)} == {"bucket burst", "s3-bucket-created"}
    assert cli.main(["alarms", "show", "--state", "/nonexistent/state.db"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_show_records_text_for_an_io_stream(state_file: Path) -> None:
    with StateStore(state_file) as state:
        records = sorted(load_records(state).values(), key=lambda r: r.alarm.name)
    out = io.StringIO()
    cli_alarms.show_records(records, out)
    assert out.getvalue().count("reason: ") == 2
