"""Type stubs for the Rust extension module ``trailmatch._core``."""

from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from typing import Any, Literal

_JSON = str | bytes | dict[str, Any]
_Event = str | bytes | bytearray | dict[str, Any]

__version__: str

class Ruleset:
    """A set of named EventBridge event patterns compiled into one automaton.

    Matching cost does not grow with the number of rules; ``match_many`` releases the GIL and
    spreads a batch over all cores.

    Example:
        >>> from trailmatch import Ruleset
        >>> rules = Ruleset()
        >>> rules.add("big-writes", {"detail": {"bytes": [{"numeric": [">=", 1000000]}]}})
        >>> rules.add("from-office", '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}]}}')
        >>> len(rules), "big-writes" in rules
        (2, True)
        >>> rules.match_many([{"detail": {"bytes": 2e6}}, b'{"detail": {"sourceIPAddress": "10.1.2.3"}}'])
        [['big-writes'], ['from-office']]
    """

    def __init__(
        self,
        *,
        max_pattern_length: int = 2048,
        max_wildcard_complexity: int = 10,
        max_alternatives: int = 1024,
        validation: Literal["full", "lazy"] = "full",
    ) -> None:
        """Limits default to EventBridge's (pattern length is an adjustable quota there).

        ``validation="full"`` checks every byte of every event (a malformed event raises
        ``EventError`` wherever the problem is). ``"lazy"`` validates only what the rules read,
        skips other values by their brackets and quotes, and stops reading an event once no
        referenced field can follow: faster on large events, for input known to be JSON.
        """
    def add(self, name: str, event_pattern: _JSON) -> None:
        """Compile ``event_pattern`` and add it as ``name``; re-adding a name replaces the rule.

        Raises:
            PatternError: the pattern is invalid; the ruleset is unchanged.
        """
    def remove(self, name: str) -> None:
        """Remove the rule ``name``.

        Raises:
            KeyError: there is no such rule.
        """
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def names(self) -> list[str]:
        """All rule names, in the order they were added."""
    def warnings(self, name: str) -> list[str]:
        """What EventBridge accepts in the rule's pattern but is probably a mistake."""
    def match(self, event: _Event) -> list[str]:
        """Names of the rules matching ``event``, in the order the rules were added.

        Raises:
            EventError: the event is not a UTF-8 JSON object.
        """
    def match_many(self, events: Iterable[_Event]) -> list[list[str]]:
        """``match`` for every event of a batch, in parallel, without holding the GIL.

        Raises:
            EventError: an event is not a UTF-8 JSON object (``index`` says which).
        """

def test_event_pattern(event_pattern: _JSON, event: _Event) -> bool: ...
def explain(event_pattern: _JSON, event: _Event) -> tuple[bool, str, list[dict[str, Any]]]: ...

