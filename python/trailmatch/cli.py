"""The ``trailmatch`` command line.

Commands mirror the AWS CLI where one exists (``test-event-pattern`` prints what
``aws events test-event-pattern`` prints, ``test-metric-filter`` what ``aws logs
test-metric-filter`` prints) and add what AWS does not offer (``explain``).
Pattern, event and message arguments take inline text or ``file://path`` as the AWS CLI does.

Exit codes: 0 success, 1 findings (a command that checks something and found a problem),
2 usage or input error, with a message naming the input and the place in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from trailmatch import __version__
from trailmatch.errors import EventError, FilterPatternError, PatternError
from trailmatch.filters import test_metric_filter
from trailmatch.patterns import explain, test_event_pattern

__all__ = ["main"]

#: Fields ``TestEventPattern`` requires in the event (EventBridge API reference).
ENVELOPE_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


class InputError(Exception):
    """A usage or input problem: printed to stderr, exit status 2."""


def load_parameter(value: str, option: str) -> str:
    """An AWS CLI-style parameter: inline text, ``file://path`` or ``fileb://path``.

    Example:
        >>> load_parameter('{"a": ["x"]}', "--event-pattern")
        '{"a": ["x"]}'
    """
    for scheme in ("file://", "fileb://"):
        if value.startswith(scheme):
            path = Path(value[len(scheme) :]).expanduser()
            try:
                data = path.read_bytes()
            except OSError as e:
                raise InputError(f"Error parsing parameter '{option}': Unable to load paramfile {value}: {e}") from e
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"Error parsing parameter '{option}': {path} is not UTF-8 (byte {e.start}: {e.reason})"
                ) from e
    return value


def _line_column(text: str, offset: int) -> tuple[int, int]:
    data = text.encode("utf-8")[:offset].decode("utf-8", errors="replace")
    return data.count("\n") + 1, len(data) - (data.rfind("\n") + 1) + 1


def _pattern_problem(error: PatternError, text: str, source: str) -> str:
    lines = [f"An error occurred (InvalidEventPatternException) when calling the TestEventPattern operation: {error}"]
    where = f"  at {error.path} in {source}"
    if error.offset is not None:
        line, column = _line_column(text, error.offset)
        where += f" (line {line}, column {column}, byte {error.offset})"
    lines.append(where)
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return "\n".join(lines)


def _event_problem(detail: str) -> str:
    return (
        "An error occurred (ValidationException) when calling the TestEventPattern operation: "
        f"Parameter Event is not valid.\n  {detail}"
    )


def _check_envelope(event_text: str, source: str) -> None:
    """Rejects an event that ``aws events test-event-pattern`` would reject."""
    try:
        event = json.loads(event_text)
    except json.JSONDecodeError as e:
        raise InputError(
            _event_problem(f"{source} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
        ) from e
    if not isinstance(event, dict):
        raise InputError(_event_problem(f"{source} must be a JSON object"))
    missing = [f for f in ENVELOPE_FIELDS if f not in event]
    if missing:
        raise InputError(
            _event_problem(
                f"{source} lacks the EventBridge envelope field(s) {', '.join(missing)}; "
                "pass --any-json to test a bare JSON object"
            )
        )


def _cmd_test_event_pattern(args: argparse.Namespace) -> int:
    pattern = load_parameter(args.event_pattern, "--event-pattern")
    event = load_parameter(args.event, "--event")
    if not args.any_json:
        _check_envelope(event, _source_name(args.event, "--event"))
    try:
        result = test_event_pattern(pattern, event)
    except PatternError as e:
        raise InputError(_pattern_problem(e, pattern, _source_name(args.event_pattern, "--event-pattern"))) from e
    except EventError as e:
        raise InputError(_event_problem(f"{_source_name(args.event, '--event')}: {e}")) from e
    print(json.dumps({"Result": result}, indent=4))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    pattern = load_parameter(args.event_pattern, "--event-pattern")
    event = load_parameter(args.event, "--event")
    try:
        explanation = explain(pattern, event)
    except PatternError as e:
        raise InputError(_pattern_problem(e, pattern, _source_name(args.event_pattern, "--event-pattern"))) from e
    except EventError as e:
        raise InputError(f"{_source_name(args.event, '--event')}: {e}") from e
    if args.json:
        print(json.dumps({"matched": explanation.matched, "branches": explanation.branches}, indent=2))
    else:
        print(explanation.text, end="")
    return 0


def _caret(text: str, position: int, width: int = 100) -> list[str]:
    """The line of ``text`` holding character ``position``, and a caret under it (a window of
    the line when it is long)."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    # One column per character: tabs are shown as spaces so the caret lines up.
    line = text[start : end if end != -1 else len(text)].replace("\t", " ")
    column = position - start
    prefix = ""
    if len(line) > width:
        left = max(0, min(column - width // 2, len(line) - width))
        prefix = "..." if left else ""
        line = prefix + line[left : left + width] + ("..." if left + width < len(line) else "")
        column = column - left + len(prefix)
    return [f"    {line}", "    " + " " * column + "^"]


def _filter_problem(error: FilterPatternError, text: str, source: str) -> str:
    lines = [f"An error occurred (InvalidParameterException) when calling the TestMetricFilter operation: {error}"]
    if source != "--filter-pattern" or "\n" in text:
        line, column = (
            text[: error.position].count("\n") + 1,
            error.position - (text.rfind("\n", 0, error.position) + 1) + 1,
        )
        lines.append(f"  in {source} (line {line}, column {column})")
    lines.extend(_caret(text, error.position))
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    return "\n".join(lines)


def _cmd_test_metric_filter(args: argparse.Namespace) -> int:
    pattern = load_parameter(args.filter_pattern, "--filter-pattern")
    messages = [load_parameter(m, "--log-event-messages") for m in args.log_event_messages]
    try:
        result = test_metric_filter(pattern, messages)
    except FilterPatternError as e:
        raise InputError(_filter_problem(e, pattern, _source_name(args.filter_pattern, "--filter-pattern"))) from e
    except ValueError as e:
        raise InputError(
            f"An error occurred (InvalidParameterException) when calling the TestMetricFilter operation: {e}"
        ) from e
    print(json.dumps(result, indent=4, ensure_ascii=False))
    return 0


def _source_name(value: str, option: str) -> str:
    for scheme in ("file://", "fileb://"):
        if value.startswith(scheme):
            return value[len(scheme) :]
    return option


class Parser(argparse.ArgumentParser):
    """Exits with status 2 and the usage on a usage error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``trailmatch`` command."""
    parser = Parser(
        prog="trailmatch",
        description="Test, explain and replay Amazon EventBridge rules over CloudTrail logs, offline.",
    )
    parser.add_argument("--version", action="version", version=f"trailmatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    test = commands.add_parser(
        "test-event-pattern",
        help="test an event pattern against an event, like `aws events test-event-pattern`",
        description='Prints {"Result": true|false}. The event must carry the EventBridge envelope '
        "fields (id, account, source, time, region, detail-type) unless --any-json is given.",
    )
    test.add_argument("--event-pattern", required=True, metavar="P", help="pattern JSON or file://path")
    test.add_argument("--event", required=True, metavar="E", help="event JSON or file://path")
    test.add_argument("--any-json", action="store_true", help="accept any JSON object as the event")
    test.set_defaults(run=_cmd_test_event_pattern)

    metric = commands.add_parser(
        "test-metric-filter",
        help="test a CloudWatch Logs filter pattern against log messages, like `aws logs test-metric-filter`",
        description='Prints {"matches": [{"eventNumber", "eventMessage", "extractedValues"}]} for the '
        "matching messages (eventNumber counts from 1). 1 to 50 messages, each at least one character.",
    )
    metric.add_argument("--filter-pattern", required=True, metavar="P", help="filter pattern or file://path")
    metric.add_argument(
        "--log-event-messages", required=True, nargs="+", metavar="M", help="log messages, each inline or file://path"
    )
    metric.set_defaults(run=_cmd_test_metric_filter)

    exp = commands.add_parser(
        "explain",
        help="explain which field and operator decided whether a pattern matches an event",
    )
    exp.add_argument("--event-pattern", required=True, metavar="P", help="pattern JSON or file://path")
    exp.add_argument("--event", required=True, metavar="E", help="event JSON or file://path")
    exp.add_argument("--json", action="store_true", help="print the explanation as JSON")
    exp.set_defaults(run=_cmd_explain)

    from trailmatch import cli_scan  # imported here: cli_scan imports this module

    cli_scan.register(commands)
    from trailmatch import cli_alarms  # imported here: it imports this module

    cli_alarms.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trailmatch`` command; returns the exit status.

    Example:
        >>> main(["test-event-pattern", "--any-json",
        ...       "--event-pattern", '{"a": ["x"]}', "--event", '{"a": "x"}'])
        {
            "Result": true
        }
        0
    """
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except InputError as e:
        print(e, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
