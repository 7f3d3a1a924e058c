"""Exceptions raised by trailmatch.

All are :class:`ValueError` subclasses, so ``except ValueError`` keeps working for callers
that do not care which input was wrong.
"""

from __future__ import annotations

__all__ = ["EventError", "FilterPatternError", "PatternError"]


class PatternError(ValueError):
    """An invalid EventBridge event pattern.

    ``str(error)`` is exactly EventBridge's ``Event pattern is not valid. Reason: <reason>``;
    the attributes locate the problem.

    Attributes:
        reason: EventBridge's reason text (where EventBridge has one).
        path: JSONPath-like location in the pattern, e.g. ``$.detail.eventName[0].prefix``.
        offset: byte offset in the pattern text, when the problem has one position.
        hint: how to fix a common mistake, or ``None``.

    Example:
        >>> import trailmatch
        >>> try:
        ...     trailmatch.test_event_pattern({"source": "aws.iam"}, {"source": "aws.iam"})
        ... except trailmatch.PatternError as e:
        ...     print(e)
        ...     print(e.path)
        Event pattern is not valid. Reason: "source" must be an object or an array
        $.source
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str = "$",
        offset: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.offset = offset
        self.hint = hint

    def __str__(self) -> str:
        return f"Event pattern is not valid. Reason: {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_pattern_error, (self.reason, self.path, self.offset, self.hint))


class EventError(ValueError):
    """An event that is not a UTF-8 JSON object (or cannot be serialised as one).

    Attributes:
        offset: byte offset of the problem in the event text, if known.
        index: position of the event in a batch (``Ruleset.match_many``), else ``None``.

    Example:
        >>> import trailmatch
        >>> rules = trailmatch.Ruleset()
        >>> rules.add("r", {"a": ["x"]})
        >>> try:
        ...     rules.match(b'{"a": "x",}')
        ... except trailmatch.EventError as e:
        ...     print(e.offset)
        10
    """

    def __init__(self, message: str, *, offset: int | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.index = index

    def __str__(self) -> str:
        if self.index is not None:
            return f"event #{self.index}: {self.message}"
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_event_error, (self.message, self.offset, self.index))


class FilterPatternError(ValueError):
    """An invalid CloudWatch Logs filter pattern (AWS: ``InvalidParameterException``, "Invalid
    filter pattern").

    ``str(error)`` is ``Invalid filter pattern: <message> at character <position>``; the
    attributes locate the problem and, for common mistakes, say how to fix it.

    Attributes:
        message: what is wrong, e.g. ``expected a value after '='``.
        position: 0-based index, in characters, of the problem in the pattern text.
        hint: how to fix a common mistake, or ``None``.

    Example:
        >>> import trailmatch
        >>> try:
        ...     trailmatch.test_metric_filter("{ $.errorCode IS NOT NULL }", ["{}"])
        ... except trailmatch.FilterPatternError as e:
        ...     print(e)
        ...     print(e.position, e.hint[:17])
        Invalid filter pattern: IS NOT is not supported at character 14
        14 there is no IS NO
    """

    def __init__(self, message: str, *, position: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint

    def __str__(self) -> str:
        return f"Invalid filter pattern: {self.message} at character {self.position}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_filter_pattern_error, (self.message, self.position, self.hint))


def _rebuild_pattern_error(reason: str, path: str, offset: int | None, hint: str | None) -> PatternError:
    return PatternError(reason, path=path, offset=offset, hint=hint)


def _rebuild_event_error(message: str, offset: int | None, index: int | None) -> EventError:
    return EventError(message, offset=offset, index=index)


def _rebuild_filter_pattern_error(message: str, position: int, hint: str | None) -> FilterPatternError:
    return FilterPatternError(message, position=position, hint=hint)
