"""The replay engine (``trailmatch._core.Replay``) and ``cloudtrail_to_eventbridge``.

The envelope is matched as a *view* over each record; these tests check it against the event
built in full, rule states against the read-only classifier, regions and buses, and that every
malformed part of an input is reported while the rest is read.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trailmatch
from samples import CLOUDTRAIL, DETECTIONS, derived_rules
from trailmatch import model
from trailmatch._core import Replay
from trailmatch.scan import Scanner
from trailmatch.sources import Source

STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", "DISABLED")


def record(
    name: str = "CreateUser", *, region: str = "us-east-1", read_only: bool = False, **extra: Any
) -> dict[str, Any]:
    r = {
        "eventVersion": "1.09",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "eventType": "AwsApiCall",
        "eventTime": "2026-11-22T10:00:00Z",
        "awsRegion": region,
        "eventID": f"{name}-{region}",
        "recipientAccountId": "111122223333",
        "readOnly": read_only,
        "managementEvent": True,
        "eventCategory": "Management",
    }
    r.update(extra)
    return r


def log(*records: dict[str, Any]) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


# --- cloudtrail_to_eventbridge -------------------------------------------------------------


def test_envelope_fields() -> None:
    event = trailmatch.cloudtrail_to_eventbridge(record())
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event["version"] == "0"
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert (event["source"], event["account"], event["time"], event["region"]) == (
        "aws.iam",
        "111122223333",
        "2026-11-22T10:00:00Z",
        "us-east-1",
    )
    assert event["resources"] == []
    assert event["detail"] == record()
    # Deterministic ids: the same record gives the same id; another eventID another one.
    assert event["id"] == trailmatch.cloudtrail_to_eventbridge(record())["id"]
    assert event["id"] != trailmatch.cloudtrail_to_eventbridge(record("DeleteUser"))["id"]
    assert trailmatch.cloudtrail_to_eventbridge(record(), ids="random")["id"] != event["id"]


@pytest.mark.parametrize(
    ("event_type", "detail_type"),
    [
        ("AwsApiCall", "AWS API Call via CloudTrail"),
        ("AwsConsoleSignIn", "AWS Console Sign In via CloudTrail"),
        ("AwsConsoleAction", "AWS Console Action via CloudTrail"),
        ("AwsServiceEvent", "AWS Service Event via CloudTrail"),
        (None, "AWS API Call via CloudTrail"),
    ],
)
def test_detail_types(event_type: str | None, detail_type: str) -> None:
    r = record()
    if event_type is None:
        del r["eventType"]
    else:
        r["eventType"] = event_type
    assert trailmatch.cloudtrail_to_eventbridge(r)["detail-type"] == detail_type


def test_sources_accounts_and_insights() -> None:
    assert trailmatch.cloudtrail_to_eventbridge(record(eventSource="monitoring.amazonaws.com"))["source"] == (
        "aws.monitoring"
    )
    cw = trailmatch.cloudtrail_to_eventbridge(
        record(eventSource="monitoring.amazonaws.com"), source_overrides={"monitoring.amazonaws.com": "aws.cloudwatch"}
    )
    assert cw["source"] == "aws.cloudwatch"
    r = record()
    del r["recipientAccountId"]
    assert trailmatch.cloudtrail_to_eventbridge(r, default_account="999988887777")["account"] == "999988887777"
    insight = {"eventVersion": "1.08", "eventType": "AwsCloudTrailInsight", "awsRegion": "us-east-1", "eventID": "i"}
    e = trailmatch.cloudtrail_to_eventbridge(insight)
    assert (e["source"], e["detail-type"]) == ("aws.cloudtrail", "AWS Insight via CloudTrail")


def test_records_cloudtrail_does_not_deliver() -> None:
    with pytest.raises(trailmatch.EventError, match="no eventSource"):
        trailmatch.cloudtrail_to_eventbridge({"eventName": "X"})
    vpce = record(eventType="AwsVpceEvent", eventCategory="NetworkActivity")
    with pytest.raises(trailmatch.EventError, match="VPC endpoint"):
        trailmatch.cloudtrail_to_eventbridge(vpce)
    assert trailmatch.cloudtrail_to_eventbridge(vpce, vpce_detail_type="AWS VPCE Event")["detail-type"] == (
        "AWS VPCE Event"
    )
    with pytest.raises(trailmatch.EventError, match="unknown eventType"):
        trailmatch.cloudtrail_to_eventbridge(record(eventType="AwsSomethingNew"))
    with pytest.raises(trailmatch.EventError, match="256 KB"):
        trailmatch.cloudtrail_to_eventbridge(record(requestParameters={"blob": "x" * 262_144}))
    with pytest.raises(trailmatch.EventError):
        trailmatch.cloudtrail_to_eventbridge(b'{"eventSource": "iam.amazonaws.com", "x": tru}')


def test_eventbridge_events_are_taken_as_they_are() -> None:
    event = trailmatch.cloudtrail_to_eventbridge(record())
    assert trailmatch.cloudtrail_to_eventbridge(event) == event


def test_real_samples_convert(records: list[tuple[str, dict[str, Any]]]) -> None:
    converted = 0
    reasons: list[str] = []
    for where, r in records:
        try:
            e = trailmatch.cloudtrail_to_eventbridge(r)
        except trailmatch.EventError as err:
            reasons.append(str(err))
            continue
        converted += 1
        assert e["detail"] == r, where
        assert e["region"] == r.get("awsRegion", ""), where
        if "eventSource" in r:
            assert e["source"] == "aws." + r["eventSource"].removesuffix(".amazonaws.com"), where
    assert converted > 0.95 * len(records)
    assert all("does not deliver" in reason for reason in reasons)


# --- Replay: states, regions, buses -------------------------------------------------------


def matched(replay: Replay, data: bytes) -> list[tuple[int, list[int]]]:
    return [(m[0], m[2]) for m in replay.process(data)["matches"]]


def test_rule_states_and_read_only_events() -> None:
    replay = Replay()
    iam = {"source": ["aws.iam"]}
    for key, state in enumerate(STATES):
        replay.add_rule(key, "us-east-1", "default", state, iam)
    assert len(replay) == 2  # DISABLED rules match nothing
    data = log(record("GetUser", read_only=True), record("CreateUser"))
    assert matched(replay, data) == [(0, [1]), (1, [0, 1])]
    # Data events (managementEvent false) are seen by ENABLED rules even when read-only.
    data_event = record("GetObject", read_only=True, managementEvent=False, eventCategory="Data")
    assert matched(replay, log(data_event)) == [(0, [0, 1])]


def test_read_only_name_rule() -> None:
    replay = Replay(read_only="name-prefix")
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    no_flag = record("ListUsers")
    del no_flag["readOnly"]
    flagged_false = record("GetAccountSummaryFix", read_only=False)
    flagged_true = record("DeleteThing", read_only=True)
    # Name rule: Get/List/Describe are read-only unless readOnly is false; the flag is ignored.
    assert matched(replay, log(no_flag, flagged_false, flagged_true)) == [(1, [0]), (2, [0])]


def test_rules_see_only_their_regions_events() -> None:
    replay = Replay()
    for key, region in enumerate(["us-east-1", "eu-west-1", "ap-northeast-1"]):
        replay.add_rule(key, region, "default", "ENABLED", {"detail": {"eventName": ["CreateUser", "RunInstances"]}})
    replay.add_rule(9, "ap-northeast-1", "custom", "ENABLED", {"detail": {"eventName": ["RunInstances"]}})
    data = log(
        record("CreateUser"),  # IAM is global: its records say us-east-1
        record("RunInstances", region="eu-west-1", eventSource="ec2.amazonaws.com"),
        record("RunInstances", region="ap-northeast-1", eventSource="ec2.amazonaws.com"),
        record("RunInstances", region="sa-east-1", eventSource="ec2.amazonaws.com"),
    )
    # Custom buses see only forwarded events.
    assert matched(replay, data) == [(0, [0]), (1, [1]), (2, [2])]


def test_forwarded_events() -> None:
    replay = Replay()
    replay.add_rule(1, "ap-northeast-1", "receiver", "ENABLED", {"detail": {"eventName": ["CreateAccessKey"]}})
    replay.add_rule(
        2, "ap-northeast-1", "receiver", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", {"source": ["aws.iam"]}
    )
    event = trailmatch.cloudtrail_to_eventbridge(record("CreateAccessKey"))
    assert replay.match_forwarded("ap-northeast-1", "receiver", event) == [1, 2]
    assert replay.match_forwarded("ap-northeast-1", "other", event) == []
    read = trailmatch.cloudtrail_to_eventbridge(record("GetUser", read_only=True))
    assert replay.match_forwarded("ap-northeast-1", "receiver", read) == [2]


def test_pattern_and_state_errors() -> None:
    replay = Replay()
    with pytest.raises(trailmatch.PatternError, match="Event pattern is not valid"):
        replay.add_rule(0, "us-east-1", "default", "DISABLED", {"source": "aws.iam"})
    with pytest.raises(ValueError, match="rule state must be"):
        replay.add_rule(0, "us-east-1", "default", "enabled", {"source": ["aws.iam"]})


# --- Replay: reading ----------------------------------------------------------------------


def test_layouts_and_gzip() -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    records = [record("CreateUser"), record("DeleteUser")]
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    array = json.dumps(records).encode()
    for data in (log(*records), lines, array, gzip.compress(log(*records)), gzip.compress(lines)):
        out = replay.process(data)
        assert [m[0] for m in out["matches"]] == [0, 1]
        assert out["errors"] == []
        assert out["stats"]["records"] == 2
    assert replay.process(gzip.compress(lines))["stats"]["gzip"] is True
    # Already-enveloped events are detected per record and matched as they are.
    mixed = lines + json.dumps(trailmatch.cloudtrail_to_eventbridge(record("TagUser"))).encode()
    assert [m[0] for m in replay.process(mixed)["matches"]] == [0, 1, 2]


def test_matches_carry_the_event() -> None:
    replay = Replay()
    replay.add_rule(5, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    ((index, offset, keys, event, event_id, region, time),) = replay.process(log(record()))["matches"]
    assert (index, keys, event_id, region, time) == (
        0,
        [5],
        "CreateUser-us-east-1",
        "us-east-1",
        "2026-11-22T10:00:00Z",
    )
    assert offset == len(b'{"Records": [')
    assert json.loads(event) == trailmatch.cloudtrail_to_eventbridge(record())


def test_malformed_records_are_reported_and_the_rest_is_read() -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    good = json.dumps(record()).encode()
    data = (
        b"\n".join([good, b'{"eventSource": "iam.amazonaws.com", "readOnly": fals}', b"[1]", b'{"a": {', good]) + b"\n"
    )
    out = replay.process(data)
    assert [m[0] for m in out["matches"]] == [0, 4]
    errors = {e[0]: e[2] for e in out["errors"]}
    assert set(errors) == {1, 2, 3}
    assert "record 1" in errors[1]
    assert "not a JSON object" in errors[2]
    assert "cut off" in errors[3]
    # The offset of the error in record 1 points into that record.
    offset = next(e[1] for e in out["errors"] if e[0] == 1)
    assert data[offset : offset + 4] == b"fals"
    stats = out["stats"]
    assert (stats["records"], stats["events"], stats["errors"], stats["matches"]) == (5, 2, 3, 2)


def test_truncated_gzip_keeps_what_was_read() -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    lines = b"".join(json.dumps(record(f"CreateUser{i}")).encode() + b"\n" for i in range(3000))
    packed = gzip.compress(lines)
    out = replay.process(packed[: len(packed) // 2])
    assert 0 < len(out["matches"]) < 3000
    assert any("truncated or corrupt" in e[2] for e in out["errors"])


def test_skips_are_counted() -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    data = log(record(), {"eventName": "NoSource"}, record(eventType="AwsVpceEvent"))
    stats = replay.process(data)["stats"]
    assert stats["skipped"] == {"no eventSource": 1, "VPC endpoint (network activity) event": 1}
    assert stats["events"] == 1


def test_process_file(tmp_path: Path) -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(log(record())))
    assert len(replay.process_file(str(path))["matches"]) == 1
    with pytest.raises(FileNotFoundError):
        replay.process_file(str(tmp_path / "missing.json"))


def test_match_counts_per_rule() -> None:
    replay = Replay()
    replay.add_rule(3, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    replay.add_rule(9, "us-east-1", "default", "ENABLED", {"detail": {"eventName": ["DeleteUser"]}})
    out = replay.process(log(record(), record("DeleteUser"), record("DeleteUser", region="eu-west-1"), record()))
    assert out["match_counts"] == [(3, 3), (9, 1)]
    assert sum(n for _, n in out["match_counts"]) == out["stats"]["matches"] == 4


def files_of(tmp_path: Path, count: int) -> list[Path]:
    """``count`` files, gzipped and not, file ``i`` holding ``i + 1`` records."""
    paths = []
    for i in range(count):
        data = log(*[record(f"Create{i}x{j}") for j in range(i + 1)])
        path = tmp_path / (f"{i:03}.json.gz" if i % 2 else f"{i:03}.json")
        path.write_bytes(gzip.compress(data) if i % 2 else data)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("threads", "window"), [(1, None), (2, None), (3, 1), (8, 2)])
def test_process_files_in_order(tmp_path: Path, threads: int, window: int | None) -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    paths = files_of(tmp_path, 25)
    paths.insert(7, tmp_path / "missing.json")
    (tmp_path / "directory.json").mkdir()
    paths.insert(12, tmp_path / "directory.json")
    files = replay.process_files(paths, threads=threads, window=window)
    assert len(files) == len(paths)
    results = list(files)
    assert len(results) == len(paths)
    for path, result in zip(paths, results, strict=True):
        if path.name == "missing.json":
            assert isinstance(result, FileNotFoundError)
            assert str(result.filename) == str(path)
        elif path.name == "directory.json":
            assert isinstance(result, IsADirectoryError)
        else:
            assert isinstance(result, dict)
            assert result == replay.process_file(path)
    assert list(files) == []


def test_rules_can_be_added_as_soon_as_the_last_file_is_taken(tmp_path: Path) -> None:
    replay = Replay()
    paths = files_of(tmp_path, 2)
    for i in range(200):  # the workers' exit races the caller's next call
        results = list(zip(paths, replay.process_files(paths, threads=2), strict=False))
        assert len(results) == 2
        replay.add_rule(i, "us-east-1", "default", "ENABLED", {"source": ["aws.s3"]})


def test_process_files_window_larger_than_anything(tmp_path: Path) -> None:
    replay = Replay()
    paths = files_of(tmp_path, 30)
    counts = [r["stats"]["records"] for r in replay.process_files(paths, threads=1, window=2**64 - 1)]  # type: ignore[index]
    assert counts == list(range(1, 31))


def test_process_files_stopped_early_and_rules_locked_meanwhile(tmp_path: Path) -> None:
    replay = Replay()
    replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
    paths = files_of(tmp_path, 30)
    files = replay.process_files(paths, threads=2, window=2)
    first = next(files)
    assert isinstance(first, dict)
    assert first["stats"]["records"] == 1
    with pytest.raises(RuntimeError, match="cannot be added while"):
        replay.add_rule(1, "us-east-1", "default", "ENABLED", {"source": ["aws.s3"]})
    files.close()
    assert list(files) == []
    replay.add_rule(1, "us-east-1", "default", "ENABLED", {"source": ["aws.s3"]})  # the run is over
    # Abandoned without close(): the workers stop after their current file, in the background;
    # the rules are free again once they have.
    abandoned = replay.process_files(paths, threads=2)
    next(abandoned)
    del abandoned
    deadline = time.monotonic() + 10
    while True:
        try:
            replay.add_rule(2, "us-east-1", "default", "ENABLED", {"source": ["aws.ec2"]})
            break
        except RuntimeError:
            assert time.monotonic() < deadline, "the workers of an abandoned run did not stop"
            time.sleep(0.01)
    assert [r["stats"]["records"] for r in replay.process_files(paths[:3])] == [1, 2, 3]  # type: ignore[index]
    assert list(replay.process_files([])) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_waiting_for_a_stalled_file_can_be_interrupted(tmp_path: Path) -> None:
    # A named pipe nobody writes to stalls the reading thread (as a hung network mount would);
    # Ctrl-C must still reach Python while the caller waits for that file.
    replay = Replay()
    fifo = tmp_path / "stalled.json"
    os.mkfifo(fifo)
    unblocked = threading.Lock()

    def unblock() -> None:  # opening the pipe for writing releases the reading thread's open()
        if unblocked.acquire(blocking=False):
            with open(fifo, "wb") as writer:
                writer.write(b'{"Records": []}')

    def interrupted(step: Callable[[], object]) -> None:
        interrupt = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        rescue = threading.Timer(10, unblock)  # were a wait deaf to signals: fail, do not hang
        interrupt.start()
        rescue.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                step()
        finally:
            interrupt.cancel()
            rescue.cancel()

    try:
        files = replay.process_files([fifo])
        interrupted(functools.partial(next, files))  # waiting for the file
        interrupted(files.close)  # waiting for the worker to stop
        started = time.monotonic()
        files.close(wait=False)  # not waiting at all
        abandoned = replay.process_files([fifo, fifo])
        del abandoned  # nor does dropping a run
        assert time.monotonic() - started < 5
        # A scan stopped by Ctrl-C on a stalled file reports it at once.
        deployment = model.Deployment(rules=[])
        scanner = Scanner(deployment)
        interrupted(lambda: scanner.scan([Source(str(fifo), path=str(fifo))], lambda *_: None))
    finally:
        unblock()


# --- Replay against the events built in full, over the real samples ------------------------


@pytest.fixture(scope="module")
def rules(records: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(DETECTIONS)
    out.update(derived_rules(records, 300, seed=7))
    out["by-envelope"] = {"detail-type": ["AWS Console Sign In via CloudTrail"], "source": ["aws.signin"]}
    out["by-account"] = {"account": [{"prefix": "2"}], "region": ["us-east-1"]}
    return out


@pytest.mark.parametrize("validation", ["full", "lazy"])
@pytest.mark.parametrize("state", ["ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"])
def test_view_matches_like_the_built_event(rules: dict[str, Any], state: str, validation: str) -> None:
    names = list(rules)
    files = sorted(p for p in CLOUDTRAIL.rglob("*.json") if not p.name.endswith("provenance.json"))
    regions = set()
    docs = []
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        recs = doc["Records"] if isinstance(doc, dict) else doc
        regions.update(r.get("awsRegion", "") for r in recs)
        docs.append((path, recs))
    replay = Replay(validation=validation)  # type: ignore[arg-type]
    single = trailmatch.Ruleset()
    for key, name in enumerate(names):
        single.add(name, rules[name])
        for region in regions:
            replay.add_rule(key, region, "default", state, rules[name])
    total = 0
    for path, recs in docs:
        out = replay.process_file(str(path))
        assert out["errors"] == [], path
        got = {m[0]: [names[k] for k in m[2]] for m in out["matches"]}
        for i, r in enumerate(recs):
            try:
                event = trailmatch.cloudtrail_to_eventbridge(r)
            except trailmatch.EventError:
                assert i not in got
                continue
            hidden = state == "ENABLED" and r.get("readOnly") is True and r.get("managementEvent", True) is True
            expected = [] if hidden else single.match(event)
            assert got.get(i, []) == expected, f"{path.name}#{i}"
            total += len(expected)
    assert total > 1000
