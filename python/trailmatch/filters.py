"""CloudWatch Logs filter patterns: ``TestMetricFilter`` offline, and pattern validation.

The language (terms, ``%regex%``, JSON ``{ ... }`` and space-delimited ``[ ... ]`` patterns),
its semantics and every decision taken where AWS documents none are in ``docs/FILTERS.md``.
Many patterns are matched together by :class:`trailmatch._core.FilterSet` (what metric
filters use); this module tests one pattern, like the AWS API.

Example:
    >>> from trailmatch.filters import test_metric_filter
    >>> test_metric_filter('{ $.eventName = "CreateBucket" }', ['{"eventName": "CreateBucket"}', "CreateBucket"])
    {'matches': [{'eventNumber': 1, 'eventMessage': '{"eventName": "CreateBucket"}', 'extractedValues': {}}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trailmatch import _core

__all__ = ["MAX_FILTER_PATTERN_LENGTH", "MAX_LOG_EVENT_MESSAGES", "compile_filter_pattern", "test_metric_filter"]

#: Longest ``filterPattern`` AWS accepts, in characters.
MAX_FILTER_PATTERN_LENGTH = 1024
#: Most ``logEventMessages`` one ``TestMetricFilter`` call accepts (and at least one).
MAX_LOG_EVENT_MESSAGES = 50


def test_metric_filter(filter_pattern: str, log_event_messages: Sequence[str]) -> dict[str, Any]:
    """Which messages ``filter_pattern`` matches, in CloudWatch Logs ``TestMetricFilter``'s
    response shape: ``{"matches": [{"eventNumber", "eventMessage", "extractedValues"}]}``.

    ``eventNumber`` is the 1-based position of the message (as in the AWS CLI's example);
    messages that do not match are left out. ``extractedValues`` holds the fields of a
    space-delimited pattern (``$name``, or ``$<position>`` for unnamed fields) and is empty for
    other patterns.

    Raises:
        FilterPatternError: the pattern is invalid.
        ValueError: not 1 to 50 messages, or an empty message (AWS's limits).
        TypeError: the pattern or a message is not a ``str``.

    Example:
        >>> from trailmatch.filters import test_metric_filter
        >>> apache = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
        >>> result = test_metric_filter("[..., request=*.html*, status_code=4*,]", [apache, "too short"])
        >>> result["matches"][0]["extractedValues"]["$status_code"], result["matches"][0]["extractedValues"]["$7"]
        ('404', '1534')
        >>> len(result["matches"])
        1
    """
    if not isinstance(filter_pattern, str):
        raise TypeError(f"filter_pattern must be str, not {type(filter_pattern).__name__}")
    if isinstance(log_event_messages, (str, bytes)):
        raise TypeError("log_event_messages must be a sequence of str, not a single string")
    messages = list(log_event_messages)
    if not 1 <= len(messages) <= MAX_LOG_EVENT_MESSAGES:
        raise ValueError(
            f"logEventMessages must hold 1 to {MAX_LOG_EVENT_MESSAGES} messages (AWS's limit), found {len(messages)}"
        )
    for i, message in enumerate(messages):
        if not isinstance(message, str):
            raise TypeError(f"log event message {i + 1} must be str, not {type(message).__name__}")
        if not message:
            raise ValueError(f"log event message {i + 1} is empty; AWS requires at least 1 character")
    found = _core.test_metric_filter(filter_pattern, messages)
    return {
        "matches": [
            {"eventNumber": number, "eventMessage": message, "extractedValues": extracted}
            for number, message, extracted in found
        ]
    }


# pytest would collect the public name as a test function.
test_metric_filter.__test__ = False  # type: ignore[attr-defined]


def compile_filter_pattern(text: str) -> None:
    """Checks a filter pattern as ``PutMetricFilter`` would; returns nothing if it is valid.

    Rule loaders call this when a file is loaded, so that a bad pattern is reported with its
    file and line before any event is read.

    Raises:
        FilterPatternError: the pattern is invalid; ``position`` is the 0-based character
            index of the problem, ``hint`` a fix for common mistakes.
        TypeError: ``text`` is not a ``str``.

    Example:
        >>> from trailmatch.filters import compile_filter_pattern
        >>> compile_filter_pattern('{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }')
        >>> try:
        ...     compile_filter_pattern("{ $.sourceIPAddress != 10.* ")
        ... except ValueError as e:
        ...     print(e)
        Invalid filter pattern: missing the closing '}' of the JSON pattern at character 27
    """
    if not isinstance(text, str):
        raise TypeError(f"a filter pattern must be str, not {type(text).__name__}")
    _core.FilterSet().add("pattern", text)
