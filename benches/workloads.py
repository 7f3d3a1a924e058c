"""Benchmark rule sets: many rules that each watch something specific.

Real rule sets are selective: each rule names an API call, a principal, a bucket, an address
range or a user agent, so most rules match no given event. `selective_rules` builds such sets
from the values that occur in the CloudTrail samples and from synthetic values of the same
shapes, using every operator kind. About 300 rules of any set use real values (so matches
happen), whatever its size; the rest, as in real life, watch for things that did not happen,
so growing the set adds rules, not matches. Seeded and reproducible.
"""

from __future__ import annotations

import json
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


# --- synthetic CloudTrail traffic ------------------------------------------------------

_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Query", "Scan", "BatchGet", "Check")
_COMMON_SERVICES = (
    "ec2", "iam", "s3", "sts", "kms", "ssm", "secretsmanager", "rds", "lambda", "cloudtrail",
    "logs", "dynamodb", "sns", "sqs", "ecs", "eks", "cloudformation", "organizations", "guardduty", "config",
)  # fmt: skip


def service_calls(services: int = 80, seed: int = 0) -> list[tuple[str, str]]:
    """Real ``(eventSource, eventName)`` pairs from botocore's service models (boto3's data).

    The CloudTrail favourites come first, then a seeded sample of the other services, ``services``
    in all. Empty when botocore is not installed (the generators fall back to the samples' calls).
    """
    try:
        import botocore.session
    except ImportError:
        return []
    session = botocore.session.get_session()
    available = session.get_available_services()
    rest = sorted(set(available) - set(_COMMON_SERVICES))
    chosen = [s for s in _COMMON_SERVICES if s in available]
    chosen += random.Random(seed).sample(rest, max(0, min(len(rest), services - len(chosen))))
    calls = []
    for name in chosen[:services]:
        model = session.get_service_model(name)
        prefix = model.metadata.get("signingName") or model.metadata.get("endpointPrefix") or name
        calls.extend((f"{prefix}.amazonaws.com", op) for op in model.operation_names)
    return calls


def _padding(rng: random.Random, size: int) -> list[dict[str, Any]]:
    """About ``size`` bytes of JSON shaped like a large ``responseElements`` item list."""
    items: list[dict[str, Any]] = []
    total = 0
    while total < size:
        item = {
            "instanceId": f"i-{rng.getrandbits(64):016x}",
            "imageId": f"ami-{rng.getrandbits(32):08x}",
            "state": {"code": 16, "name": "running"},
            "privateIpAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "tagSet": {"items": [{"key": "team", "value": f"team-{rng.randrange(100)}"}]},
        }
        items.append(item)
        total += len(json.dumps(item)) + 2
    return items


