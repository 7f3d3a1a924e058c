"""Test and benchmark data: the conformance corpus, the real CloudTrail samples, rule generators."""

from __future__ import annotations

import ipaddress
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trailmatch

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "event-patterns"
CLOUDTRAIL = DATA / "cloudtrail"


@dataclass(frozen=True)
class Case:
    """One conformance case (see tests/data/event-patterns/README.md)."""

    file: str
    line: int
    name: str
    pattern: str
    pattern_value: Any
    event: str | None
    event_value: Any
    match: bool | None
    error: str | None
    error_path: str | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.name}"


def _text(value: Any) -> str:
    """A JSON string is raw text; any other value is serialised."""
    return value if isinstance(value, str) else json.dumps(value)


def load_corpus() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            cases.append(
                Case(
                    file=path.name,
                    line=i,
                    name=raw["name"],
                    pattern=_text(raw["pattern"]),
                    pattern_value=raw["pattern"],
                    event=_text(raw["event"]) if "event" in raw else None,
                    event_value=raw.get("event"),
                    match=raw.get("match"),
                    error=raw.get("error"),
                    error_path=raw.get("error_path"),
                )
            )
    return cases


def cloudtrail_records() -> list[tuple[str, dict[str, Any]]]:
    """Every real CloudTrail record bundled in tests/data, with where it came from."""
    records: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(CLOUDTRAIL.rglob("*.json")):
        if path.name.endswith("provenance.json"):
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        items = doc["Records"] if isinstance(doc, dict) else doc
        records.extend((f"{path.name}#{i}", r) for i, r in enumerate(items))
    for line in (
        (CLOUDTRAIL / "panther-analysis_tests" / "panther_cloudtrail_test_records.jsonl").read_text().splitlines()
    ):
        item = json.loads(line)
        records.append((f"panther:{item['rule_id']}:{item['test_name']}", item["record"]))
    return records


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted path, leaf value) pairs, arrays crushed as EventBridge sees them."""
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(leaves(v, f"{path}.{k}" if path else k))
    elif isinstance(value, list):
        for v in value:
            out.extend(leaves(v, path))
    else:
        out.append((path, value))
    return out


_DETAIL_TYPES = {
    "AwsApiCall": "AWS API Call via CloudTrail",
    "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
    "AwsConsoleAction": "AWS Console Action via CloudTrail",
    "AwsServiceEvent": "AWS Service Event via CloudTrail",
    "AwsCloudTrailInsight": "AWS Insight via CloudTrail",
}


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    """A plain EventBridge envelope around a record, enough for matching tests."""
    source = str(record.get("eventSource", "cloudtrail.amazonaws.com")).removesuffix(".amazonaws.com")
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, str(record.get("eventID", id(record))))),
        "detail-type": _DETAIL_TYPES.get(str(record.get("eventType", "AwsApiCall")), "AWS API Call via CloudTrail"),
        "source": f"aws.{source}",
        "account": record.get("recipientAccountId", "123456789012"),
        "time": record.get("eventTime", "1970-01-01T00:00:00Z"),
        "region": record.get("awsRegion", "us-east-1"),
        "resources": [],
        "detail": record,
    }


# --- rules -----------------------------------------------------------------------------

DETECTIONS: dict[str, dict[str, Any]] = {
    "iam-policy-changes": {
        "source": ["aws.iam"],
        "detail": {
            "eventName": [
                {"prefix": "Attach"},
                {"prefix": "Detach"},
                "CreatePolicyVersion",
                "PutUserPolicy",
                "PutRolePolicy",
            ]
        },
    },
    "console-login-without-mfa": {
        "detail-type": ["AWS Console Sign In via CloudTrail"],
        "detail": {"additionalEventData": {"MFAUsed": [{"anything-but": "Yes"}]}},
    },
    "cloudtrail-tampering": {
        "source": ["aws.cloudtrail"],
        "detail": {"eventName": ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"]},
    },
    "root-activity": {
        "detail": {"userIdentity": {"type": ["Root"]}, "eventType": [{"anything-but": "AwsServiceEvent"}]}
    },
    "access-denied": {"detail": {"errorCode": [{"wildcard": "*UnauthorizedOperation"}, {"prefix": "AccessDenied"}]}},
    "secrets-read": {"detail": {"eventName": ["GetSecretValue", "BatchGetSecretValue"]}},
    "kms-key-deletion": {"source": ["aws.kms"], "detail": {"eventName": ["ScheduleKeyDeletion", "DisableKey"]}},
    "security-group-changes": {"detail": {"eventName": [{"wildcard": "*SecurityGroup*"}], "readOnly": [False]}},
    "s3-bucket-policy": {
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": [{"suffix": "BucketPolicy"}, {"suffix": "BucketAcl"}],
        }
    },
    "external-ip": {
        "detail": {
            "sourceIPAddress": [{"anything-but": {"prefix": ["10.", "192.168.", "172.16."]}}],
            "userIdentity": {"type": ["IAMUser", "AssumedRole"]},
        }
    },
    "private-ip": {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/8"}, {"cidr": "192.168.0.0/16"}]}},
    "aws-internal": {"detail": {"sourceIPAddress": [{"suffix": ".amazonaws.com"}, "AWS Internal"]}},
    "no-error": {"detail": {"errorCode": [{"exists": False}], "eventName": [{"prefix": "Create"}]}},
    "sts-or-iam-writes": {
        "$or": [
            {"source": ["aws.iam"], "detail": {"readOnly": [False]}},
            {"source": ["aws.sts"], "detail": {"eventName": [{"equals-ignore-case": "assumerole"}]}},
        ]
    },
    "old-records": {"detail": {"eventVersion": [{"anything-but": ["1.08", "1.09", "1.10", "1.11"]}]}},
    "throttled-reads": {
        "detail": {"errorCode": ["ThrottlingException", "Client.RequestLimitExceeded"], "readOnly": [True]}
    },
    "session-mfa": {"detail": {"userIdentity": {"sessionContext": {"attributes": {"mfaAuthenticated": ["true"]}}}}},
    "tls12": {"detail.tlsDetails.tlsVersion": ["TLSv1.2"]},
}


def condition(rng: random.Random, value: Any) -> Any:
    """One operator that may or may not hold for `value`, chosen by its type."""
    if isinstance(value, bool) or value is None:
        return rng.choice([value, not value if isinstance(value, bool) else "null", {"exists": True}])
    if isinstance(value, (int, float)):
        return rng.choice(
            [
                value,
                {"numeric": [">", value - 1]},
                {"numeric": [">=", value, "<", value + 10]},
                {"anything-but": value},
                {"numeric": ["<", value]},
            ]
        )
    text = str(value)
    if not text:
        return rng.choice(["", {"prefix": ""}, {"exists": False}])
    k = rng.randint(1, max(1, len(text) - 1))
    mid = rng.randint(0, len(text) - 1)
    star_free = text.replace("*", "").replace("\\", "")
    options: list[Any] = [
        text,
        {"prefix": text[:k]},
        {"suffix": text[k:] or text},
        {"equals-ignore-case": text.swapcase()},
        {"prefix": {"equals-ignore-case": text[:k].upper()}},
        {"suffix": {"equals-ignore-case": text[k:].lower() or text}},
        {"anything-but": text},
        {"anything-but": {"prefix": text[:k]}},
        {"anything-but": {"suffix": text[k:] or text}},
        {"anything-but": {"equals-ignore-case": [text.upper(), "other"]}},
        {"exists": rng.random() < 0.8},
        {"wildcard": star_free[:mid] + "*" + star_free[mid + 1 :]},
        {"wildcard": "*" + star_free[k:]},
        {"anything-but": {"wildcard": star_free[:k] + "*"}},
        {"exactly": text},
    ]
    try:
        ip = ipaddress.ip_address(text)
        net = ipaddress.ip_network(f"{text}/{rng.choice([8, 16, 24]) if ip.version == 4 else 48}", strict=False)
        options += [{"cidr": str(net)}, {"cidr": "10.0.0.0/8"}]
    except ValueError:
        pass
    return rng.choice(options)


def derived_rules(records: list[tuple[str, dict[str, Any]]], count: int, seed: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    rules: dict[str, dict[str, Any]] = {}
    while len(rules) < count:
        _, record = rng.choice(records)
        candidates = [(p, v) for p, v in leaves(record) if len(str(v)) < 120]
        if not candidates:
            continue
        pattern: dict[str, Any] = {}
        for path, value in rng.sample(candidates, k=min(len(candidates), rng.randint(1, 3))):
            key = "detail." + path
            if key in pattern:
                continue
            values = [condition(rng, value)]
            if rng.random() < 0.3:
                values.append(condition(rng, value))
            pattern[key] = values
        if rng.random() < 0.15:
            other = candidates[rng.randrange(len(candidates))]
            pattern = {
                "$or": [pattern, {"detail." + other[0]: [condition(rng, other[1])]}],
                "source": [f"aws.{str(record.get('eventSource', 'x')).removesuffix('.amazonaws.com')}"],
            }
        try:
            trailmatch.Ruleset().add("probe", pattern)
        except trailmatch.PatternError:
            continue  # e.g. a generated wildcard that is too complex; EventBridge would refuse it too
        rules[f"derived-{len(rules):04d}"] = pattern
    return rules
