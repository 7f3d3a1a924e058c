"""A slow, obviously-correct reference evaluator of EventBridge event patterns.

It exists only to be compared with trailmatch in the differential tests
(``test_differential.py``). It shares no code with the engine and prefers being easy to
check against ``shared/reference/eventbridge-patterns.md`` (cited as "§n") over speed:
matching is a brute-force search over the flattened event.

It evaluates *valid* patterns only and does not reproduce EventBridge's validation
errors; anything it cannot interpret raises ``ValueError``.
"""

from __future__ import annotations

import decimal
import ipaddress
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import eq, ge, gt, le, lt
from typing import TypeAlias

__all__ = [
    "Leaf",
    "Num",
    "evaluate",
    "expand",
    "flatten",
    "is_comparable",
    "parse_json",
]


@dataclass(frozen=True)
class Num:
    """A JSON number, kept as its literal text (`3e2`, `1e400`, `9007199254740993`)."""

    text: str


JSON: TypeAlias = "bool | str | Num | list[JSON] | dict[str, JSON] | None"
Scalar: TypeAlias = "bool | str | Num | None"
# The (array id, element index) pairs on the way from the root down to a leaf.
Trail: TypeAlias = "tuple[tuple[int, int], ...]"
# One AND-branch of a pattern: dotted path -> the leaf array of matchers for that path.
Branch: TypeAlias = "dict[str, list[JSON]]"


@dataclass(frozen=True)
class Leaf:
    """One leaf value of a flattened event (§2) and the array elements it is in (§8)."""

    path: str
    value: Scalar
    trail: Trail


# --- JSON, with number literals preserved ---------------------------------------------


def _reject_constant(name: str) -> JSON:
    raise ValueError(f"not JSON: {name}")


