"""Loading YAML and JSON rules files with the line of every element.

Rules files are read into plain Python data whose containers remember where they came from:
:class:`LineDict` (a ``dict``) and :class:`LineList` (a ``list``) carry the 1-based line of the
container and of each key or item, so that every error can name ``file:line``. Numbers keep the
text they were written with (:class:`IntText`, :class:`FloatText`): EventBridge compares number
literals that are not exactly representable by their text, so an event pattern written as a
YAML or JSON object must be serialised back with the same digits (:func:`dump_json`).

This module owns the syntax of rules files only; what the data means is the business of the
front ends (``cloudformation``, ``awscli``, ``native``).

Example:
    >>> docs = load_json_documents('{"Rules": [\\n  {"Name": "r", "Limit": 1.50}\\n]}', "rules.json")
    >>> doc = docs[0]
    >>> doc["Rules"][0].line, doc["Rules"][0].line_of("Limit")
    (2, 2)
    >>> dump_json(doc["Rules"][0])
    '{"Name": "r", "Limit": 1.50}'
    >>> docs, info = load_yaml_documents("Resources:\\n  Topic:\\n    Type: !Ref Other\\n", "t.yaml")
    >>> template = docs[0]
    >>> template["Resources"]["Topic"]["Type"], template["Resources"].line_of("Topic")
    ({'Ref': 'Other'}, 2)
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from trailmatch.rules.errors import RulesError

__all__ = [
    "SHORT_FORM_TAGS",
    "BlockText",
    "FloatText",
    "IntText",
    "LineDict",
    "LineList",
    "YamlInfo",
    "dump_json",
    "load_json_documents",
    "load_yaml_documents",
    "walk",
]

#: Deepest nesting accepted in a rules file (EventBridge patterns stop at 100 levels anyway).
MAX_DEPTH = 256
#: Most nodes a YAML file may expand to through aliases (guards against "billion laughs").
MAX_EXPANDED_NODES = 1_000_000


class LineDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key (1-based, or ``None``)."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int | None:
        """The line of ``key`` (of the mapping itself if the key is absent or has no position)."""
        return self.key_lines.get(key, self.line)

    def copy_position(self) -> LineDict:
        """An empty mapping with the same positions (for rebuilt values)."""
        out = LineDict(self.line)
        out.key_lines = dict(self.key_lines)
        return out


class LineList(list[Any]):
    """A sequence that remembers its own line and the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int | None] = []

    def line_of(self, index: int) -> int | None:
        """The line of item ``index`` (of the sequence itself if unknown)."""
        if 0 <= index < len(self.item_lines) and self.item_lines[index] is not None:
            return self.item_lines[index]
        return self.line

    def add(self, value: Any, line: int | None) -> None:
        """Appends ``value`` defined at ``line``."""
        self.append(value)
        self.item_lines.append(line)


class BlockText(str):
    """A YAML literal block scalar (``|``); ``first_line`` is the file line of its first text line."""

    first_line: int

    def __new__(cls, value: str, first_line: int) -> BlockText:
        obj = super().__new__(cls, value)
        obj.first_line = first_line
        return obj

    def __getnewargs__(self) -> tuple[str, int]:  # type: ignore[override]
        return (str(self), self.first_line)


class IntText(int):
    """An integer that remembers how it was written (``text``)."""

    text: str

    def __new__(cls, value: int, text: str) -> IntText:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]
        return (int(self), self.text)


class FloatText(float):
    """A float that remembers how it was written (``text``): ``1.50`` stays ``1.50``."""

    text: str

    def __new__(cls, value: float, text: str) -> FloatText:
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]
        return (float(self), self.text)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _number_text(value: int | float) -> str:
    text = getattr(value, "text", None)
    if isinstance(text, str) and _JSON_NUMBER.fullmatch(text):
        return text
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{value!r} is not a JSON number")
        return repr(float(value))
    return str(int(value))