class FilterSet:
    """A set of named CloudWatch Logs filter patterns, matched together (metric filters).

    JSON patterns share one scan of each message, term patterns one pass over its text,
    space-delimited patterns one split into fields; a filter is evaluated only when something
    it cannot match without was found, so matching cost does not grow with the number of
    filters that cannot match. ``match_many`` releases the GIL and spreads a batch over all
    cores.

    Example:
        >>> from trailmatch._core import FilterSet
        >>> filters = FilterSet()
        >>> filters.add("root", '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }')
        >>> filters.add("latency", "{ $.latency > 100 }", values=["$.latency"])
        >>> filters.add("apache-4xx", "[ip, id, user, ts, request, status = 4*, bytes]", values=["$bytes"])
        >>> len(filters), "root" in filters, filters.kind("apache-4xx")
        (3, True, 'delimited')
        >>> filters.match('{"userIdentity": {"type": "Root"}, "latency": 250}')
        [('root', {}, []), ('latency', {}, ['250'])]
        >>> line = '10.0.0.1 - bob [01/Jan/2024:00:00:00 +0000] "GET /x HTTP/1.1" 404 512'
        >>> name, extracted, values = filters.match(line)[0]
        >>> name, extracted["$status"], values
        ('apache-4xx', '404', ['512'])
        >>> filters.match_many(["plain text", '{"latency": 5}'])
        [[], []]
    """

    def __init__(self, *, strict: bool = False) -> None:
        """``strict=True`` rejects unquoted terms with characters other than letters, digits
        and ``_`` (``foo-bar``), as the AWS documentation asks; by default they are one term."""
    def add(self, name: str, pattern: str, values: Iterable[str] = ()) -> None:
        """Compile ``pattern`` and add it as ``name``; re-adding a name replaces the filter.

        ``values`` are selectors (a metric value, dimensions) whose values each match reports:
        ``$.a.b`` / ``$.a[0]`` for JSON, term and empty patterns; ``$name`` (a slot) or ``$7``
        (a field position) for space-delimited patterns.

        Raises:
            FilterPatternError: the pattern or a value selector is invalid; the set is unchanged.
        """
    def remove(self, name: str) -> None:
        """Remove the filter ``name``.

        Raises:
            KeyError: there is no such filter.
        """
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def names(self) -> list[str]:
        """All filter names, in the order they were added."""
    def kind(self, name: str) -> Literal["empty", "terms", "json", "delimited"]:
        """The kind of the filter ``name`` (``KeyError`` if there is none)."""
    def regex_count(self, name: str) -> int:
        """How many ``%...%`` expressions the filter ``name`` has (AWS: at most 5 regex-bearing
        filters per log group)."""
    def match(self, message: str | bytes | bytearray) -> list[tuple[str, dict[str, str], list[str | None]]]:
        """``(name, extracted_values, values)`` for each filter matching ``message``, in the
        order the filters were added. ``values`` follow the filter's selectors: the text of the
        value, or ``None`` where the selector reaches nothing, ``null``, an object or an array.
        A message that is not JSON matches no JSON pattern (no error)."""
    def match_many(
        self, messages: Iterable[str | bytes | bytearray]
    ) -> list[list[tuple[str, dict[str, str], list[str | None]]]]:
        """``match`` for every message of a batch, in parallel, without holding the GIL."""

def test_metric_filter(filter_pattern: str, log_event_messages: list[str]) -> list[tuple[int, str, dict[str, str]]]:
    """``(event_number, message, extracted_values)`` for each matching message (1-based numbers).

    Example:
        >>> from trailmatch._core import test_metric_filter
        >>> test_metric_filter("?ERROR ?WARN", ["all good", "WARN disk 91%"])
        [(2, 'WARN disk 91%', {})]
    """

