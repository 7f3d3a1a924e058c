"""What an EventBridge target receives: ``Input``, ``InputPath`` and ``InputTransformer``.

:func:`transform_input` computes the exact text EventBridge would deliver to a target for one
event; :func:`validate_target` checks a target's input settings as ``PutTargets`` does (with
AWS's messages); :func:`payload_for` is the shortcut for a :class:`~trailmatch.model.Target`.

Semantics (see ``reference/cloudtrail-eventbridge.md`` §5; *decision* marks where AWS is silent):

* **No option**: the event as compact JSON (``{"version":"0","id":...}``: no spaces, keys in
  their order, non-ASCII characters written as UTF-8, not ``\\u`` escapes). Real deliveries
  (SQS bodies, SNS ``Message`` fields of EventBridge-published notifications) are compact JSON.
  *Decision*: numbers are re-serialised by Python (``1.50`` → ``1.5``, ``1e3`` → ``1000.0``);
  integers are exact.
* **Input**: the text itself, verbatim (it must be valid JSON).
* **InputPath**: the selected value as compact JSON, so a string leaf arrives *with* its quotes
  (``"baz"``, AWS-observed). *Decision*: a path that selects nothing delivers nothing
  (:class:`TransformError`).
* **InputTransformer**: placeholders ``<name>`` in ``InputTemplate`` are replaced by the values
  that the ``InputPathsMap`` paths select, or by the reserved variables (``aws.events.rule-arn``,
  ``aws.events.rule-name``, ``aws.events.event.ingestion-time``, ``aws.events.event``,
  ``aws.events.event.json``). A template whose first non-blank character is ``{`` or ``[`` is a
  *JSON template*; anything else is a *string template*, delivered as written (a template written
  as a JSON string literal keeps its outer quotes). Values are never escaped:

  ============================  ======================  =========================================
  where                         value                   output
  ============================  ======================  =========================================
  string template               string                  its raw text
  string template               number / boolean        its JSON text (``true``, ``1.5``)
  string template               object / array          ``{k1:v1,k2:v2}`` / ``[a,b]``: unquoted
  string template               missing                 empty
  JSON template, bare           string                  ``"`` + raw text + ``"``
  JSON template, bare           number / boolean / null the JSON literal
  JSON template, bare           object / array          compact JSON, inlined
  JSON template, bare           missing                 ``""``
  JSON template, in a string    string/number/boolean   raw text spliced in
  JSON template, in a string    object / array          invalid: nothing is delivered
  JSON template, in a string    missing                 empty
  ============================  ======================  =========================================

  Every occurrence of a repeated placeholder is replaced. The reserved JSON variables
  (``aws.events.event``, ``aws.events.event.json``) are raw JSON text wherever they are placed,
  which is valid only as a bare JSON value. *Decision*: a JSON ``null`` renders as ``null`` (in
  strings too), unlike a missing path.

  When the result is not what the target can receive — a JSON template whose result is not valid
  JSON (an object spliced into a string, a value with a ``"`` inside a quoted placeholder), or a
  string template written as one JSON string literal whose result is no longer one — EventBridge
  delivers nothing, and :func:`transform_input` raises :class:`TransformError` so that the caller
  can count the event and go on. A string template that is not one JSON string literal (several
  quoted lines, as in the console's examples, or bare text) is delivered as written, unchecked.

JSONPath (the subset EventBridge documents): ``$``, then ``.name`` steps (names may contain
dashes, underscores, slashes and any character but ``.``, ``[`` and ``]``), array indices
``[0]`` (``[-1]`` counts from the end, as Jayway JsonPath does), and wildcards ``.*`` / ``[*]``.
*Decision*: as in Jayway JsonPath (the Java library EventBridge's syntax follows), a path with a
wildcard is *indefinite* and yields the JSON array of every value it reaches, in document order
(``[]`` when it reaches none); a definite path yields one value or nothing. Bracketed names
(``['a b']``) are accepted; deep scan (``..``) and filters are not (:class:`TransformError` when
evaluated, a warning from :func:`lint_target`).

Example:
    >>> event = {"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
    ...          "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z",
    ...          "region": "us-east-1", "resources": [], "detail": {"instance-id": "i-1", "state": "RUNNING"}}
    >>> print(transform_input(event, input_path="$.detail.state"))
    "RUNNING"
    >>> print(transform_input(event, input_paths_map={"i": "$.detail.instance-id", "s": "$.detail.state"},
    ...                       input_template='"instance <i> is in <s>"'))
    "instance i-1 is in RUNNING"
    >>> print(transform_input(event, input_paths_map={"i": "$.detail.instance-id", "s": "$.detail.state"},
    ...                       input_template='{"instance": <i>, "state": [9, <s>, true]}'))
    {"instance": "i-1", "state": [9, "RUNNING", true]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from trailmatch import model
from trailmatch.errors import EventError

__all__ = [
    "MAX_INPUT_LENGTH",
    "MAX_INPUT_PATHS",
    "MAX_INPUT_PATH_LENGTH",
    "MAX_INPUT_TEMPLATE_LENGTH",
    "RESERVED_VARIABLES",
    "EventJSON",
    "TransformError",
    "compact_json",
    "evaluate_path",
    "format_ingestion_time",
    "lint_target",
    "payload_for",
    "placeholders",
    "transform_input",
    "validate_target",
]

#: The reserved template variables; they cannot be ``InputPathsMap`` keys.
RESERVED_VARIABLES: Final = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
#: ``Input`` length limit (characters).
MAX_INPUT_LENGTH: Final = 8192
#: ``InputPath`` and ``InputPathsMap`` value length limit.
MAX_INPUT_PATH_LENGTH: Final = 256
#: ``InputTemplate`` length limit.
MAX_INPUT_TEMPLATE_LENGTH: Final = 8192
#: ``InputPathsMap`` entry limit.
MAX_INPUT_PATHS: Final = 100

_KEY_RE = re.compile(r"[A-Za-z0-9_\-]+")
_TARGET_ID_RE = re.compile(r"[\.\-_A-Za-z0-9]+")
#: A placeholder: ``<name>`` where name could be a map key or a reserved variable.
_PLACEHOLDER_RE = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_JSON_VARIABLES = frozenset({"aws.events.event", "aws.events.event.json"})


class TransformError(ValueError):
    """EventBridge would deliver nothing for this event to this target.

    Raised when the transformed input is not something the target can receive (a JSON template
    producing invalid JSON, ...). ``str(error)`` says why; the caller counts the event and goes on.

    Example:
        >>> try:
        ...     transform_input({"d": {"a": 1}}, input_paths_map={"d": "$.d"}, input_template='{"x": "v=<d>"}')
        ... except TransformError as e:
        ...     print(e)
        InputTemplate placeholder <d> is inside a JSON string but its value is an object: the result is not valid JSON
    """


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: The value of a path that selects nothing.
MISSING: Final = _Missing()


def compact_json(value: Any) -> str:
    """JSON text as EventBridge writes it: no spaces, UTF-8 characters unescaped.

    Example:
        >>> compact_json({"a": [1, "é"], "b": None})
        '{"a":[1,"é"],"b":null}'
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def format_ingestion_time(value: str | datetime | None) -> str:
    """``aws.events.event.ingestion-time``: ``YYYY-MM-DDThh:mm:ssZ`` (UTC, seconds).

    A string is used as given; a naive ``datetime`` is taken as UTC; ``None`` means now.

    Example:
        >>> format_ingestion_time(datetime(2024, 5, 1, 12, 30, 5, 999))
        '2024-05-01T12:30:05Z'
    """
    if isinstance(value, str):
        return value
    if value is None:
        value = datetime.now(timezone.utc)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- JSONPath -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    kind: str  # "key", "index", "wild"
    key: str = ""
    index: int = 0