def dump_json(value: Any, *, ensure_ascii: bool = True) -> str:
    """JSON text of ``value`` with keys in their order and numbers as they were written.

    The same text as ``json.dumps(value, ensure_ascii=ensure_ascii)``, except that
    :class:`IntText` and :class:`FloatText` keep their text when it is a JSON number (YAML's
    ``0x1f`` or ``1_000`` are written in decimal).

    Example:
        >>> dump_json({"a": [FloatText(1.5, "1.50"), True, None], "b": "é"})
        '{"a": [1.50, true, null], "b": "\\\\u00e9"}'
        >>> dump_json({"b": "é"}, ensure_ascii=False)
        '{"b": "é"}'

    Raises:
        ValueError: a value has no JSON form (a NaN or infinite float without its text, a set).
    """
    parts: list[str] = []
    # Iterative, so that depth is bounded by the loaders' MAX_DEPTH and not by Python's stack.
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            parts.append(item.text)
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            entries = list(item.items())
            for i in range(len(entries) - 1, -1, -1):
                key, val = entries[i]
                stack.append(val)
                prefix = "" if i == 0 else ", "
                stack.append(_Raw(prefix + json.dumps(str(key), ensure_ascii=ensure_ascii) + ": "))
            parts.append("{")
        elif isinstance(item, (list, tuple)):
            stack.append(_Raw("]"))
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_Raw(", "))
            parts.append("[")
        elif isinstance(item, str):
            parts.append(json.dumps(item, ensure_ascii=ensure_ascii))
        elif item is True:
            parts.append("true")
        elif item is False:
            parts.append("false")
        elif item is None:
            parts.append("null")
        elif isinstance(item, (int, float)):
            parts.append(_number_text(item))
        else:
            raise ValueError(f"a {type(item).__name__} has no JSON form")
    return "".join(parts)


class _Raw:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def walk(value: Any) -> Iterator[tuple[Any, int | None]]:
    """Every value inside ``value`` (itself included), depth first, with its line when known.

    Example:
        >>> doc = load_json_documents('{"a": [1,\\n {"b": 2}]}', "f.json")[0]
        >>> [(v, line) for v, line in walk(doc) if not isinstance(v, (dict, list))]
        [(1, 1), (2, 2)]
    """
    stack: list[tuple[Any, int | None]] = [(value, getattr(value, "line", None))]
    while stack:
        item, line = stack.pop()
        yield item, line
        if isinstance(item, LineDict):
            stack.extend((v, item.line_of(k)) for k, v in reversed(list(item.items())))
        elif isinstance(item, dict):
            stack.extend((v, line) for v in reversed(list(item.values())))
        elif isinstance(item, LineList):
            stack.extend((v, item.line_of(i)) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, list):
            stack.extend((v, line) for v in reversed(item))


# --------------------------------------------------------------------------------------------
# JSON


