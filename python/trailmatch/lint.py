"""``trailmatch rules lint``: rules that deploy fine but will not do what their author meant.

Each check below is a mistake that AWS accepts silently:

=======================  ===========================================================================
code                     finding
=======================  ===========================================================================
``read-only-unseen``     an ``ENABLED`` rule whose pattern matches only read-only management
                         events (``Get*``, ``List*``, ``Describe*``, ``readOnly: true``), which
                         ``ENABLED`` rules never receive (article 000's trap)
``global-region``        a rule outside us-east-1 waiting for events of a global service (IAM,
                         CloudFront, Route 53, Organizations, ...), which CloudTrail delivers
                         in us-east-1 only, and that no us-east-1 rule forwards to it
``never-matches``        a pattern no CloudTrail event can match: a CloudTrail field at the top
                         level instead of under ``detail``, ``source`` spelt as an
                         ``eventSource`` (or the reverse), ``source`` and ``detail.eventSource``
                         that disagree, a misspelt CloudTrail ``detail-type``, an ``eventName``
                         that is not PascalCase
``pattern-warning``      what the engine accepts but flags (see ``Ruleset.warnings``)
``no-targets``           a rule without targets
``no-destination``       a target bound to nothing: ``trailmatch scan`` would print it
``bad-destination``      a destination that cannot be used (unknown type, unset variable)
``bus-target-input``     an event-bus target with ``Input``/``InputPath``/``InputTransformer``:
                         the event is forwarded as it is
``unknown-bus``          a target bus on which no rule of the deployment listens
``load-warning``         a warning of the rules loader (unsupported resources, ...)
``alarm-no-metric``      an alarm on a metric that no metric filter of the deployment publishes in
                         its account and region (it would stay ``INSUFFICIENT_DATA``)
``alarm-dimensions``     an alarm whose dimensions are not those the metric filter publishes the
                         metric with (CloudWatch treats each combination as another metric)
``alarm-unit``           an alarm whose ``Unit`` is not the unit the metric filter publishes
``alarm-no-actions``     an alarm whose ``ALARM`` state notifies nobody
``regex-quota``          more than 5 metric filters with ``%regex%`` on one log group
                         (``PutMetricFilter`` refuses the sixth: ``LimitExceededException``)
=======================  ===========================================================================

Alarm actions are checked like targets (``no-destination``, ``bad-destination``).

Example:
    >>> from trailmatch.model import Deployment, Rule, Target
    >>> rule = Rule(name="secret-read", region="us-east-1", account="1",
    ...             event_pattern='{"detail": {"eventName": ["GetSecretValue"]}}',
    ...             targets=(Target(id="t", arn="arn:aws:sns:us-east-1:1:alerts"),))
    >>> for finding in lint(Deployment(rules=[rule])):
    ...     print(finding.code)
    read-only-unseen
    no-destination
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trailmatch import _core, model
from trailmatch.dispatch import Dispatcher, InvalidDestination, StdoutDestination
from trailmatch.errors import PatternError

__all__ = ["Finding", "lint"]

#: CloudTrail's ``detail-type`` values (what EventBridge events of CloudTrail records carry).
CLOUDTRAIL_DETAIL_TYPES = (
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
    "AWS Console Action via CloudTrail",
    "AWS Service Event via CloudTrail",
    "AWS Insight via CloudTrail",
)

#: Services whose CloudTrail events are delivered in us-east-1 only.
GLOBAL_SOURCES = {
    "aws.iam": "IAM",
    "aws.cloudfront": "CloudFront",
    "aws.route53": "Route 53",
    "aws.organizations": "AWS Organizations",
    "aws.globalaccelerator": "Global Accelerator",
}

#: Top-level fields of CloudTrail records; at the top level of a pattern they never match.
CLOUDTRAIL_FIELDS = frozenset(
    {
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "eventType",
        "readOnly",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
        "errorCode",
        "errorMessage",
        "tlsDetails",
        "sessionCredentialFromConsole",
        "resources",
        "apiVersion",
        "sharedEventID",
        "vpcEndpointId",
        "serviceEventDetails",
    }
)
_ENVELOPE = frozenset({"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"})
_READ_PREFIXES = ("Get", "List", "Describe")
#: Read-only calls that are data events (``managementEvent: false``): ``ENABLED`` rules see them.
_DATA_EVENTS = frozenset(
    {
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectRetention",
        "GetObjectTagging",
        "GetObjectTorrent",
        "HeadObject",
        "ListObjects",
        "ListObjectsV2",
        "ListObjectVersions",
        "ListParts",
        "ListMultipartUploads",
        "GetItem",
        "BatchGetItem",
        "GetRecords",
        "GetShardIterator",
        "ListStreams",
        "DescribeStream",
    }
)
_MAX_BRANCHES = 256


@dataclass(frozen=True)
class Finding:
    """One lint finding: ``code`` (see the module docs), where, what, and how to fix it."""

    code: str
    message: str
    rule: str | None = None
    location: model.Location | None = None
    hint: str | None = None
    #: What ``rule`` names: ``"rule"`` or ``"alarm"``.
    kind: str = "rule"

    def __str__(self) -> str:
        where = str(self.location) if self.location else "(rules)"
        text = f"{where}: {self.code}: " + (f"{self.kind} {self.rule}: " if self.rule else "") + self.message
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


Branch = dict[tuple[str, ...], list[Any]]


def _branches(pattern: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[Branch]:
    """The ``$or``-free conjunctions of a pattern: path → allowed values."""
    out: list[Branch] = [{}]
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            alternatives = [b for alt in value if isinstance(alt, dict) for b in _branches(alt, prefix)]
            out = [{**a, **b} for a in out for b in alternatives][:_MAX_BRANCHES]
        elif isinstance(value, dict):
            sub = _branches(value, (*prefix, key))
            out = [{**a, **b} for a in out for b in sub][:_MAX_BRANCHES]
        elif isinstance(value, list):
            for b in out:
                b[(*prefix, key)] = value
    return out


def _strings(values: list[Any]) -> list[str] | None:
    """The exact strings a condition allows, or ``None`` if it allows anything else."""
    return [v for v in values if isinstance(v, str)] if all(isinstance(v, str) for v in values) else None


#: Services with read-only *data* events (``managementEvent: false``).
_DATA_SOURCES = frozenset({"aws.s3", "aws.dynamodb", "aws.kinesis", "aws.lambda", "aws.s3-object-lambda"})


def _literal_prefix(value: Any) -> tuple[str, bool] | None:
    """``(text, exact)`` for a string, a ``prefix`` or a ``wildcard`` condition."""
    if isinstance(value, str):
        return value, True
    if isinstance(value, dict) and len(value) == 1:
        ((op, arg),) = value.items()
        if op == "prefix" and isinstance(arg, str):
            return arg, False
        if op == "wildcard" and isinstance(arg, str) and "*" in arg:
            return arg[: arg.index("*")], False
    return None


def _read_only_value(value: Any, data_events_possible: bool) -> bool:
    """Whether every ``eventName`` the condition allows is a read-only management call."""
    found = _literal_prefix(value)
    if found is None:
        return False
    text, exact = found
    if not text.startswith(_READ_PREFIXES):
        return False
    if not data_events_possible:
        return True
    if exact:
        return text not in _DATA_EVENTS
    return not any(name.startswith(text) for name in _DATA_EVENTS)


def _only_read_only(branch: Branch) -> bool:
    flag = branch.get(("detail", "readOnly"))
    if flag == [True]:
        return True
    if flag is not None:
        return False
    names = branch.get(("detail", "eventName"))
    sources = _sources(branch)
    data_events_possible = sources is None or any(s in _DATA_SOURCES for s in sources)
    return names is not None and len(names) > 0 and all(_read_only_value(v, data_events_possible) for v in names)


def _sources(branch: Branch) -> list[str] | None:
    src = branch.get(("source",))
    return _strings(src) if src is not None else None


def _never_matches(branch: Branch) -> Iterator[tuple[str, str | None]]:
    for path in branch:
        if len(path) >= 1 and path[0] in CLOUDTRAIL_FIELDS and path[0] not in _ENVELOPE:
            dotted = ".".join(path)
            yield (
                f"{dotted} is a field of the CloudTrail record, which EventBridge puts under detail",
                f"write it under detail: {{'detail': {{'{path[0]}': ...}}}}",
            )
    sources = _sources(branch) or []
    for s in sources:
        if s.endswith(".amazonaws.com"):
            yield (
                f"source {s!r} is an eventSource; EventBridge's source is 'aws.{s.removesuffix('.amazonaws.com')}'",
                f'write "source": ["aws.{s.removesuffix(".amazonaws.com")}"]',
            )
    event_sources = _strings(branch.get(("detail", "eventSource"), [])) or []
    for es in event_sources:
        if es.startswith("aws.") or not es.endswith(".amazonaws.com"):
            yield (
                f"detail.eventSource {es!r} is not how CloudTrail names a service (e.g. 'iam.amazonaws.com')",
                f'write "eventSource": ["{es.removeprefix("aws.")}.amazonaws.com"]' if es.startswith("aws.") else None,
            )
    if sources and event_sources:
        derived = {"aws." + es.removesuffix(".amazonaws.com") for es in event_sources}
        if not derived & set(sources) and not any(s.endswith(".amazonaws.com") for s in sources):
            yield (
                f"source {sources} and detail.eventSource {event_sources} never occur together "
                "(CloudTrail's source is aws. + the eventSource's service)",
                None,
            )
    detail_types = _strings(branch.get(("detail-type",), [])) or []
    for dt in detail_types:
        if dt in CLOUDTRAIL_DETAIL_TYPES:
            continue
        close = [c for c in CLOUDTRAIL_DETAIL_TYPES if c.lower().replace(" ", "") == dt.lower().replace(" ", "")]
        if close:
            yield (f"detail-type {dt!r} is not spelt as CloudTrail spells it", f'write "{close[0]}"')
    names = _strings(branch.get(("detail", "eventName"), [])) or []
    for name in names:
        if name and name[0].islower():
            yield (
                f"detail.eventName {name!r} is not PascalCase, as CloudTrail's event names are (e.g. "
                f"'{name[0].upper() + name[1:]}'); exact matching is case-sensitive",
                'use the exact name, or {"equals-ignore-case": "..."}',
            )


def _pattern(rule: model.Rule) -> dict[str, Any] | None:
    """The pattern as data (text after the first JSON value is ignored, as EventBridge does)."""
    try:
        value, _ = json.JSONDecoder().raw_decode(rule.event_pattern.lstrip())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _forwarders(deployment: model.Deployment) -> dict[tuple[str, str], list[model.Rule]]:
    out: dict[tuple[str, str], list[model.Rule]] = {}
    for rule in deployment.rules:
        if rule.state == "DISABLED":
            continue
        for target in rule.targets:
            bus = model.bus_of(target.arn)
            if bus is not None:
                out.setdefault(bus, []).append(rule)
    return out


def _rule_checks(rule: model.Rule, forwarders: dict[tuple[str, str], list[model.Rule]]) -> Iterator[Finding]:
    pattern = _pattern(rule)
    if pattern is None:
        return
    engine = _core.Ruleset()
    try:
        engine.add(rule.name, rule.event_pattern)
    except PatternError as e:
        yield Finding("never-matches", f"the pattern is not valid: {e}", rule.name, rule.location)
        return
    for warning in engine.warnings(rule.name):
        yield Finding("pattern-warning", warning, rule.name, rule.location)
    branches = _branches(pattern)
    if rule.state == "ENABLED" and branches and all(_only_read_only(b) for b in branches):
        yield Finding(
            "read-only-unseen",
            "the rule is ENABLED but its pattern matches only read-only management events, which ENABLED "
            "rules never receive from CloudTrail",
            rule.name,
            rule.location,
            "set State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (CLI, API or CloudFormation only)",
        )
    if rule.region != "us-east-1":
        global_only: list[str] = []
        for b in branches:
            sources = _sources(b)
            if not sources or not all(s in GLOBAL_SOURCES for s in sources):
                break
            global_only.extend(GLOBAL_SOURCES[s] for s in sources)
        else:
            fed = [f for f in forwarders.get((rule.region, rule.bus), []) if f.region == "us-east-1"]
            if branches and not fed:
                services = ", ".join(sorted(set(global_only)))
                yield Finding(
                    "global-region",
                    f"the rule is in {rule.region} but waits for {services} events, which CloudTrail delivers "
                    "to EventBridge in us-east-1 only",
                    rule.name,
                    rule.location,
                    "deploy it in us-east-1, or forward us-east-1's events to this bus",
                )
    seen: set[str] = set()
    for b in branches:
        for message, hint in _never_matches(b):
            if message not in seen:
                seen.add(message)
                yield Finding("never-matches", message, rule.name, rule.location, hint)


def _filter_checks(deployment: model.Deployment) -> Iterator[Finding]:
    """Quotas CloudWatch Logs enforces per log group."""
    probe = _core.FilterSet()
    with_regex: dict[tuple[str, str, str], list[model.MetricFilter]] = {}
    for i, f in enumerate(deployment.metric_filters):
        try:
            probe.add(str(i), f.filter_pattern)
        except ValueError:
            continue  # the loaders report invalid patterns
        if probe.regex_count(str(i)):
            with_regex.setdefault((f.account, f.region, f.log_group), []).append(f)
    for (_, region, group), filters in with_regex.items():
        if len(filters) > 5:
            sixth = filters[5]
            names = ", ".join(f.name for f in filters)
            yield Finding(
                "regex-quota",
                f"{len(filters)} metric filters with %regex% on log group {group} in {region} ({names}); "
                "CloudWatch Logs allows 5 per log group and refuses the sixth",
                sixth.name,
                sixth.location,
                "merge patterns, or use terms or JSON conditions instead of regular expressions",
                kind="metric filter",
            )


def _alarm_checks(deployment: model.Deployment) -> Iterator[Finding]:
    """What makes an alarm wait for data that never comes, or alarm for nobody."""
    published: dict[tuple[str, str, str, str], list[model.MetricFilter]] = {}
    for f in deployment.metric_filters:
        t = f.transformation
        published.setdefault((f.account, f.region, t.metric_namespace, t.metric_name), []).append(f)
    for alarm in deployment.alarms:

        def finding(code: str, message: str, hint: str | None = None, alarm: model.Alarm = alarm) -> Finding:
            return Finding(code, message, alarm.name, alarm.location, hint, kind="alarm")

        filters = published.get((alarm.account, alarm.region, alarm.namespace, alarm.metric_name))
        if not filters:
            elsewhere = sorted(
                {
                    f"{ns}/{name} in {region}"
                    for (account, region, ns, name) in published
                    if account == alarm.account and name == alarm.metric_name
                }
            )
            yield finding(
                "alarm-no-metric",
                f"no metric filter publishes {alarm.namespace}/{alarm.metric_name} in {alarm.region}: the alarm "
                "would stay INSUFFICIENT_DATA (unless the metric comes from elsewhere)",
                f"metric filters publish {', '.join(elsewhere)}" if elsewhere else "add the metric filter's file",
            )
        else:
            names = {frozenset(f.transformation.dimensions) for f in filters}
            if frozenset(alarm.dimensions) not in names:
                shown = " or ".join(sorted(", ".join(sorted(n)) or "no dimensions" for n in names))
                yield finding(
                    "alarm-dimensions",
                    f"the alarm's dimensions ({', '.join(sorted(alarm.dimensions)) or 'none'}) are not those "
                    f"{alarm.namespace}/{alarm.metric_name} is published with ({shown}): it never gets data",
                    "give the alarm exactly the metric filter's dimension names, each with one value",
                )
            units = {f.transformation.unit or "None" for f in filters}
            if alarm.unit and alarm.unit not in units:
                yield finding(
                    "alarm-unit",
                    f"the alarm's Unit {alarm.unit} is not the unit the metric is published with "
                    f"({', '.join(sorted(units))}): it never gets data",
                    "remove Unit from the alarm, or make it the metric filter's unit",
                )
        if alarm.actions_enabled and not alarm.alarm_actions:
            yield finding(
                "alarm-no-actions",
                "the alarm has no AlarmActions: going into ALARM notifies nobody",
                "add the SNS topic to notify to AlarmActions",
            )


def lint(
    deployment: model.Deployment,
    *,
    environ: Mapping[str, str] = os.environ,
) -> list[Finding]:
    """Every finding for ``deployment`` (see the module docs), in rule order then alarm order,
    each once even when the rule is deployed in several regions (``global-region`` is per
    region)."""
    findings: list[Finding] = []
    seen: set[tuple[str, str | None, str]] = set()

    def add(f: Finding) -> None:
        key = (str(f.location), f.rule, f.message)
        if key not in seen:
            seen.add(key)
            findings.append(f)

    for warning in deployment.warnings:
        add(Finding("load-warning", warning))
    forwarders = _forwarders(deployment)
    listened = {(r.region, r.bus) for r in deployment.rules if r.state != "DISABLED"}
    dispatcher = Dispatcher(deployment, environ=environ)
    try:
        for rule in deployment.rules:
            for f in _rule_checks(rule, forwarders):
                add(f)
            if not rule.targets:
                add(Finding("no-targets", "the rule has no targets: matches deliver nothing", rule.name, rule.location))
            for target in rule.targets:
                bus = model.bus_of(target.arn)
                if bus is not None:
                    if target.input is not None or target.input_path is not None or target.input_transformer:
                        add(
                            Finding(
                                "bus-target-input",
                                f"target {target.id} is an event bus with an input setting; trailmatch forwards "
                                "the event as it is",
                                rule.name,
                                rule.location,
                            )
                        )
                    if bus not in listened:
                        add(
                            Finding(
                                "unknown-bus",
                                f"target {target.id} forwards to {bus[1]} in {bus[0]}, where no rule of these files "
                                "listens",
                                rule.name,
                                rule.location,
                                "add the receiving bus's rules file to the same command",
                            )
                        )
                    continue
                destination = dispatcher.destination_for(rule, target)
                if isinstance(destination, InvalidDestination):
                    add(
                        Finding(
                            "bad-destination", f"target {target.id}: {destination.reason}", rule.name, rule.location
                        )
                    )
                elif isinstance(destination, StdoutDestination) and destination.unbound:
                    add(
                        Finding(
                            "no-destination",
                            f"target {target.id} ({target.arn}) is bound to no destination: scan prints it",
                            rule.name,
                            rule.location,
                            "bind it in a destinations section (see docs/RULES.md), or configure SMTP/SNS",
                        )
                    )
        for f in _filter_checks(deployment):
            add(f)
        for f in _alarm_checks(deployment):
            add(f)
        users: dict[str, list[model.Alarm]] = {}
        for alarm in deployment.alarms:
            for arn in alarm.actions:
                users.setdefault(arn, []).append(alarm)
        for arn, alarms in users.items():
            first = alarms[0]
            names = ", ".join(a.name for a in alarms[:3]) + (f" (+{len(alarms) - 3} more)" if len(alarms) > 3 else "")
            of = f"action {arn}" + (f" of {len(alarms)} alarms ({names})" if len(alarms) > 1 else "")
            destination = dispatcher.action_destination(first, arn)
            if isinstance(destination, InvalidDestination):
                add(Finding("bad-destination", f"{of}: {destination.reason}", first.name, first.location, kind="alarm"))
            elif isinstance(destination, StdoutDestination) and destination.unbound:
                add(
                    Finding(
                        "no-destination",
                        f"{of} is bound to no destination: scan prints its notifications",
                        first.name,
                        first.location,
                        "bind it in a destinations section (see docs/RULES.md), or configure SMTP/SNS",
                        kind="alarm",
                    )
                )
    finally:
        dispatcher.close()
    return findings
