"""Testing and explaining single EventBridge event patterns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trailmatch import _core

__all__ = ["Explanation", "JSONInput", "explain", "test_event_pattern"]

#: A JSON document given as text (``str``/``bytes``) or as a parsed ``dict``.
JSONInput = str | bytes | dict[str, Any]


def test_event_pattern(event_pattern: JSONInput, event: JSONInput) -> bool:
    """Whether ``event_pattern`` matches ``event``, as EventBridge's ``TestEventPattern``.

    Unlike the AWS API, any JSON object is accepted as the event (the envelope fields are not
    required; the ``trailmatch test-event-pattern`` command checks them for parity).

    Raises:
        PatternError: the pattern is invalid (``str(e)`` is EventBridge's message).
        EventError: the event is not a JSON object.

    Example:
        >>> from trailmatch import test_event_pattern
        >>> test_event_pattern({"detail": {"eventName": [{"prefix": "Attach"}]}},
        ...                    {"detail": {"eventName": "AttachUserPolicy"}})
        True
        >>> test_event_pattern('{"size": [{"numeric": [">", 10]}]}', b'{"size": "11"}')
        False
    """
    return _core.test_event_pattern(event_pattern, event)


# pytest would collect the public name as a test function.
test_event_pattern.__test__ = False  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Explanation:
    """The outcome of matching one pattern against one event, field by field.

    Attributes:
        matched: whether the pattern matches.
        branches: one report per ``$or`` alternative: ``{"matched", "array_conflict",
            "fields": [{"path", "condition", "values", "satisfied", "matched_by"}]}``.
        text: a human-readable report (also ``str(explanation)``).
    """

    matched: bool
    branches: list[dict[str, Any]] = field(repr=False)
    text: str = field(repr=False)

    def __str__(self) -> str:
        return self.text


def explain(event_pattern: JSONInput, event: JSONInput) -> Explanation:
    """Explain which field and operator decided whether ``event_pattern`` matches ``event``.

    Raises:
        PatternError: the pattern is invalid.
        EventError: the event is not a JSON object.

    Example:
        >>> from trailmatch import explain
        >>> e = explain({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}},
        ...             {"source": "aws.iam", "detail": {"eventName": "DeleteUser"}})
        >>> e.matched
        False
        >>> print(e)
        Result: NO MATCH
          ok   source: "aws.iam" matches "aws.iam"
          FAIL detail.eventName: found "DeleteUser"; needs ["CreateUser"]
        <BLANKLINE>
    """
    matched, text, branches = _core.explain(event_pattern, event)
    return Explanation(matched=matched, branches=branches, text=text)
