"""Persistent state in one SQLite file: delivery dedup keys, small key-value records, checkpoints.

The file uses WAL journaling, so readers never block the writer; every change is a transaction
(one per call, or one per :meth:`StateStore.transaction` block). The schema is versioned with
``PRAGMA user_version``: a file written by a newer trailmatch is refused rather than misread.
One process writes at a time (others wait up to ``timeout`` seconds for the lock).

Tables (schema version 1):

* ``deliveries(rule_arn, target_id, event_id, destination, delivered_at)`` — one row per
  successful delivery; the primary key is the dedup key.
* ``kv(namespace, key, value, updated_at)`` — JSON values for later features (alarm state,
  checkpoints, ...), grouped by namespace.

Example:
    >>> with StateStore() as state:              # in memory; StateStore("state.db") for a file
    ...     state.delivered("arn:aws:events:us-east-1:1:rule/r", "t1", "ev-1")
    ...     state.mark_delivered("arn:aws:events:us-east-1:1:rule/r", "t1", "ev-1", "webhook")
    ...     state.delivered("arn:aws:events:us-east-1:1:rule/r", "t1", "ev-1")
    ...     state.put("checkpoints", "s3://bucket/prefix", {"last_key": "2024/05/01/x.json.gz"})
    ...     state.get("checkpoints", "s3://bucket/prefix")
    False
    True
    {'last_key': '2024/05/01/x.json.gz'}
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

__all__ = ["SCHEMA_VERSION", "StateError", "StateStore"]

#: The schema version this trailmatch writes (``PRAGMA user_version``).
SCHEMA_VERSION: Final = 1


class StateError(RuntimeError):
    """The state file cannot be used (newer schema, not a SQLite database, ...)."""


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS deliveries (
               rule_arn     TEXT NOT NULL,
               target_id    TEXT NOT NULL,
               event_id     TEXT NOT NULL,
               destination  TEXT NOT NULL,
               delivered_at TEXT NOT NULL,
               PRIMARY KEY (rule_arn, target_id, event_id)
           ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS kv (
               namespace  TEXT NOT NULL,
               key        TEXT NOT NULL,
               value      TEXT NOT NULL,
               updated_at TEXT NOT NULL,
               PRIMARY KEY (namespace, key)
           ) WITHOUT ROWID"""
    )


#: Migrations: ``_MIGRATIONS[v]`` upgrades a file from version ``v`` to ``v + 1``.
_MIGRATIONS: Final[dict[int, Callable[[sqlite3.Connection], None]]] = {0: _create_v1}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StateStore:
    """trailmatch's state: one SQLite file (``path``), or memory when ``path`` is ``None``.

    Safe for one writer; usable from several threads of one process (calls are serialised).
    Use it as a context manager, or call :meth:`close`.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "state.db")
        >>> with StateStore(path) as s:
        ...     s.mark_delivered("rule-arn", "t", "e1", "stdout")
        >>> with StateStore(path) as s:                  # re-opened: the key is still there
        ...     s.delivered("rule-arn", "t", "e1"), s.schema_version
        (True, 1)
    """

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        self.path: Path | None = None if path is None else Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        target = ":memory:" if self.path is None else str(self.path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StateError(f"cannot open state file {target}: {e}") from None
        try:
            self._setup()
        except sqlite3.DatabaseError as e:
            self._conn.close()
            raise StateError(f"cannot use state file {target}: {e}") from None
        except StateError:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = self._user_version()
        if version > SCHEMA_VERSION:
            raise StateError(
                f"state file {self.path} has schema version {version}; this trailmatch reads up to "
                f"{SCHEMA_VERSION} (it was written by a newer trailmatch)"
            )
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._user_version()  # another process may have migrated meanwhile
                while version < SCHEMA_VERSION:
                    _MIGRATIONS[version](conn)
                    version += 1
                    conn.execute(f"PRAGMA user_version={version}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _user_version(self) -> int:
        row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._lock:
            return self._user_version()

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[StateStore]:
        """Groups changes into one transaction (committed at the end, rolled back on error).

        Nested blocks join the outer transaction.

        Example:
            >>> s = StateStore()
            >>> with s.transaction():
            ...     for i in range(3):
            ...         s.mark_delivered("r", "t", f"e{i}", "file")
            >>> s.delivered("r", "t", "e2")
            True
        """
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")

    # --- deliveries -----------------------------------------------------------------------------

    def delivered(self, rule_arn: str, target_id: str, event_id: str) -> bool:
        """Whether this (rule, target, event) was delivered successfully before."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM deliveries WHERE rule_arn = ? AND target_id = ? AND event_id = ?",
                (rule_arn, target_id, event_id),
            ).fetchone()
        return row is not None

    def mark_delivered(self, rule_arn: str, target_id: str, event_id: str, destination: str) -> None:
        """Records a successful delivery (``destination`` says where it went, without secrets)."""
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO deliveries (rule_arn, target_id, event_id, destination, delivered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (rule_arn, target_id, event_id, destination, _now()),
            )

    def delivery_count(self) -> int:
        """How many deliveries are recorded."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()
        return int(row[0])

    # --- key-value ------------------------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None) -> Any:
        """The JSON value stored under (namespace, key), or ``default``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
            ).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Stores ``value`` (anything ``json.dumps`` accepts) under (namespace, key)."""
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)",
                (namespace, key, text, _now()),
            )

    def delete(self, namespace: str, key: str) -> bool:
        """Removes (namespace, key); whether it existed."""
        with self.transaction():
            cur = self._conn.execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
        return cur.rowcount > 0

    def items(self, namespace: str) -> dict[str, Any]:
        """Every key of ``namespace`` with its value."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM kv WHERE namespace = ? ORDER BY key", (namespace,)
            ).fetchall()
        return {k: json.loads(v) for k, v in rows}

    # --- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the file (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({str(self.path) if self.path else None!r})"