class Replay:
    """Rules deployed on buses in regions, replaying CloudTrail data (``trailmatch scan``'s
    engine; most users want the CLI or :mod:`trailmatch.scan`).

    Each record is matched on the default bus of its ``awsRegion``; ``ENABLED`` rules do not see
    read-only management events; ``DISABLED`` rules are validated but match nothing.

    Example:
        >>> from trailmatch._core import Replay
        >>> replay = Replay()
        >>> replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
        >>> out = replay.process(b'{"Records": [{"eventSource": "iam.amazonaws.com", '
        ...                      b'"awsRegion": "us-east-1", "eventID": "e1", "readOnly": false}]}')
        >>> [(m[0], m[2]) for m in out["matches"]], out["stats"]["records"]
        ([(0, [0])], 1)
    """

    def __init__(
        self,
        *,
        read_only: Literal["flag", "name-prefix"] = "flag",
        ids: Literal["deterministic", "random"] = "deterministic",
        source_overrides: list[tuple[str, str]] | None = None,
        vpce_detail_type: str | None = None,
        default_account: str = "123456789012",
        validation: Literal["full", "lazy"] = "full",
        max_pattern_length: int = 2048,
    ) -> None: ...
    def add_rule(self, key: int, region: str, bus: str, state: str, event_pattern: _JSON) -> None:
        """Add a rule under the caller's ``key``.

        Raises:
            PatternError: the pattern is invalid (also for ``DISABLED`` rules).
            ValueError: ``state`` is not a rule state.
        """
    def add_filter(self, key: int, pattern: str, values: Sequence[str] = ()) -> None:
        """Add a metric filter under the caller's ``key``: evaluated on every record (one record
        = one log event, whatever its region), reporting the text of each selector of ``values``.

        Raises:
            FilterPatternError: the pattern is invalid.
        """
    @property
    def filter_count(self) -> int:
        """Number of metric filters."""
    def __len__(self) -> int: ...
    def process(self, data: bytes) -> dict[str, Any]:
        """Replay one input (gzip or not; ``{"Records": [...]}``, an array or JSON Lines).

        Returns ``{"matches": [(index, offset, keys, event_json, event_id, region, time)],
        "logged": [(index, unix_seconds, [(filter_key, [value | None, ...]), ...])],
        "untimed": [(index, offset, why, [(filter_key, [value | None, ...]), ...])],
        "errors": [(index | None, offset, message)], "stats": {...}}``; offsets are in the
        decompressed input; ``logged`` lists the records that matched metric filters,
        ``untimed`` every record without a usable ``eventTime`` (with its matches, which no
        metric can place), and ``stats["log_seconds"]`` counts every timed record per second of
        event time, ``[(unix_seconds, count)]``; ``match_counts`` is ``[(key, matches)]`` per
        rule key that matched. The GIL is released throughout.
        """
    def process_file(self, path: str) -> dict[str, Any]:
        """``process`` for a file read by Rust. Raises ``OSError`` if it cannot be read."""
    def process_files(
        self, paths: Sequence[str | PathLike[str]], *, threads: int = 1, window: int | None = None
    ) -> ReplayFiles:
        """``process_file`` for many files on ``threads`` Rust threads that never take the GIL.

        Results come back in the order of ``paths``; workers stay at most ``window`` files
        (default ``2 * threads``) ahead of the caller. Rules cannot be added while a run is
        under way (``RuntimeError``).

        Example:
            >>> import os, tempfile
            >>> from trailmatch._core import Replay
            >>> replay = Replay()
            >>> replay.add_rule(0, "us-east-1", "default", "ENABLED", {"source": ["aws.iam"]})
            >>> folder = tempfile.mkdtemp()
            >>> path = os.path.join(folder, "a.json")
            >>> with open(path, "wb") as f:
            ...     _ = f.write(b'{"Records": [{"eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1"}]}')
            >>> [r["stats"]["records"] if isinstance(r, dict) else type(r).__name__
            ...  for r in replay.process_files([path, os.path.join(folder, "missing.json")], threads=2)]
            [1, 'FileNotFoundError']
        """
    def match_forwarded(self, region: str, bus: str, event: _Event) -> list[int]:
        """Keys of the rules on ``bus`` in ``region`` that match an event forwarded there."""

class ReplayFiles(Iterator[dict[str, Any] | Exception]):
    """The results of :meth:`Replay.process_files`, one per path in order: a dict as
    :meth:`Replay.process` returns, or the exception that kept the file from being read
    (``OSError``; ``RuntimeError`` for an internal error while processing it)."""

    def __next__(self) -> dict[str, Any] | Exception: ...
    def __len__(self) -> int: ...
    def close(self, wait: bool = True) -> None:
        """Stop: results not yet taken are dropped; the workers stop after their current file.
        With ``wait``, return once they have (interruptible); without, at once."""

def cloudtrail_to_eventbridge(
    record: _Event,
    *,
    read_only: str = "flag",
    ids: str = "deterministic",
    source_overrides: list[tuple[str, str]] | None = None,
    vpce_detail_type: str | None = None,
    default_account: str = "123456789012",
) -> str: ...