def _object_without_duplicates(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # §1 "Same path twice": AWS behaviour unsettled, so generated JSON avoids it.
        raise ValueError("duplicate key in a JSON object")
    return result


def parse_json(text: str | bytes) -> JSON:
    """Decode JSON with every number kept as `Num` (its literal text)."""
    parsed: JSON = json.loads(
        text,
        parse_int=Num,
        parse_float=Num,
        parse_constant=_reject_constant,
        object_pairs_hook=_object_without_duplicates,
    )
    return parsed


# --- §5 numbers ----------------------------------------------------------------------


def is_comparable(text: str) -> bool:
    """§5: finite, and the shortest round-trip decimal of its f64 equals the literal."""
    value = float(text)  # repr() is the shortest round-trip decimal
    if not math.isfinite(value):
        return False
    return decimal.Decimal(repr(value)) == decimal.Decimal(text)


def numbers_equal(a: Num, b: Num) -> bool:
    """§3.1/§5: equal f64 values if both are comparable, else identical literal text."""
    if a.text == b.text:
        return True
    if not (is_comparable(a.text) and is_comparable(b.text)):
        return False
    return float(a.text) == float(b.text)


# --- §6 IP addresses -----------------------------------------------------------------

_MAX_OCTET = 255
_IPV4_SHAPE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_SHAPE = re.compile(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*")

IPAddress: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"


def parse_ip(text: str) -> IPAddress | None:
    """§6: the address an IP-looking string denotes, else None (a plain string)."""
    if _IPV4_SHAPE.fullmatch(text):
        octets = [int(part) for part in text.split(".")]  # leading zeros are decimal
        if max(octets) > _MAX_OCTET:
            return None
        return ipaddress.IPv4Address(bytes(octets))
    if _IPV6_SHAPE.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        return address.ipv4_mapped or address  # Java quirk: ::ffff:a.b counts as IPv4
    return None


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """§6: `address/bits`; the mask is applied to the address."""
    address_text, _, bits = text.partition("/")
    address = parse_ip(address_text)
    if address is None or not bits.isdigit():
        raise ValueError(f"cannot interpret CIDR {text!r}")
    return ipaddress.ip_network((address, int(bits)), strict=False)


# --- §3.4 equals-ignore-case: per pattern character, asymmetric ----------------------


_LAST_BMP_CODE_POINT = 0xFFFF


def _accepted_texts(pattern_char: str) -> set[str]:
    if ord(pattern_char) > _LAST_BMP_CODE_POINT:
        return {pattern_char}  # outside the BMP: matched literally (§3.4 decision)
    return {pattern_char.lower(), pattern_char.upper()}


def _ignore_case_ends(pattern: str, text: str, start: int) -> set[int]:
    """Where in `text` an ignore-case match of `pattern` starting at `start` can end."""
    ends = {start}
    for pattern_char in pattern:
        accepted = _accepted_texts(pattern_char)
        ends = {end + len(a) for end in ends for a in accepted if text.startswith(a, end)}
    return ends


def equals_ignore_case(pattern: str, text: str) -> bool:
    return len(text) in _ignore_case_ends(pattern, text, 0)


def prefix_ignore_case(pattern: str, text: str) -> bool:
    return bool(_ignore_case_ends(pattern, text, 0))


def suffix_ignore_case(pattern: str, text: str) -> bool:
    starts = range(len(text) + 1)
    return any(len(text) in _ignore_case_ends(pattern, text, s) for s in starts)


# --- §7 wildcard ---------------------------------------------------------------------


def wildcard_matches(pattern: str, text: str) -> bool:
    """`*` is any run of characters, `\\*` a literal `*`, `\\\\` a literal `\\`."""
    regex = ""
    chars = iter(pattern)
    for char in chars:
        if char == "*":
            regex += ".*"
        elif char == "\\":
            escaped = next(chars, "")
            if escaped not in ("*", "\\"):
                raise ValueError(f"invalid wildcard escape in {pattern!r}")
            regex += re.escape(escaped)
        else:
            regex += re.escape(char)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


# --- §3 one matcher against one leaf value -------------------------------------------


def _strings(operand: JSON) -> list[str]:
    """An operand that is a string or a list of strings."""
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(isinstance(v, str) for v in values):
        raise ValueError(f"expected string(s), got {operand!r}")
    return [v for v in values if isinstance(v, str)]


def _excluded_string(kind: str, excluded: str, value: str) -> bool:
    if kind == "prefix":
        return value.startswith(excluded)
    if kind == "suffix":
        return value.endswith(excluded)
    if kind == "equals-ignore-case":
        return equals_ignore_case(excluded, value)
    if kind == "wildcard":
        return wildcard_matches(excluded, value)
    raise ValueError(f"unknown anything-but operator {kind!r}")


def _anything_but_qualifies(operand: JSON, value: Scalar) -> bool:
    """§3.6: the leaf is not excluded. String sets never exclude non-strings; number
    sets exclude numerically equal numbers only; no IP normalisation."""
    if isinstance(operand, dict) and len(operand) == 1:
        ((kind, excluded),) = operand.items()
        strings = _strings(excluded)
        if not isinstance(value, str):
            return True
        return not any(_excluded_string(kind, s, value) for s in strings)
    values = operand if isinstance(operand, list) else [operand]
    if values and all(isinstance(v, str) for v in values):
        return not (isinstance(value, str) and value in values)
    numbers = [v for v in values if isinstance(v, Num)]
    if values and len(numbers) == len(values):
        return not (isinstance(value, Num) and any(numbers_equal(n, value) for n in numbers))
    raise ValueError(f"cannot interpret anything-but operand {operand!r}")


_COMPARE: dict[JSON, Callable[[float, float], bool]] = {
    "=": eq,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}


def _numeric_matches(operand: JSON, value: Scalar) -> bool:
    """§3.7, §5: every (op, n) holds; only comparable event numbers take part."""
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise ValueError(f"cannot interpret numeric operand {operand!r}")
    if not isinstance(value, Num) or not is_comparable(value.text):
        return False
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        if op not in _COMPARE or not isinstance(bound, Num) or not is_comparable(bound.text):
            raise ValueError(f"cannot interpret numeric operand {operand!r}")
        if not _COMPARE[op](float(value.text), float(bound.text)):
            return False
    return True


def in_cidr(value: str, cidr: str) -> bool:
    """§6: the string parses as an address (same family) inside the block."""
    address = parse_ip(value)
    network = parse_cidr(cidr)
    return address is not None and address.version == network.version and (address in network)


def _string_test(operator: str, operand: JSON) -> Callable[[str], bool]:
    """The operators that match event strings only, as a test on the string."""
    if operator in ("prefix", "suffix") and isinstance(operand, dict):
        # §3.3: {"prefix"|"suffix": {"equals-ignore-case": s}}
        ((inner, text),) = operand.items()
        if inner == "equals-ignore-case" and isinstance(text, str):
            if operator == "prefix":
                return lambda v: prefix_ignore_case(text, v)
            return lambda v: suffix_ignore_case(text, v)
    elif isinstance(operand, str):
        s = operand
        tests: dict[str, Callable[[str], bool]] = {
            "exactly": lambda v: v == s,  # §3.1: exact, no IP interpretation
            "prefix": lambda v: v.startswith(s),  # §3.3
            "suffix": lambda v: v.endswith(s),  # §3.3
            "equals-ignore-case": lambda v: equals_ignore_case(s, v),  # §3.4
            "wildcard": lambda v: wildcard_matches(s, v),  # §3.5, §7
            "cidr": lambda v: in_cidr(v, s),  # §6
        }
        if operator in tests:
            return tests[operator]
    raise ValueError(f"cannot interpret {{{operator!r}: {operand!r}}}")


def _operator_matches(operator: str, operand: JSON, value: Scalar) -> bool:
    if operator == "exists":  # §3.8; exists:false is handled in _branch_matches
        return operand is True
    if operator == "anything-but":  # §3.6
        return _anything_but_qualifies(operand, value)
    if operator == "numeric":  # §3.7
        return _numeric_matches(operand, value)
    test = _string_test(operator, operand)
    return isinstance(value, str) and test(value)


def matcher_matches(matcher: JSON, value: Scalar) -> bool:
    """One element of a pattern leaf array against one event leaf value."""
    if isinstance(matcher, str):
        # §3.2 exact string; §6: if it looks like an IP address, the address must equal.
        address = parse_ip(matcher)
        if address is not None:
            return isinstance(value, str) and parse_ip(value) == address
        return isinstance(value, str) and value == matcher
    if isinstance(matcher, Num):  # §3.1, §5
        return isinstance(value, Num) and numbers_equal(matcher, value)
    if matcher is None or isinstance(matcher, bool):  # §2: only the same JSON literal
        return value is matcher
    if isinstance(matcher, dict) and len(matcher) == 1:
        ((operator, operand),) = matcher.items()
        return _operator_matches(operator, operand, value)
    raise ValueError(f"cannot interpret matcher {matcher!r}")


# --- §2, §8 the flattened event -----------------------------------------------------


def _path(keys: tuple[str, ...]) -> str:
    """§1 dotted keys: a path is its keys joined with "." (so `"a.b"` is `a` -> `b`)."""
    return ".".join(keys)


def flatten(event: JSON) -> list[Leaf]:
    """Every leaf with its dotted path and array trail; objects and `[]` give none."""
    leaves: list[Leaf] = []
    array_ids = itertools.count()

    def visit(node: JSON, keys: tuple[str, ...], trail: Trail) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                visit(child, (*keys, key), trail)
        elif isinstance(node, list):  # arrays add no path segment (§2)
            array_id = next(array_ids)
            for index, element in enumerate(node):
                visit(element, keys, (*trail, (array_id, index)))
        else:
            leaves.append(Leaf(_path(keys), node, trail))

    if not isinstance(event, dict):
        raise ValueError("event is not a JSON object")
    visit(event, (), ())
    return leaves


def compatible(a: Trail, b: Trail) -> bool:
    """§8: two leaves combine iff they agree on the element of every shared array."""
    elements = dict(a)
    return all(elements.get(array_id, index) == index for array_id, index in b)


# --- §1, §4 the pattern as a list of AND-branches ------------------------------------


def _is_or(value: JSON) -> bool:
    """§4: `$or` is a disjunction only if its value is a list of two or more objects."""
    if not isinstance(value, list):
        return False
    return len(value) > 1 and all(isinstance(v, dict) for v in value)


def _merge(parts: list[Branch]) -> Branch:
    merged: Branch = {}
    for part in parts:
        for path, matchers in part.items():
            if path in merged:
                raise ValueError(f"path {path!r} twice in one branch")  # §1
            merged[path] = matchers
    return merged


def expand(pattern: JSON, keys: tuple[str, ...] = ()) -> list[Branch]:
    """§4: the AND-branches of a pattern (cartesian expansion of every `$or`)."""
    if not isinstance(pattern, dict) or not pattern:
        raise ValueError(f"cannot interpret pattern object {pattern!r}")
    alternatives: list[list[Branch]] = []  # per key, its alternatives; AND across keys
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list) and _is_or(value):
            alternatives.append([b for sub in value for b in expand(sub, keys)])
        elif isinstance(value, dict):
            alternatives.append(expand(value, (*keys, key)))
        elif isinstance(value, list) and value:
            alternatives.append([{_path((*keys, key)): value}])
        else:
            raise ValueError(f"cannot interpret pattern value {value!r}")
    return [_merge(list(choice)) for choice in itertools.product(*alternatives)]


# --- matching ------------------------------------------------------------------------


def _is_exists_false(matcher: JSON) -> bool:
    return isinstance(matcher, dict) and matcher.get("exists") is False


def _java_order(path: str) -> bytes:
    """Java sorts field names by UTF-16 code units; big-endian UTF-16 bytes sort the same way."""
    return path.encode("utf-16-be", "surrogatepass")


def _absent_holds(path: str, leaves: list[Leaf], chosen: dict[str, Leaf]) -> bool:
    """exists:false as event-ruler evaluates it (ACFinder/StructuredFinder, docs/SEMANTICS.md).

    Fields are visited in sorted order; the path counts as present iff one of its leaves is
    compatible with the leaves already chosen for positive fields that sort before it. With no
    such field, any leaf anywhere makes it present (§3.8).
    """
    earlier = [leaf for field, leaf in chosen.items() if _java_order(field) < _java_order(path)]
    return not any(
        leaf.path == path and all(compatible(leaf.trail, other.trail) for other in earlier) for leaf in leaves
    )


def _branch_matches(branch: Branch, leaves: list[Leaf]) -> bool:
    # A field mixing exists:false with other values holds one way or the other: try both.
    modes: list[list[tuple[str, str, list[JSON]]]] = []
    for path, matchers in branch.items():
        others = [m for m in matchers if not _is_exists_false(m)]
        options = []
        if others:
            options.append((path, "positive", others))
        if len(others) < len(matchers):
            options.append((path, "absent", []))
        modes.append(options)
    for assignment in itertools.product(*modes):
        positive = [(path, ms) for path, mode, ms in assignment if mode == "positive"]
        absent = [path for path, mode, _ in assignment if mode == "absent"]
        candidates = [
            [leaf for leaf in leaves if leaf.path == path and any(matcher_matches(m, leaf.value) for m in ms)]
            for path, ms in positive
        ]
        # §8: one leaf per positive field, pairwise compatible (brute force) ...
        for choice in itertools.product(*candidates):
            if not all(compatible(a.trail, b.trail) for a, b in itertools.combinations(choice, 2)):
                continue
            # ... and every absent field absent relative to that choice.
            chosen = {path: leaf for (path, _), leaf in zip(positive, choice, strict=True)}
            if all(_absent_holds(path, leaves, chosen) for path in absent):
                return True
    return False


def evaluate(pattern_text: str | bytes, event_text: str | bytes) -> bool:
    """Does the event match the (valid) pattern? Both are JSON text."""
    branches = expand(parse_json(pattern_text))
    leaves = flatten(parse_json(event_text))
    return any(_branch_matches(branch, leaves) for branch in branches)
