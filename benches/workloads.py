"""Benchmark rule sets: many rules that each watch something specific.

Real rule sets are selective: each rule names an API call, a principal, a bucket, an address
range or a user agent, so most rules match no given event. `selective_rules` builds such sets
from the values that occur in the CloudTrail samples and from synthetic values of the same
shapes, using every operator kind. About 300 rules of any set use real values (so matches
happen), whatever its size; the rest, as in real life, watch for things that did not happen,
so growing the set adds rules, not matches. Seeded and reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Pattern = dict[str, Any]


def _values(records: list[tuple[str, dict[str, Any]]], *path: str) -> list[Any]:
    out = []
    for _, r in records:
        node: Any = r
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (str, int, float)) and not isinstance(node, bool):
            out.append(node)
    return sorted(set(out), key=str)


def _mixed_case(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def selective_rules(records: list[tuple[str, dict[str, Any]]], count: int, seed: int) -> dict[str, Pattern]:
    """`count` selective rules over EventBridge events wrapping the sample records."""
    rng = random.Random(seed)
    real_share = min(0.3, 300 / max(count, 1))
    calls = sorted({(str(r.get("eventSource", "")), str(r.get("eventName", ""))) for _, r in records} - {("", "")})
    arns = _values(records, "userIdentity", "arn")
    buckets = _values(records, "requestParameters", "bucketName")
    agents = _values(records, "userAgent")
    ips = [ip for ip in _values(records, "sourceIPAddress") if isinstance(ip, str) and ip.count(".") == 3]

    def source_of(event_source: str) -> str:
        return "aws." + event_source.removesuffix(".amazonaws.com")

    def real(items: list[Any], fake: Callable[[int], Any]) -> Any:
        """Sometimes a value seen in the samples, mostly a synthetic one."""
        i = rng.randrange(1_000_000)
        return rng.choice(items) if items and rng.random() < real_share else fake(i)

    def call() -> tuple[str, str]:
        return real(calls, lambda i: (f"svc{i % 300}.amazonaws.com", f"Op{i}"))

    def api_call() -> Pattern:
        es, name = call()
        return {"source": [source_of(es)], "detail": {"eventName": [name]}}

    def principal() -> Pattern:
        arn = real(arns, lambda i: f"arn:aws:iam::{100000000000 + i}:user/user-{i}")
        return {"detail": {"userIdentity": {"arn": [arn]}}}

    def principal_wildcard() -> Pattern:
        arn = real(arns, lambda i: f"arn:aws:sts::{100000000000 + i}:assumed-role/role-{i}/session")
        head, _, tail = str(arn).rpartition("/")
        return {"detail": {"userIdentity": {"arn": [{"wildcard": f"{head}/*" if tail else f"*{arn[-12:]}"}]}}}

    def bucket() -> Pattern:
        name = real(buckets, lambda i: f"bucket-{i:06d}-logs")
        op = rng.choice(["exact", "prefix", "suffix"])
        value: Any = name if op == "exact" else {op: name[:12] if op == "prefix" else name[-10:]}
        return {"source": ["aws.s3"], "detail": {"requestParameters": {"bucketName": [value]}}}

    def address() -> Pattern:
        if ips and rng.random() < real_share:
            a, b, c, _ = rng.choice(ips).split(".")
        else:
            a, b, c = "10", str(rng.randrange(256)), str(rng.randrange(256))
        return {"detail": {"sourceIPAddress": [{"cidr": f"{a}.{b}.{c}.0/24"}]}}

    def event_name_ignore_case() -> Pattern:
        _, name = call()
        return {"detail": {"eventName": [{"equals-ignore-case": _mixed_case(rng, name)}]}}

    def event_name_affix() -> Pattern:
        es, name = call()
        op = rng.choice(["prefix", "suffix"])
        stem = name[:-2] if op == "prefix" else name[2:]
        return {"source": [source_of(es)], "detail": {"eventName": [{op: stem}]}}

    def user_agent() -> Pattern:
        agent = real(agents, lambda i: f"custom-tool/{i}.0 python/3.11")
        return {"detail": {"userAgent": [{"prefix": {"equals-ignore-case": str(agent)[:16]}}]}}

    def denied_call() -> Pattern:
        es, name = call()
        return {
            "source": [source_of(es)],
            "detail": {"eventName": [name], "errorCode": [{"anything-but": ["ThrottlingException"]}]},
        }

    def unauthenticated_call() -> Pattern:
        es, name = call()
        return {
            "detail": {"eventSource": [es], "eventName": [name], "userIdentity": {"invokedBy": [{"exists": False}]}}
        }

    def numeric() -> Pattern:
        es, _ = call()
        return {
            "source": [source_of(es)],
            "detail": {"requestParameters": {"maxResults": [{"numeric": [">", rng.randrange(10, 10_000)]}]}},
        }

    def alternatives() -> Pattern:
        return {"$or": [principal(), api_call()]}

    makers = [
        api_call,
        api_call,
        principal,
        principal_wildcard,
        bucket,
        address,
        event_name_ignore_case,
        event_name_affix,
        user_agent,
        denied_call,
        unauthenticated_call,
        numeric,
        alternatives,
    ]
    return {f"rule-{i:06d}": rng.choice(makers)() for i in range(count)}
