"""trailmatch.state: the SQLite state file (dedup keys, key-value records)."""

from __future__ import annotations

import doctest
import sqlite3
import threading
from pathlib import Path

import pytest

from trailmatch.state import SCHEMA_VERSION, StateError, StateStore

RULE = "arn:aws:events:us-east-1:111122223333:rule/r"


def test_in_memory_store() -> None:
    with StateStore() as state:
        assert state.path is None
        assert not state.delivered(RULE, "t", "e1")
        state.mark_delivered(RULE, "t", "e1", "webhook (url from $HOOK)")
        assert state.delivered(RULE, "t", "e1")
        assert not state.delivered(RULE, "t2", "e1")
        assert not state.delivered(RULE, "t", "e2")
        assert state.delivery_count() == 1


def test_marks_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    with StateStore(path) as state:
        state.mark_delivered(RULE, "t", "e1", "stdout")
        state.put("alarms", "root-login", {"state": "ALARM", "since": 1700000000})
    with StateStore(path) as state:
        assert state.delivered(RULE, "t", "e1")
        assert state.get("alarms", "root-login") == {"state": "ALARM", "since": 1700000000}
        assert state.schema_version == SCHEMA_VERSION


def test_file_uses_wal_and_user_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"deliveries", "kv"} <= tables
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="newer trailmatch"):
        StateStore(path)


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError):
        StateStore(path)


def test_key_value_records() -> None:
    state = StateStore()
    assert state.get("ns", "k") is None
    assert state.get("ns", "k", default=0) == 0
    state.put("ns", "k", [1, "two", {"3": None}])
    state.put("ns", "k", {"replaced": True})
    state.put("ns", "a", "text")
    state.put("other", "k", 1)
    assert state.get("ns", "k") == {"replaced": True}
    assert state.items("ns") == {"a": "text", "k": {"replaced": True}}
    assert state.delete("ns", "a")
    assert not state.delete("ns", "a")
    assert state.items("ns") == {"k": {"replaced": True}}
    state.close()


def test_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as state:
        with state.transaction():
            state.mark_delivered(RULE, "t", "e1", "stdout")
            with state.transaction():  # nested blocks join the outer one
                state.put("ns", "k", 1)

        def failing_block() -> None:
            with state.transaction():
                state.mark_delivered(RULE, "t", "e2", "stdout")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            failing_block()
    with StateStore(path) as state:
        assert state.delivered(RULE, "t", "e1")
        assert state.get("ns", "k") == 1
        assert not state.delivered(RULE, "t", "e2")


def test_two_connections_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore(path) as writer, StateStore(path) as reader:
        writer.mark_delivered(RULE, "t", "e1", "stdout")
        assert reader.delivered(RULE, "t", "e1")


def test_threads_share_one_store() -> None:
    state = StateStore()

    def work(n: int) -> None:
        for i in range(50):
            state.mark_delivered(RULE, f"t{n}", f"e{i}", "stdout")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.delivery_count() == 200


def test_docstring_examples() -> None:
    import trailmatch.state

    result = doctest.testmod(trailmatch.state, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
