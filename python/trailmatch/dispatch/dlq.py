"""The dead-letter spool: one JSON line per delivery that failed for good.

Each line carries EventBridge's DLQ message attributes under their names — ``RULE_ARN``,
``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION``
(``MaximumRetryAttempts`` | ``MaximumEventAgeInSeconds``; ``null`` for a non-retriable error,
which is not retried) and ``RETRY_ATTEMPTS`` — and, in lower case, what trailmatch adds:
``dead_letter_arn`` (the target's ``DeadLetterConfig.Arn``, or ``null``), ``rule``, ``target``,
``event_id``, ``destination`` (its description, never a secret), ``time``, ``event`` (the
EventBridge event, as an SQS DLQ message body holds it) and ``payload`` (what the target should
have received; ``null`` when the input transformation failed).

Lines are appended, flushed and synced one by one, so a crash loses at most the line being
written.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

__all__ = ["DeadLetterSpool", "dead_letter_record"]


def dead_letter_record(
    *,
    rule_arn: str,
    target_arn: str,
    error_code: str,
    error_message: str,
    exhausted_retry_condition: str | None,
    retry_attempts: int,
    dead_letter_arn: str | None,
    rule: str,
    target: str,
    event_id: str,
    destination: str,
    event: Mapping[str, Any],
    payload: str | None,
) -> dict[str, Any]:
    """One spool line as a ``dict`` (see the module docs)."""
    return {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": error_message,
        "EXHAUSTED_RETRY_CONDITION": exhausted_retry_condition,
        "RETRY_ATTEMPTS": retry_attempts,
        "dead_letter_arn": dead_letter_arn,
        "rule": rule,
        "target": target,
        "event_id": event_id,
        "destination": destination,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "event": dict(event),
        "payload": payload,
    }


class DeadLetterSpool:
    """Appends dead-letter records to a JSON Lines file (created with its directories).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "dlq" / "dead-letters.jsonl"
        >>> spool = DeadLetterSpool(path)
        >>> spool.append({"RULE_ARN": "arn:aws:events:us-east-1:1:rule/r", "ERROR_CODE": "TIMEOUT"})
        >>> spool.close()
        >>> [json.loads(line)["ERROR_CODE"] for line in path.read_text().splitlines()]
        ['TIMEOUT']
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stream: TextIO | None = None
        self.count = 0

    def append(self, record: Mapping[str, Any]) -> None:
        """Writes one record (raises ``OSError`` when the file cannot be written)."""
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("a", encoding="utf-8")
        self._stream.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._stream.flush()
        with contextlib.suppress(OSError):
            os.fsync(self._stream.fileno())
        self.count += 1

    def close(self) -> None:
        """Closes the file (idempotent)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
