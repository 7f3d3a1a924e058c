"""A small, obviously-correct evaluator of CloudWatch Logs JSON filter patterns, for tests only.

It follows the reference tables directly (``reference/logs-filter-patterns.md`` §4, the decisions
in ``docs/FILTERS.md``) over ``json.loads`` — no streaming, no indexes, no sharing — so that the
engine can be compared against it on real CloudTrail records and generated patterns
(``tests/test_filters.py``). Only valid patterns are expected; it raises ``ValueError`` otherwise
without trying to say why.

    >>> matches('{ $.a = "x" && $.b NOT EXISTS }', '{"a": "x"}')
    True
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["matches"]

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BARE_STOP = set(' \t\r\n(){}"&|=!<>')
_MISSING = object()


class RawNumber(str):
    """A JSON number kept as its literal text."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@functools.lru_cache(maxsize=8)
def _load(message: str) -> Any:
    return json.loads(message, parse_int=RawNumber, parse_float=RawNumber, parse_constant=_no_constants)


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


@dataclass
class Value:
    kind: str  # "str", "num", "glob", "regex"
    text: str
    number: float | None = None


@dataclass
class Condition:
    selector: list[str | int]
    op: str  # = != < <= > >= IS_NULL IS_TRUE IS_FALSE NOT_EXISTS
    value: Value | None


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def take(self, token: str) -> bool:
        self.ws()
        if self.s.startswith(token, self.i):
            self.i += len(token)
            return True
        return False

    def expr(self) -> Any:
        node = self.conj()
        while self.take("||"):
            node = ("or", node, self.conj())
        return node

    def conj(self) -> Any:
        node = self.primary()
        while self.take("&&"):
            node = ("and", node, self.primary())
        return node

    def primary(self) -> Any:
        if self.take("("):
            node = self.expr()
            if not self.take(")"):
                raise ValueError("expected )")
            return node
        return ("cond", self.condition())

    def condition(self) -> Condition:
        self.ws()
        if not self.s.startswith("$.", self.i):
            raise ValueError("expected a selector")
        self.i += 1
        steps: list[str | int] = []
        while self.i < len(self.s) and self.s[self.i] in ".[":
            if self.s[self.i] == ".":
                m = _NAME.match(self.s, self.i + 1)
                if not m:
                    raise ValueError("bad key")
                steps.append(m.group())
                self.i = m.end()
            else:
                end = self.s.index("]", self.i)
                steps.append(int(self.s[self.i + 1 : end]))
                self.i = end + 1
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if self.take(op):
                return Condition(steps, op, self.value(op))
        for words, op in ((("IS", "NULL"), "IS_NULL"), (("IS", "TRUE"), "IS_TRUE"), (("IS", "FALSE"), "IS_FALSE")):
            save = self.i
            if self.take(words[0] + " ") and self.take(words[1]):
                return Condition(steps, op, None)
            self.i = save
        if self.take("NOT ") and self.take("EXISTS"):
            return Condition(steps, "NOT_EXISTS", None)
        raise ValueError("expected an operator")

    def value(self, op: str) -> Value:
        self.ws()
        c = self.s[self.i]
        if c == "%":
            end = self.s.index("%", self.i + 1)
            body = self.s[self.i + 1 : end]
            self.i = end + 1
            return Value("regex", body)
        if c == '"':
            out = []
            j = self.i + 1
            while self.s[j] != '"':
                if self.s[j] == "\\":
                    j += 1
                out.append(self.s[j])
                j += 1
            self.i = j + 1
            text = "".join(out)
            return Value("glob" if text.startswith("*") or text.endswith("*") else "str", text)
        j = self.i
        while j < len(self.s) and self.s[j] not in _BARE_STOP:
            j += 1
        text = self.s[self.i : j]
        self.i = j
        if not text:
            raise ValueError("expected a value")
        number = _number(text)
        if number is not None:
            return Value("num", text, number)
        if op not in ("=", "!="):
            raise ValueError("< > need numbers")
        return Value("glob" if text.startswith("*") or text.endswith("*") else "str", text)


@functools.lru_cache(maxsize=4096)
def parse(pattern: str) -> Any:
    """The expression tree of a JSON pattern ``{ ... }``."""
    text = pattern.strip(" \t\r\n")
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError("not a JSON pattern")
    p = _Parser(text[1:-1])
    tree = p.expr()
    p.ws()
    if p.i != len(p.s):
        raise ValueError("trailing text")
    return tree


def _resolve(doc: Any, steps: list[str | int]) -> Any:
    node = doc
    for step in steps:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
    return node


def _glob(pattern: str, text: str) -> bool:
    if pattern.startswith("*") and pattern.endswith("*") and len(pattern) >= 2:
        return pattern[1:-1] in text
    if pattern.startswith("*"):
        return text.endswith(pattern[1:])
    return text.startswith(pattern[:-1])


def _regex(body: str, text: str) -> bool:
    # ASCII classes; the generated and corpus expressions avoid `.` and `$` edge cases.
    return re.search(body, text, re.ASCII) is not None


def _holds(cond: Condition, node: Any) -> bool:
    if cond.op == "NOT_EXISTS":
        return node is _MISSING
    if cond.op == "IS_NULL":
        return node is None
    if cond.op == "IS_TRUE":
        return node is True
    if cond.op == "IS_FALSE":
        return node is False
    value = cond.value
    assert value is not None
    if isinstance(node, bool):
        # Booleans: only `= *` holds (reference §4.3).
        return value.kind == "glob" and cond.op == "=" and value.text.strip("*") == ""
    if not isinstance(node, str):  # missing, null, object, array
        return False
    is_number = isinstance(node, RawNumber)
    text = str(node)
    if value.kind == "num":
        x = _number(text)
        if x is None:
            return cond.op == "!=" and not is_number
        assert value.number is not None
        y = value.number
        return {"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[cond.op]
    if value.kind == "str":
        return (text == value.text) == (cond.op == "=")
    if value.kind == "glob":
        return _glob(value.text, text) == (cond.op == "=")
    return _regex(value.text, text) == (cond.op == "=")


def _evaluate(tree: Any, doc: Any) -> bool:
    tag = tree[0]
    if tag == "and":
        return _evaluate(tree[1], doc) and _evaluate(tree[2], doc)
    if tag == "or":
        return _evaluate(tree[1], doc) or _evaluate(tree[2], doc)
    cond: Condition = tree[1]
    return _holds(cond, _resolve(doc, cond.selector))


def matches(pattern: str, message: str) -> bool:
    """Whether the JSON ``pattern`` matches ``message`` (False when it is not a JSON object)."""
    tree = parse(pattern)
    try:
        doc = _load(message)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    return _evaluate(tree, doc)