def cloudtrail_traffic(
    records: list[tuple[str, dict[str, Any]]],
    count: int,
    seed: int,
    *,
    calls: list[tuple[str, str]] | None = None,
    breadth: float = 0.3,
    large_share: float = 0.005,
    max_size: int = 256 * 1024,
) -> list[dict[str, Any]]:
    """``count`` CloudTrail records drawn from the real samples, with breadth and a long tail.

    Each record is a real sample record (so userIdentity.type, readOnly, errorCode, awsRegion,
    eventSource/eventName and the sizes keep the samples' joint distribution) with a fresh
    eventID and eventTime. A share ``breadth`` of them calls instead a real operation of
    ``calls`` (botocore's service models, see `service_calls`), readOnly following the
    operation's verb. A share ``large_share`` gets a ``responseElements`` item list that makes
    it 8 KB to ``max_size`` bytes (log-uniform), the long tail of real trails (RunInstances,
    DescribeInstances, large policies).
    """
    rng = random.Random(seed)
    templates = [r for _, r in records]
    out = []
    for i in range(count):
        r = dict(rng.choice(templates))
        r["eventID"] = f"{rng.getrandbits(128):032x}"
        r["eventTime"] = (
            f"2026-11-{1 + i * 30 // max(count, 1):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        )
        if calls and rng.random() < breadth:
            source, name = rng.choice(calls)
            r["eventSource"] = source
            r["eventName"] = name
            r["readOnly"] = name.startswith(_READ_PREFIXES)
            r["eventCategory"] = "Management"
        if large_share and rng.random() < large_share:
            size = int(8192 * (max_size / 8192) ** rng.random())
            rest = len(json.dumps({**r, "responseElements": None}))
            r["responseElements"] = {"instancesSet": {"items": _padding(rng, size - rest - 1024)}}
        out.append(r)
    return out


# --- rule sets mixing every operator kind --------------------------------------------------


def mixed_rules(
    records: list[tuple[str, dict[str, Any]]],
    count: int,
    seed: int,
    *,
    calls: list[tuple[str, str]] | None = None,
) -> dict[str, Pattern]:
    """`selective_rules` (two thirds) interleaved with the operators it lacks.

    Added: exists true, boolean and null matching, anything-but with prefix / suffix /
    equals-ignore-case / wildcard, suffix ignoring case, numeric ranges and equality, wildcards
    with several stars, multi-field rules on ``detail-type``/``region``, and API calls of
    ``calls`` (botocore's operations) so that the synthetic traffic matches too.
    """
    rng = random.Random(seed + 1)
    base = list(selective_rules(records, count, seed).values())
    sample_calls = sorted(
        {(str(r.get("eventSource", "")), str(r.get("eventName", ""))) for _, r in records} - {("", "")}
    )
    pool = sample_calls + list(calls or [])
    regions = _values(records, "awsRegion") or ["us-east-1"]

    def source_of(event_source: str) -> str:
        return "aws." + event_source.removesuffix(".amazonaws.com")

    real_share = min(0.5, 1_000 / max(count, 1))

    def call() -> tuple[str, str]:
        if rng.random() < real_share:
            return rng.choice(pool)
        i = rng.randrange(1_000_000)
        return f"svc{i % 300}.amazonaws.com", f"Op{i}"

    def write_call() -> Pattern:
        es, name = call()
        return {"source": [source_of(es)], "detail": {"eventName": [name], "readOnly": [False]}}

    def failed_call() -> Pattern:
        es, name = call()
        return {"detail": {"eventSource": [es], "eventName": [name], "errorCode": [{"exists": True}]}}

    def no_error() -> Pattern:
        es, name = call()
        return {"detail": {"eventSource": [es], "eventName": [name], "errorCode": [None]}}

    def anything_but_affix() -> Pattern:
        es, name = call()
        op = rng.choice(["prefix", "suffix", "equals-ignore-case", "wildcard"])
        value = {
            "prefix": name[:3],
            "suffix": name[-4:],
            "equals-ignore-case": name.upper(),
            "wildcard": f"{name[:2]}*",
        }
        return {
            "source": [source_of(es)],
            "detail": {"eventName": [name], "userIdentity": {"type": [{"anything-but": {op: value[op]}}]}},
        }

    def suffix_ignore_case() -> Pattern:
        _, name = call()
        return {"detail": {"eventName": [{"suffix": {"equals-ignore-case": name[1:].swapcase()}}]}}

    def numeric_range() -> Pattern:
        low = rng.randrange(0, 5_000)
        field = rng.choice(["maxResults", "maxItems", "durationSeconds", "limit"])
        return {"detail": {"requestParameters": {field: [{"numeric": [">=", low, "<", low + rng.randrange(1, 500)]}]}}}

    def numeric_equal() -> Pattern:
        _, name = call()
        status = [{"numeric": ["=", rng.choice([200, 400, 403, 404])]}]
        return {"detail": {"eventName": [name], "responseElements": {"statusCode": status}}}

    def wildcard_multi() -> Pattern:
        _, name = call()
        middle = f"*{name[2:-3]}*" if len(name) > 5 else "*"
        return {"detail": {"eventName": [{"wildcard": f"{name[:2]}{middle}{name[-2:]}"}]}}

    def regional() -> Pattern:
        es, name = call()
        return {
            "detail-type": ["AWS API Call via CloudTrail"],
            "region": [rng.choice(regions)],
            "source": [source_of(es)],
            "detail": {"eventName": [name], "userIdentity": {"type": [rng.choice(["Root", "IAMUser", "AssumedRole"])]}},
        }

    extra = [
        write_call,
        write_call,
        failed_call,
        no_error,
        anything_but_affix,
        suffix_ignore_case,
        numeric_range,
        numeric_equal,
        wildcard_multi,
        regional,
    ]
    return {f"mixed-{i:06d}": base[i] if rng.random() < 2 / 3 else rng.choice(extra)() for i in range(count)}


def wildcard_rules(records: list[tuple[str, dict[str, Any]]], count: int, seed: int) -> dict[str, Pattern]:
    """``count`` wildcard rules: principals, buckets, user agents and API calls by shape."""
    rng = random.Random(seed)
    arns = [str(a) for a in _values(records, "userIdentity", "arn")]
    names = sorted({str(r.get("eventName", "")) for _, r in records} - {""})
    agents = [str(a) for a in _values(records, "userAgent")]

    def make() -> Pattern:
        i = rng.randrange(1_000_000)
        kind = rng.randrange(4)
        if kind == 0:
            arn = (
                rng.choice(arns)
                if arns and rng.random() < 0.05
                else f"arn:aws:sts::{100000000000 + i}:assumed-role/r-{i}/s"
            )
            head, _, _ = arn.rpartition(":")
            return {"detail": {"userIdentity": {"arn": [{"wildcard": f"{head}:*/{arn.rsplit('/', 1)[-1][:4]}*"}]}}}
        if kind == 1:
            return {"detail": {"requestParameters": {"bucketName": [{"wildcard": f"*-{i:06d}-*"}]}}}
        if kind == 2:
            agent = rng.choice(agents) if agents and rng.random() < 0.01 else f"tool-{i}/1.0"
            return {"detail": {"userAgent": [{"wildcard": f"{agent[:8]}*{agent[-3:]}"}]}}
        name = rng.choice(names) if rng.random() < 0.01 else f"Op{i}Thing"
        return {"detail": {"eventName": [{"wildcard": f"{name[:3]}*{name[-3:]}"}]}}

    return {f"wildcard-{i:06d}": make() for i in range(count)}