class _Lines:
    """Offset → 1-based line."""

    def __init__(self, text: str) -> None:
        self._starts = [m.end() for m in re.finditer(r"\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset) + 1

    def column(self, offset: int) -> int:
        i = bisect.bisect_right(self._starts, offset)
        return offset - (self._starts[i - 1] if i else 0) + 1


_WS = re.compile(r"[ \t\n\r]*")


def load_json_documents(text: str, file: str) -> list[Any]:
    """Every JSON document of ``text`` (one, or several written one after the other, as the
    AWS CLI's output appended with ``>>`` gives), with positions.

    Duplicate keys are rejected: EventBridge and CloudFormation would keep one silently.

    Raises:
        RulesError: the text is not JSON; the message names the line and column.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _Lines(text)
    docs: list[Any] = []
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        value, pos = _parse_json_value(text, pos, lines, file)
        docs.append(value)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    return docs


def _json_error(message: str, text: str, pos: int, lines: _Lines, file: str, hint: str | None = None) -> RulesError:
    return RulesError(
        f"invalid JSON: {message} (column {lines.column(pos)})",
        file=file,
        line=lines.line(pos),
        hint=hint,
    )


_LITERALS = {"true": True, "false": False, "null": None}


def _parse_json_value(text: str, pos: int, lines: _Lines, file: str) -> tuple[Any, int]:
    """One JSON value starting at ``pos`` (after whitespace); iterative, so depth costs no stack."""
    stack: list[tuple[LineDict | LineList, str]] = []
    n = len(text)

    def skip(p: int) -> int:
        return _WS.match(text, p).end()  # type: ignore[union-attr]

    def read_key(p: int, container: LineDict) -> tuple[str, int]:
        p = skip(p)
        if p >= n or text[p] != '"':
            hint = "JSON keys are double-quoted strings" if p < n and text[p] in "'abcdefghijklmnopqrstuvwxyz" else None
            raise _json_error("expecting a double-quoted key", text, p, lines, file, hint)
        key_pos = p
        try:
            key, p = scanstring(text, p + 1, True)
        except json.JSONDecodeError as e:
            raise _json_error(e.msg, text, e.pos, lines, file) from None
        if key in container:
            raise RulesError(
                f"duplicate key {key!r} (first at line {container.line_of(key)})",
                file=file,
                line=lines.line(key_pos),
                hint="each key may appear once in a JSON object; the second would silently replace the first",
            )
        container.key_lines[key] = lines.line(key_pos)
        p = skip(p)
        if p >= n or text[p] != ":":
            raise _json_error("expecting ':' after a key", text, p, lines, file)
        return key, p + 1

    while True:
        pos = skip(pos)
        if pos >= n:
            raise _json_error("unexpected end of the text: expecting a value", text, pos, lines, file)
        ch = text[pos]
        start = pos
        value: Any
        if ch == "{" or ch == "[":
            if len(stack) >= MAX_DEPTH:
                raise _json_error(f"nested more than {MAX_DEPTH} levels deep", text, pos, lines, file)
            container: LineDict | LineList = LineDict(lines.line(pos)) if ch == "{" else LineList(lines.line(pos))
            pos = skip(pos + 1)
            close = "}" if ch == "{" else "]"
            if pos < n and text[pos] == close:
                pos += 1
                value = container
            else:
                if isinstance(container, LineDict):
                    key, pos = read_key(pos, container)
                    stack.append((container, key))
                else:
                    stack.append((container, ""))
                continue
        elif ch == '"':
            try:
                value, pos = scanstring(text, pos + 1, True)
            except json.JSONDecodeError as e:
                raise _json_error(e.msg, text, e.pos, lines, file) from None
        else:
            m = _JSON_NUMBER.match(text, pos)
            if m and m.end() > pos:
                t = m.group()
                value = IntText(int(t), t) if re.fullmatch(r"-?[0-9]+", t) else FloatText(float(t), t)
                pos = m.end()
            else:
                for word, literal in _LITERALS.items():
                    if text.startswith(word, pos):
                        value = literal
                        pos += len(word)
                        break
                else:
                    hint = None
                    if ch == "'":
                        hint = "JSON strings are double-quoted"
                    elif ch in "]}":
                        hint = "JSON allows no comma before a closing bracket"
                    raise _json_error(f"expecting a value, found {ch!r}", text, pos, lines, file, hint)
        value_line: int | None = value.line if isinstance(value, (LineDict, LineList)) else lines.line(start)
        # Attach the finished value to its parents, closing every container that ends here.
        while True:
            if not stack:
                return value, pos
            parent, key = stack[-1]
            if isinstance(parent, LineDict):
                parent[key] = value
            else:
                parent.add(value, value_line)
            pos = skip(pos)
            if pos >= n:
                raise _json_error("unexpected end of the text: a bracket is not closed", text, pos, lines, file)
            ch = text[pos]
            if ch == ",":
                if isinstance(parent, LineDict):
                    key, pos = read_key(pos + 1, parent)
                    stack[-1] = (parent, key)
                else:
                    pos += 1
                break
            if (ch == "}" and isinstance(parent, LineDict)) or (ch == "]" and isinstance(parent, LineList)):
                pos += 1
                stack.pop()
                value = parent
                value_line = parent.line
                continue
            raise _json_error(f"expecting ',' or a closing bracket, found {ch!r}", text, pos, lines, file)


# --------------------------------------------------------------------------------------------
# YAML

#: CloudFormation's YAML short forms and the long form each stands for.
SHORT_FORM_TAGS: dict[str, str] = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!Sub": "Fn::Sub",
    "!GetAtt": "Fn::GetAtt",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Not": "Fn::Not",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Cidr": "Fn::Cidr",
    "!Transform": "Fn::Transform",
    "!Length": "Fn::Length",
    "!ToJsonString": "Fn::ToJsonString",
}


class YamlInfo:
    """What a YAML file used that not every format allows: aliases and short-form tags."""

    def __init__(self) -> None:
        self.alias_lines: list[int] = []
        self.tag_lines: list[tuple[str, int]] = []


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, building LineDict/LineList, keeping number text, reading dates as
    strings (``AWSTemplateFormatVersion: 2010-09-09``) and CloudFormation's short forms."""

    info: YamlInfo

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            self.info.alias_lines.append(self.peek_event().start_mark.line + 1)  # type: ignore[no-untyped-call]
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _construct_mapping(loader: _Loader, node: MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict(_line(node))
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise RulesError("a mapping key must be a plain scalar, not a list or mapping", line=_line(key_node))
        # The key's text as written: `on:` or `1:` are keys "on" and "1", not true and 1.
        key = str(key_node.value)
        if key in out:
            raise RulesError(
                f"duplicate key {key!r} (first at line {out.line_of(key)})",
                line=_line(key_node),
                hint="each key may appear once in a mapping; the second would silently replace the first",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = _line(key_node)
    return out


def _construct_sequence(loader: _Loader, node: SequenceNode) -> LineList:
    out = LineList(_line(node))
    for item in node.value:
        out.add(loader.construct_object(item, deep=True), _line(item))
    return out


def _scalar_text(loader: _Loader, node: ScalarNode) -> str:
    value = str(loader.construct_scalar(node))
    if node.style == "|":
        # The text starts on the line after the indicator (`key: |` or `key: !Sub |`).
        return BlockText(value, int(node.start_mark.line) + 2)
    return value


def _construct_str(loader: _Loader, node: ScalarNode) -> str:
    return _scalar_text(loader, node)


def _construct_int(loader: _Loader, node: ScalarNode) -> IntText:
    return IntText(loader.construct_yaml_int(node), str(node.value))


def _construct_float(loader: _Loader, node: ScalarNode) -> FloatText:
    return FloatText(loader.construct_yaml_float(node), str(node.value))


def _construct_short_form(loader: _Loader, tag_suffix: str, node: Node) -> LineDict:
    tag = "!" + tag_suffix
    long_form = SHORT_FORM_TAGS.get(tag)
    if long_form is None:
        known = ", ".join(SHORT_FORM_TAGS)
        raise RulesError(f"unknown YAML tag {tag}", line=_line(node), hint=f"CloudFormation's short forms are {known}")
    loader.info.tag_lines.append((tag, _line(node)))
    arg: Any
    if isinstance(node, ScalarNode):
        arg = _scalar_text(loader, node)
        if tag == "!GetAtt":
            resource, _, attribute = str(arg).partition(".")
            parts = LineList(_line(node))
            parts.add(resource, _line(node))
            parts.add(attribute, _line(node))
            arg = parts
    elif isinstance(node, SequenceNode):
        arg = _construct_sequence(loader, node)
    else:
        assert isinstance(node, MappingNode)
        arg = _construct_mapping(loader, node)
    out = LineDict(_line(node))
    out[long_form] = arg
    out.key_lines[long_form] = _line(node)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_multi_constructor("!", _construct_short_form)


def _expanded_size(node: Node) -> int:
    """How many nodes the document has once every alias is expanded (linear in its size)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        current, done = stack.pop()
        if id(current) in sizes:
            continue
        children: list[Node] = []
        if isinstance(current, SequenceNode):
            children = list(current.value)
        elif isinstance(current, MappingNode):
            children = [n for pair in current.value for n in pair]
        if done:
            sizes[id(current)] = min(MAX_EXPANDED_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
        else:
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(node)]


_YAML_HINTS = (
    ("found character '\\t'", "YAML does not allow tabs for indentation: indent with spaces"),
    (
        "mapping values are not allowed here",
        "a plain value may not contain ': ' - quote it, or write a block scalar (`key: |` then the text on indented "
        "lines), e.g. `EventPattern: !Sub |` followed by the JSON",
    ),
    ("found undefined alias", "an alias (*name) must follow its anchor (&name)"),
    ("expected <block end>, but found", "check the indentation of this line against the lines above it"),
)


def load_yaml_documents(text: str, file: str) -> tuple[list[Any], YamlInfo]:
    """Every YAML document of ``text``, with positions, and what the text used (aliases, tags).

    Raises:
        RulesError: the text is not YAML (line, and a hint for common mistakes).
    """
    info = YamlInfo()
    loader = _Loader(text)
    loader.info = info
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if info.alias_lines and _expanded_size(node) > MAX_EXPANDED_NODES:
                raise RulesError(
                    f"aliases expand this document to more than {MAX_EXPANDED_NODES} values",
                    line=info.alias_lines[0],
                )
            if _depth_exceeds(node, MAX_DEPTH):
                raise RulesError(f"nested more than {MAX_DEPTH} levels deep", line=_line(node))
            docs.append(loader.construct_document(node))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = " ".join(str(p) for p in (e.context, e.problem) if p)
        hint = next((h for needle, h in _YAML_HINTS if needle in message), None)
        raise RulesError(
            f"invalid YAML: {message}", file=file, line=mark.line + 1 if mark else None, hint=hint
        ) from None
    except yaml.YAMLError as e:
        raise RulesError(f"invalid YAML: {e}", file=file) from None
    except RecursionError:
        raise RulesError("invalid YAML: nested too deeply", file=file) from None
    except RulesError as e:
        raise e.at(file) from None
    finally:
        loader.dispose()
    return docs, info


def _depth_exceeds(node: Node, limit: int) -> bool:
    stack: list[tuple[Node, int]] = [(node, 1)]
    seen: set[int] = set()
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SequenceNode):
            stack.extend((c, depth + 1) for c in current.value)
        elif isinstance(current, MappingNode):
            stack.extend((v, depth + 1) for _, v in current.value)
    return False