_path_cache: dict[str, tuple[_Step, ...]] = {}


def _parse_path(path: str) -> tuple[_Step, ...]:
    cached = _path_cache.get(path)
    if cached is not None:
        return cached
    text = path.strip()
    if not text.startswith("$"):
        raise TransformError(f"JSONPath {path!r} must start with '$'")
    steps: list[_Step] = []
    i, n = 1, len(text)
    while i < n:
        c = text[i]
        if c == ".":
            if text.startswith("..", i):
                raise TransformError(f"JSONPath {path!r}: deep scan '..' is not supported by EventBridge")
            j = i + 1
            while j < n and text[j] not in ".[]":
                j += 1
            name = text[i + 1 : j]
            if not name:
                raise TransformError(f"JSONPath {path!r}: empty name at offset {i + 1}")
            steps.append(_Step("wild") if name == "*" else _Step("key", key=name))
            i = j
        elif c == "[":
            close = _bracket_end(text, i, path)
            inner = text[i + 1 : close].strip()
            if inner == "*":
                steps.append(_Step("wild"))
            elif re.fullmatch(r"-?[0-9]+", inner):
                steps.append(_Step("index", index=int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(_Step("key", key=inner[1:-1]))
            else:
                raise TransformError(f"JSONPath {path!r}: unsupported selector [{inner}]")
            i = close + 1
        else:
            raise TransformError(f"JSONPath {path!r}: unexpected {c!r} at offset {i}")
    result = tuple(steps)
    if len(_path_cache) < 4096:
        _path_cache[path] = result
    return result


def _bracket_end(text: str, start: int, path: str) -> int:
    quote = ""
    for j in range(start + 1, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise TransformError(f"JSONPath {path!r}: '[' at offset {start} is not closed")


def evaluate_path(document: Any, path: str) -> Any:
    """The value ``path`` selects in ``document``, or :data:`MISSING`.

    A path with a wildcard yields the list of every value it reaches (see the module docs).

    Raises:
        TransformError: the path uses syntax EventBridge does not support.

    Example:
        >>> doc = {"detail": {"items": [{"n": "a"}, {"n": "b"}], "x-y": {"p/q": 1}}}
        >>> evaluate_path(doc, "$.detail.items[1].n"), evaluate_path(doc, "$.detail.x-y.p/q")
        ('b', 1)
        >>> evaluate_path(doc, "$.detail.items[*].n")
        ['a', 'b']
        >>> evaluate_path(doc, "$.detail.nope")
        MISSING
    """
    steps = _parse_path(path)
    if not any(s.kind == "wild" for s in steps):
        current = document
        for step in steps:
            current = _step_one(current, step)
            if current is MISSING:
                return MISSING
        return current
    values = [document]
    for step in steps:
        nxt: list[Any] = []
        for value in values:
            if step.kind == "wild":
                if isinstance(value, dict):
                    nxt.extend(value.values())
                elif isinstance(value, list):
                    nxt.extend(value)
            else:
                v = _step_one(value, step)
                if v is not MISSING:
                    nxt.append(v)
        values = nxt
    return values


def _step_one(value: Any, step: _Step) -> Any:
    if step.kind == "key":
        if isinstance(value, dict):
            return value.get(step.key, MISSING)
        return MISSING
    if isinstance(value, list):
        idx = step.index
        if -len(value) <= idx < len(value):
            return value[idx]
    return MISSING


# --- template rendering -------------------------------------------------------------------------


def placeholders(template: str) -> list[str]:
    """The distinct placeholder names of ``template``, in order of first appearance.

    Example:
        >>> placeholders('"<a> then <b-c> then <a> at <aws.events.rule-name>"')
        ['a', 'b-c', 'aws.events.rule-name']
    """
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER_RE.finditer(template):
        seen.setdefault(m.group(1), None)
    return list(seen)


def _is_json_template(template: str) -> bool:
    stripped = template.lstrip()
    return stripped.startswith(("{", "["))


def _is_json_string(text: str) -> bool:
    try:
        return isinstance(json.loads(text), str)
    except json.JSONDecodeError:
        return False


def _unquoted(value: Any) -> str:
    """A value in a string template: objects and arrays with keys and strings unquoted."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_unquoted(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_unquoted(v) for v in value) + "]"
    return compact_json(value)


def _placeholder_spans(template: str) -> list[tuple[int, int, str, bool]]:
    """Placeholders of a JSON template: (start, end, name, inside a JSON string)."""
    spans: list[tuple[int, int, str, bool]] = []
    in_string = False
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if in_string and c == "\\":
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        elif c == "<":
            m = _PLACEHOLDER_RE.match(template, i)
            if m:
                spans.append((m.start(), m.end(), m.group(1), in_string))
                i = m.end()
                continue
        i += 1
    return spans


def _envelope_without_detail(event: Mapping[str, Any]) -> dict[str, Any]:
    return {("detailType" if k == "detail-type" else k): v for k, v in event.items() if k != "detail"}


class EventJSON(Mapping[str, Any]):
    """An EventBridge event held as its compact JSON text, parsed only when a field is read.

    ``trailmatch scan`` hands matched events over in this form: a target without ``Input``,
    ``InputPath`` or ``InputTransformer`` receives :attr:`text` as it is, so delivering the whole
    event costs no parse. Fields given as keywords (``time=...``) are answered without parsing.

    Example:
        >>> e = EventJSON('{"version":"0","time":"2026-11-22T10:00:00Z","detail":{"n":1.50}}',
        ...               time="2026-11-22T10:00:00Z")
        >>> e.get("time"), e.parsed is None
        ('2026-11-22T10:00:00Z', True)
        >>> e["detail"], transform_input(e)
        ({'n': 1.5}, '{"version":"0","time":"2026-11-22T10:00:00Z","detail":{"n":1.50}}')
    """

    __slots__ = ("_known", "parsed", "text")

    def __init__(self, text: str, **known: Any) -> None:
        #: The event's JSON text.
        self.text = text
        self._known = known
        #: The parsed event, once a field other than the known ones was read.
        self.parsed: dict[str, Any] | None = None

    def _doc(self) -> dict[str, Any]:
        if self.parsed is None:
            doc = _load_event(self.text)
            self.parsed = doc if isinstance(doc, dict) else dict(doc)
        return self.parsed

    def __getitem__(self, key: str) -> Any:
        if self.parsed is None and key in self._known:
            return self._known[key]
        return self._doc()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc())

    def __len__(self) -> int:
        return len(self._doc())

    def __repr__(self) -> str:
        return f"EventJSON({self.text[:60]!r}{'...' if len(self.text) > 60 else ''})"


def _load_event(event: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(event, dict):
        return event
    if isinstance(event, Mapping):
        return dict(event)
    if isinstance(event, (bytes, bytearray)):
        try:
            event = bytes(event).decode("utf-8")
        except UnicodeDecodeError as e:
            raise EventError(f"event is not UTF-8 (byte {e.start}: {e.reason})", offset=e.start) from None
    try:
        parsed = json.loads(event)
    except json.JSONDecodeError as e:
        raise EventError(f"event is not valid JSON: {e.msg} (line {e.lineno} column {e.colno})", offset=e.pos) from None
    if not isinstance(parsed, dict):
        raise EventError("event is not a JSON object")
    return parsed


def transform_input(
    event: str | bytes | Mapping[str, Any],
    *,
    input: str | None = None,
    input_path: str | None = None,
    input_paths_map: Mapping[str, str] | None = None,
    input_template: str | None = None,
    rule_name: str = "",
    rule_arn: str = "",
    ingestion_time: str | datetime | None = None,
) -> str:
    """The text EventBridge delivers to a target for ``event`` (see the module docs).

    Args:
        event: the EventBridge event (envelope), as JSON text or a parsed ``dict``.
        input: the target's ``Input`` (valid JSON text): delivered verbatim.
        input_path: the target's ``InputPath``: the selected value, as JSON.
        input_paths_map: ``InputTransformer.InputPathsMap`` (name → JSONPath).
        input_template: ``InputTransformer.InputTemplate`` (required with ``input_paths_map``).
        rule_name: value of ``<aws.events.rule-name>``.
        rule_arn: value of ``<aws.events.rule-arn>``.
        ingestion_time: value of ``<aws.events.event.ingestion-time>`` (default: now).

    Raises:
        TransformError: EventBridge would deliver nothing (invalid result, path selecting nothing).
        EventError: ``event`` is not a JSON object.
        ValueError: the options are invalid as ``PutTargets`` would reject them.

    Example:
        >>> ev = {"version": "0", "detail-type": "T", "source": "s", "detail": {"user": "alice", "n": 3}}
        >>> transform_input(ev, input_path="$.detail")
        '{"user":"alice","n":3}'
        >>> transform_input(ev, input='{"fixed": true}')
        '{"fixed": true}'
        >>> transform_input(ev, input_paths_map={"d": "$.detail"}, input_template='"got <d>"')
        '"got {user:alice,n:3}"'
        >>> transform_input(ev, input_template='{"e": <aws.events.event>, "r": "<aws.events.rule-name>"}',
        ...                 rule_name="my-rule")
        '{"e": {"version":"0","detailType":"T","source":"s"}, "r": "my-rule"}'
    """
    chosen = [
        name
        for name, given in (
            ("Input", input is not None),
            ("InputPath", input_path is not None),
            ("InputTransformer", input_paths_map is not None or input_template is not None),
        )
        if given
    ]
    if len(chosen) > 1:
        raise ValueError("Only one of Input, InputPath, or InputTransformer must be provided.")
    if not chosen and isinstance(event, EventJSON):
        return event.text
    doc = _load_event(event)
    if input is not None:
        try:
            json.loads(input)
        except json.JSONDecodeError as e:
            raise ValueError(f"JSON syntax error in input: {e.msg} (line {e.lineno} column {e.colno})") from None
        return input
    if input_path is not None:
        value = evaluate_path(doc, input_path)
        if value is MISSING:
            raise TransformError(f"InputPath {input_path} selects nothing in the event")
        return compact_json(value)
    if input_template is None:
        if input_paths_map is not None:
            raise ValueError("InputTemplate is required with InputPathsMap.")
        return compact_json(doc)
    return _render(doc, input_template, input_paths_map or {}, rule_name, rule_arn, ingestion_time)


def _render(
    doc: Mapping[str, Any],
    template: str,
    paths: Mapping[str, str],
    rule_name: str,
    rule_arn: str,
    ingestion_time: str | datetime | None,
) -> str:
    names = placeholders(template)
    for name in names:
        if name not in paths and name not in RESERVED_VARIABLES:
            raise ValueError(f"InputTemplate contains invalid placeholder <{name}>.")
    # Values: a Python value, MISSING, or raw JSON text for the reserved JSON variables.
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for name in names:
        if name == "aws.events.rule-arn":
            values[name] = rule_arn
        elif name == "aws.events.rule-name":
            values[name] = rule_name
        elif name == "aws.events.event.ingestion-time":
            values[name] = format_ingestion_time(ingestion_time)
        elif name == "aws.events.event":
            raw[name] = compact_json(_envelope_without_detail(doc))
        elif name == "aws.events.event.json":
            raw[name] = compact_json(doc)
        else:
            values[name] = evaluate_path(doc, paths[name])

    if not _is_json_template(template):

        def string_value(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in raw:
                return raw[name]
            value = values[name]
            return "" if value is MISSING else _unquoted(value)

        result = _PLACEHOLDER_RE.sub(string_value, template)
        if _is_json_string(_PLACEHOLDER_RE.sub("x", template)) and not _is_json_string(result):
            raise TransformError(
                "InputTemplate is a JSON string but the result is not one (a value contains a quote, "
                "a backslash or a control character, or a JSON variable was placed in it): "
                "EventBridge delivers nothing"
            )
        return result

    out: list[str] = []
    pos = 0
    for start, end, name, in_string in _placeholder_spans(template):
        out.append(template[pos:start])
        pos = end
        if name in raw:
            out.append(raw[name])
            continue
        value = values[name]
        if in_string:
            if isinstance(value, (dict, list)):
                kind = "an object" if isinstance(value, dict) else "an array"
                raise TransformError(
                    f"InputTemplate placeholder <{name}> is inside a JSON string but its value is {kind}: "
                    "the result is not valid JSON"
                )
            out.append("" if value is MISSING else _unquoted(value))
        elif value is MISSING:
            out.append('""')
        elif isinstance(value, str):
            out.append('"' + value + '"')
        else:
            out.append(compact_json(value))
    out.append(template[pos:])
    result = "".join(out)
    try:
        json.loads(result)
    except json.JSONDecodeError as e:
        raise TransformError(
            f"InputTemplate result is not valid JSON ({e.msg} at offset {e.pos}); EventBridge delivers nothing "
            "(values are not escaped: a quote, a backslash or a control character in a string value breaks it)"
        ) from None
    return result


# --- targets ------------------------------------------------------------------------------------


def payload_for(
    target: model.Target,
    rule: model.Rule,
    event: str | bytes | Mapping[str, Any],
    ingestion_time: str | datetime | None = None,
) -> str:
    """What ``target`` of ``rule`` receives for ``event`` (EventBridge envelope).

    Raises:
        TransformError: EventBridge would deliver nothing for this event to this target.

    Example:
        >>> from trailmatch.model import InputTransformer, Rule, Target
        >>> rule = Rule(name="r", region="us-east-1", account="111122223333", event_pattern="{}")
        >>> tr = InputTransformer('"<aws.events.rule-arn> saw <n>"', {"n": "$.detail.eventName"})
        >>> t = Target(id="t1", arn="arn:aws:sns:us-east-1:111122223333:alerts", input_transformer=tr)
        >>> payload_for(t, rule, {"detail": {"eventName": "CreateUser"}})
        '"arn:aws:events:us-east-1:111122223333:rule/r saw CreateUser"'
    """
    tr = target.input_transformer
    return transform_input(
        event,
        input=target.input,
        input_path=target.input_path,
        input_paths_map=tr.input_paths_map if tr else None,
        input_template=tr.input_template if tr else None,
        rule_name=rule.name,
        rule_arn=rule.arn,
        ingestion_time=ingestion_time,
    )


def _constraint(value: Any, where: str, constraint: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"1 validation error detected: Value '{text}' at '{where}' failed to satisfy constraint: {constraint}"


def validate_target(target: model.Target, *, index: int = 1) -> list[str]:
    """Problems ``PutTargets`` would reject ``target`` for, with AWS's messages.

    ``index`` is the target's 1-based position in the rule (AWS names it in constraint messages).
    Messages quoted from AWS: "Only one of Input, InputPath, or InputTransformer must be provided
    for target <Id>.", "InputTemplate for target <Id> contains invalid placeholder <name>.",
    "JSON syntax error in input for target <Id>: ...", "Input for target <Id> is not a valid JSON
    text." and the ``1 validation error detected: ...`` constraint messages. The messages about
    ``InputPathsMap`` keys that are reserved, start with ``AWS.`` or are used as object keys are
    worded by trailmatch (AWS rejects them; its wording is not recorded).

    Example:
        >>> from trailmatch.model import InputTransformer, Target
        >>> validate_target(Target(id="t", arn="arn:aws:sqs:us-east-1:1:q", input="{}", input_path="$.detail"))
        ['Only one of Input, InputPath, or InputTransformer must be provided for target t.']
        >>> validate_target(Target(id="t", arn="a", input_transformer=InputTransformer('"<x>"', {"y": "$.y"})))
        ['InputTemplate for target t contains invalid placeholder x.']
    """
    errors: list[str] = []
    tid = target.id
    member = f"targets.{index}.member"
    if not 1 <= len(tid) <= 64:
        errors.append(_constraint(tid, f"{member}.id", "Member must have length between 1 and 64"))
    elif not _TARGET_ID_RE.fullmatch(tid):
        errors.append(
            _constraint(tid, f"{member}.id", r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+")
        )
    given = sum(x is not None for x in (target.input, target.input_path, target.input_transformer))
    if given > 1:
        errors.append(f"Only one of Input, InputPath, or InputTransformer must be provided for target {tid}.")

    policy = target.retry_policy
    if not 0 <= policy.maximum_retry_attempts <= 185:
        errors.append(
            _constraint(
                policy.maximum_retry_attempts,
                f"{member}.retryPolicy.maximumRetryAttempts",
                "Member must have value between 0 and 185",
            )
        )
    if not 60 <= policy.maximum_event_age_seconds <= 86_400:
        errors.append(
            _constraint(
                policy.maximum_event_age_seconds,
                f"{member}.retryPolicy.maximumEventAgeInSeconds",
                "Member must have value between 60 and 86400",
            )
        )

    if target.input is not None:
        if len(target.input) > MAX_INPUT_LENGTH:
            errors.append(
                _constraint(
                    target.input, f"{member}.input", f"Member must have length less than or equal to {MAX_INPUT_LENGTH}"
                )
            )
        try:
            json.loads(target.input)
        except json.JSONDecodeError as e:
            errors.append(f"JSON syntax error in input for target {tid}: {e.msg} (line {e.lineno}, column {e.colno})")
    if target.input_path is not None and len(target.input_path) > MAX_INPUT_PATH_LENGTH:
        errors.append(
            _constraint(
                target.input_path,
                f"{member}.inputPath",
                f"Member must have length less than or equal to {MAX_INPUT_PATH_LENGTH}",
            )
        )
    tr = target.input_transformer
    if tr is not None:
        errors.extend(_validate_transformer(tr, tid, member, target.arn))
    return errors


def _validate_transformer(tr: model.InputTransformer, tid: str, member: str, arn: str) -> list[str]:
    errors: list[str] = []
    where = f"{member}.inputTransformer"
    template = tr.input_template
    if not 1 <= len(template) <= MAX_INPUT_TEMPLATE_LENGTH:
        errors.append(
            _constraint(
                template, f"{where}.inputTemplate", f"Member must have length between 1 and {MAX_INPUT_TEMPLATE_LENGTH}"
            )
        )
    paths = tr.input_paths_map
    if len(paths) > MAX_INPUT_PATHS:
        errors.append(
            _constraint(
                f"{{{len(paths)} entries}}",
                f"{where}.inputPathsMap",
                f"Member must have length less than or equal to {MAX_INPUT_PATHS}",
            )
        )
    for key, path in paths.items():
        if key in RESERVED_VARIABLES:
            errors.append(f"InputPathsMap key {key} of target {tid} is a reserved variable name.")
        elif key.startswith("AWS."):
            errors.append(f"InputPathsMap key {key} of target {tid} must not start with 'AWS.'.")
        elif not 1 <= len(key) <= 256:
            errors.append(_constraint(key, f"{where}.inputPathsMap.key", "Member must have length between 1 and 256"))
        elif not _KEY_RE.fullmatch(key):
            errors.append(
                _constraint(
                    key,
                    f"{where}.inputPathsMap.key",
                    r"Member must satisfy regular expression pattern: [A-Za-z0-9\_\-]+",
                )
            )
        if len(path) > MAX_INPUT_PATH_LENGTH:
            errors.append(
                _constraint(
                    path,
                    f"{where}.inputPathsMap.value",
                    f"Member must have length less than or equal to {MAX_INPUT_PATH_LENGTH}",
                )
            )
    for name in placeholders(template):
        if name not in paths and name not in RESERVED_VARIABLES:
            errors.append(f"InputTemplate for target {tid} contains invalid placeholder {name}.")
    if _is_json_template(template):
        structure = _template_structure(template)
        if structure is None:
            errors.append(f"Input for target {tid} is not a valid JSON text.")
        else:
            for name in structure:
                errors.append(f"InputTemplate for target {tid} uses placeholder <{name}> as an object key.")
    if ":logs:" in arn and arn.startswith("arn:") and not template.lstrip().startswith("{"):
        # CloudWatch Logs targets need {"timestamp": ..., "message": ...}; AWS-observed message.
        errors.append(f"Input for target {tid} is not a valid JSON text.")
    return errors


def _template_structure(template: str) -> list[str] | None:
    """Parses a JSON template with each placeholder replaced by a sentinel: ``None`` when it is
    not valid JSON, else the placeholders used as object keys."""
    names: dict[str, str] = {}
    out: list[str] = []
    pos = 0
    for k, (start, end, name, in_string) in enumerate(_placeholder_spans(template)):
        token = f"__trailmatch_placeholder_{k}__"
        names[token] = name
        out.append(template[pos:start])
        out.append(token if in_string else f'"{token}"')
        pos = end
    out.append(template[pos:])
    try:
        parsed = json.loads("".join(out))
    except json.JSONDecodeError:
        return None
    keys: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                for token in re.findall(r"__trailmatch_placeholder_[0-9]+__", key):
                    name = names.get(token)
                    if name is not None and name not in keys:
                        keys.append(name)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(parsed)
    return keys


def lint_target(target: model.Target) -> list[str]:
    """Warnings AWS would not give at ``PutTargets`` but that make deliveries fail or surprise:
    JSONPaths EventBridge cannot evaluate, JSON variables placed where they break the output.

    Example:
        >>> from trailmatch.model import Target
        >>> lint_target(Target(id="t", arn="a", input_path="$..eventName"))
        ["target t: InputPath $..eventName: JSONPath '$..eventName': deep scan '..' is not supported by EventBridge"]
    """
    warnings: list[str] = []
    if target.input_path is not None:
        try:
            _parse_path(target.input_path)
        except TransformError as e:
            warnings.append(f"target {target.id}: InputPath {target.input_path}: {e}")
    tr = target.input_transformer
    if tr is not None:
        for key, path in tr.input_paths_map.items():
            try:
                _parse_path(path)
            except TransformError as e:
                warnings.append(f"target {target.id}: InputPathsMap {key}: {e}")
        if _is_json_template(tr.input_template):
            for _, _, name, in_string in _placeholder_spans(tr.input_template):
                if in_string and name in _JSON_VARIABLES:
                    warnings.append(
                        f"target {target.id}: <{name}> inside a JSON string makes the result invalid JSON: "
                        "nothing would be delivered"
                    )
        else:
            for name in placeholders(tr.input_template):
                if name in _JSON_VARIABLES:
                    warnings.append(
                        f"target {target.id}: <{name}> can only be used as a JSON field value, not in a string template"
                    )
    return warnings
