"""trailmatch: Amazon EventBridge rules over CloudTrail, tested and replayed offline at hardware speed.

The engine is written in Rust (``trailmatch._core``); this package is its Python face.

Example:
    >>> import trailmatch
    >>> rules = trailmatch.Ruleset()
    >>> rules.add("iam-policy-changes", {
    ...     "source": ["aws.iam"],
    ...     "detail": {"eventName": [{"prefix": "Attach"}, {"prefix": "Detach"}]},
    ... })
    >>> rules.match({"source": "aws.iam", "detail": {"eventName": "AttachUserPolicy"}})
    ['iam-policy-changes']
    >>> trailmatch.test_event_pattern({"a": [{"numeric": [">", 1]}]}, '{"a": 2}')
    True
"""

from __future__ import annotations

from trailmatch._core import Ruleset, __version__
from trailmatch.cloudtrail import cloudtrail_to_eventbridge
from trailmatch.errors import EventError, FilterPatternError, PatternError
from trailmatch.filters import test_metric_filter
from trailmatch.patterns import Explanation, JSONInput, explain, test_event_pattern
from trailmatch.transform import TransformError, transform_input

__all__ = [
    "EventError",
    "Explanation",
    "FilterPatternError",
    "JSONInput",
    "PatternError",
    "Ruleset",
    "TransformError",
    "__version__",
    "cloudtrail_to_eventbridge",
    "explain",
    "test_event_pattern",
    "test_metric_filter",
    "transform_input",
]
