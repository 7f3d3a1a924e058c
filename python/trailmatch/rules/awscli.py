"""Rules exported with the AWS CLI: ``aws events list-rules``, ``describe-rule`` and
``list-targets-by-rule`` output, and CloudWatch's ``aws logs describe-metric-filters`` and
``aws cloudwatch describe-alarms`` output (JSON, or YAML with ``--output yaml``).

A file holds one document, several documents one after the other (``>>`` appends them), or a
JSON array of documents or pages. ``list-targets-by-rule`` does not say which rule its targets
belong to: they belong to the rule of the ``describe-rule`` document (or the last rule of the
``list-rules`` page) they follow. The input shape of ``aws events put-targets``
(``{"Rule": name, "Targets": [...]}``) names its rule and may appear anywhere after it.

A rule's region and account come from its ``Arn`` when it has one; a rule without an ``Arn`` is
deployed in each region asked for. The same goes for an alarm and its ``AlarmArn``; metric
filters carry no ARN and are deployed in each region asked for. Composite alarms, metric math and
anomaly detection alarms, and percentile alarms are listed as unsupported (with a warning).
Unknown keys are ignored, as the CLI's output grows.

Example:
    >>> from trailmatch.rules.positions import load_json_documents
    >>> text = '''
    ... {"Name": "iam", "Arn": "arn:aws:events:us-east-1:111122223333:rule/iam",
    ...  "EventPattern": "{\\\\"source\\\\": [\\\\"aws.iam\\\\"]}", "State": "ENABLED", "EventBusName": "default"}
    ... {"Targets": [{"Id": "sns", "Arn": "arn:aws:sns:us-east-1:111122223333:alerts"}]}
    ... '''
    >>> d = load_cli_documents(load_json_documents(text, "rules.json"), file="rules.json",
    ...                        regions=["eu-west-1"], account="999999999999")
    >>> [(r.name, r.region, r.account, [t.id for t in r.targets]) for r in d.rules]
    [('iam', 'us-east-1', '111122223333', ['sns'])]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trailmatch import model
from trailmatch.rules.cloudwatch import (
    Props,
    alarm_unsupported,
    build_alarm,
    build_metric_filter,
    canonical,
    single_transformation,
)
from trailmatch.rules.common import (
    MAX_TARGETS,
    PatternValidator,
    Where,
    build_target,
    check_rule_name,
    check_state,
    text_of,
    type_name,
)
from trailmatch.rules.positions import LineDict, LineList, dump_json

__all__ = ["cli_shape", "dump_targets", "is_cli_output", "load_cli_documents"]

_RULE_KEYS = ("EventPattern", "Arn", "State", "ScheduleExpression", "EventBusName")
#: describe-metric-filters keys → CloudFormation property names.
_FILTER_KEYS = {
    "filterName": "FilterName",
    "filterPattern": "FilterPattern",
    "logGroupName": "LogGroupName",
    "metricTransformations": "MetricTransformations",
    "applyOnTransformedLogs": "ApplyOnTransformedLogs",
}
_TRANSFORMATION_KEYS = {
    "metricName": "MetricName",
    "metricNamespace": "MetricNamespace",
    "metricValue": "MetricValue",
    "defaultValue": "DefaultValue",
    "dimensions": "Dimensions",
    "unit": "Unit",
}
#: describe-alarms' MetricAlarms keys that are alarm properties (the CloudFormation names).
_ALARM_KEYS = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
_SHAPES = (
    "`aws events list-rules`, `describe-rule`, `list-targets-by-rule`, `aws logs describe-metric-filters` "
    "or `aws cloudwatch describe-alarms`"
)


def cli_shape(doc: Any) -> str | None:
    """Which AWS CLI output ``doc`` is: ``"list-rules"``, ``"describe-rule"``,
    ``"list-targets-by-rule"``, ``"describe-metric-filters"``, ``"describe-alarms"``, or ``None``.

    Example:
        >>> cli_shape({"Rules": []}), cli_shape({"Name": "r", "EventPattern": "{}"}), cli_shape({"Targets": []})
        ('list-rules', 'describe-rule', 'list-targets-by-rule')
        >>> cli_shape({"metricFilters": []}), cli_shape({"MetricAlarms": [], "CompositeAlarms": []})
        ('describe-metric-filters', 'describe-alarms')
    """
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("Rules"), list):
        return "list-rules"
    if isinstance(doc.get("Targets"), list):
        return "list-targets-by-rule"
    if isinstance(doc.get("metricFilters"), list):
        return "describe-metric-filters"
    if isinstance(doc.get("MetricAlarms"), list) or isinstance(doc.get("CompositeAlarms"), list):
        return "describe-alarms"
    if "Name" in doc and any(k in doc for k in _RULE_KEYS):
        return "describe-rule"
    return None


def is_cli_output(docs: Sequence[Any]) -> bool:
    """Whether the documents are AWS CLI output: the first document (or page of a JSON array)
    has a CLI output shape (a later one that has not is reported by the loader)."""
    pages = _pages(docs)
    return bool(pages) and cli_shape(pages[0][0]) is not None


def _pages(docs: Sequence[Any]) -> list[tuple[Any, int | None]]:
    out: list[tuple[Any, int | None]] = []
    stack: list[tuple[Any, int | None]] = [(d, getattr(d, "line", None)) for d in reversed(docs)]
    while stack:
        doc, line = stack.pop()
        if isinstance(doc, list):
            stack.extend(
                (d, doc.line_of(i) if isinstance(doc, LineList) else line) for i, d in reversed(list(enumerate(doc)))
            )
        else:
            out.append((doc, getattr(doc, "line", line)))
    return out


@dataclass
class _Pending:
    """A rule read from the CLI output, collecting the targets that follow it."""

    where: Where
    name: str
    pattern: str | None
    pattern_line: int | None
    state: str
    bus: str
    description: str
    region: str | None
    account: str | None
    schedule: str | None
    from_page_of: int = 1
    targets: list[model.Target] = field(default_factory=list)
    target_lines: dict[str, int | None] = field(default_factory=dict)


def load_cli_documents(
    docs: Sequence[Any],
    *,
    file: str,
    regions: Sequence[str],
    account: str,
    validator: PatternValidator | None = None,
) -> model.Deployment:
    """The rules (with their targets), metric filters and alarms of AWS CLI output documents.

    Raises:
        RulesError: a document is not a CLI output shape, a rule's pattern, a target, a metric
            filter or an alarm is invalid, or targets come before any rule.
    """
    validator = validator or PatternValidator()
    deployment = model.Deployment()
    rules: dict[tuple[str | None, str | None, str, str], _Pending] = {}
    filters: dict[str, int] = {}
    alarms: dict[tuple[str, str], int] = {}
    last: _Pending | None = None
    for doc, line in _pages(docs):
        where = Where(file, line)
        shape = cli_shape(doc)
        if shape is None:
            keys = ", ".join(list(doc)[:6]) if isinstance(doc, dict) else type_name(doc)
            raise where.error(
                f"not an AWS CLI output document (found {keys})",
                hint=f"expected the JSON printed by {_SHAPES}",
            )
        if shape == "describe-metric-filters":
            page = doc["metricFilters"]
            for i, entry in enumerate(page):
                entry_line = page.line_of(i) if isinstance(page, LineList) else line
                for region in regions:
                    _add_metric_filter(entry, Where(file, entry_line), region, account, filters, deployment)
            continue
        if shape == "describe-alarms":
            for key in ("MetricAlarms", "CompositeAlarms"):
                page = doc.get(key)
                if page is None:
                    continue
                if not isinstance(page, list):
                    raise where.error(f"{key} must be a list, found {type_name(page)}", line=_line(doc, key))
                for i, entry in enumerate(page):
                    entry_line = page.line_of(i) if isinstance(page, LineList) else line
                    _add_alarm(entry, Where(file, entry_line), key, regions, account, alarms, deployment)
            continue
        if shape == "list-rules":
            page = doc["Rules"]
            for i, entry in enumerate(page):
                entry_line = page.line_of(i) if isinstance(page, LineList) else line
                pending = _rule(entry, Where(file, entry_line), len(page))
                last = _remember(rules, pending, deployment)
        elif shape == "describe-rule":
            last = _remember(rules, _rule(doc, where, 1), deployment)
        else:
            owner = last
            if "Rule" in doc:
                rule_name = text_of(doc["Rule"], "Rule", where, line=_line(doc, "Rule"))
                bus = text_of(doc.get("EventBusName") or model.DEFAULT_BUS, "EventBusName", where)
                bus = bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus
                matches = [p for p in rules.values() if p.name == rule_name and p.bus == bus]
                if not matches:
                    raise where.error(
                        f"targets for rule {rule_name!r} on bus {bus!r}, which no document before them defines",
                        line=_line(doc, "Rule"),
                        hint="put the rule's describe-rule output before its targets",
                    )
                owner = matches[-1]
            if owner is None:
                raise where.error(
                    "list-targets-by-rule output before any rule: it does not say which rule its targets belong to",
                    hint="put each rule's `aws events describe-rule` output before its `list-targets-by-rule` output",
                )
            if owner.from_page_of > 1 and "Rule" not in doc:
                deployment.warnings.append(
                    where.warning(
                        f"targets follow a list-rules page of {owner.from_page_of} rules: attached to its last rule "
                        f"{owner.name!r}; put describe-rule output before each list-targets-by-rule output "
                        "to be explicit"
                    )
                )
            _add_targets(owner, doc["Targets"], where)
    for pending in rules.values():
        _deploy(pending, deployment, validator, regions, account)
    deployment.warnings[:] = list(dict.fromkeys(deployment.warnings))
    return deployment


def _add_metric_filter(
    entry: Any,
    where: Where,
    region: str,
    account: str,
    seen: dict[str, int],
    deployment: model.Deployment,
) -> None:
    """One entry of ``describe-metric-filters``' ``metricFilters``, deployed in ``region``."""
    if not isinstance(entry, LineDict):
        raise where.error(f"a metric filter entry must be a JSON object, found {type_name(entry)}")
    if entry.get("filterName") is None:
        raise where.error("a metric filter entry has no filterName")
    name = text_of(entry["filterName"], "filterName", where, line=_line(entry, "filterName"))
    where = where.at(entry.line, name)
    node, labels = canonical(entry, _FILTER_KEYS)
    props = Props(node, where, labels)
    transformation = single_transformation(props)
    t_node, t_labels = canonical(transformation, _TRANSFORMATION_KEYS, prefix="metricTransformations[0].")
    if props.boolean("ApplyOnTransformedLogs"):
        deployment.warnings.append(
            where.warning("applyOnTransformedLogs is not applied: the filter reads the CloudTrail records as delivered")
        )
    metric_filter = build_metric_filter(
        props,
        Props(t_node, where.at(transformation.line), t_labels),
        name=name,
        region=region,
        account=account,
        mapping_dimensions=True,
    )
    if metric_filter.key in seen:
        previous = next(f for f in deployment.metric_filters if f.key == metric_filter.key)
        if replace(previous, location=None) != replace(metric_filter, location=None):
            deployment.warnings.append(
                where.warning(
                    f"metric filter {name!r} of log group {metric_filter.log_group!r} appears again with other "
                    f"settings; the later one is used (first at line {seen[metric_filter.key]})"
                )
            )
        deployment.metric_filters.remove(previous)
    seen[metric_filter.key] = entry.line or 0
    deployment.metric_filters.append(metric_filter)


def _add_alarm(
    entry: Any,
    where: Where,
    kind: str,
    regions: Sequence[str],
    account: str,
    seen: dict[tuple[str, str], int],
    deployment: model.Deployment,
) -> None:
    """One entry of ``describe-alarms``' ``MetricAlarms`` or ``CompositeAlarms``."""
    if not isinstance(entry, LineDict):
        raise where.error(f"an alarm entry must be a JSON object, found {type_name(entry)}")
    if entry.get("AlarmName") is None:
        raise where.error("an alarm entry has no AlarmName")
    name = text_of(entry["AlarmName"], "AlarmName", where, line=_line(entry, "AlarmName"))
    where = where.at(entry.line, name)
    alarm_region = alarm_account = None
    if entry.get("AlarmArn") is not None:
        arn = text_of(entry["AlarmArn"], "AlarmArn", where, line=_line(entry, "AlarmArn"))
        parts = arn.split(":", 6)
        if len(parts) != 7 or parts[2] != "cloudwatch" or parts[5] != "alarm":
            raise where.error(
                f"AlarmArn {arn!r} is not a CloudWatch alarm ARN",
                line=_line(entry, "AlarmArn"),
                hint="arn:aws:cloudwatch:<region>:<account>:alarm:<name>",
            )
        alarm_region, alarm_account = parts[3] or None, parts[4] or None
    if kind == "CompositeAlarms":
        deployment.unsupported.append(model.Unsupported(name, "AWS::CloudWatch::CompositeAlarm", where.location()))
        deployment.warnings.append(
            where.warning(f"composite alarm {name!r} is not simulated (it combines the states of other alarms)")
        )
        return
    node, labels = canonical(entry, {key: key for key in _ALARM_KEYS})
    props = Props(node, where, labels)
    reason = alarm_unsupported(props)
    if reason is not None:
        deployment.unsupported.append(model.Unsupported(name, "AWS::CloudWatch::Alarm", where.location()))
        deployment.warnings.append(where.warning(f"alarm {name!r} is not simulated: {reason}"))
        return
    for region in [alarm_region] if alarm_region else regions:
        alarm = build_alarm(props, name=name, region=region, account=alarm_account or account)
        key = (alarm.region, alarm.account + "/" + alarm.name)
        if key in seen:
            previous = next(a for a in deployment.alarms if (a.region, a.account + "/" + a.name) == key)
            if replace(previous, location=None) != replace(alarm, location=None):
                deployment.warnings.append(
                    where.warning(
                        f"alarm {name!r} appears again with other settings; the later one is used "
                        f"(first at line {seen[key]})"
                    )
                )
            deployment.alarms.remove(previous)
        seen[key] = entry.line or 0
        deployment.alarms.append(alarm)


def _line(doc: Any, key: str) -> int | None:
    return doc.line_of(key) if isinstance(doc, LineDict) else getattr(doc, "line", None)


def _rule(entry: Any, where: Where, page_size: int) -> _Pending:
    if not isinstance(entry, dict):
        raise where.error(f"a rule entry must be a JSON object, found {type_name(entry)}")
    if "Name" not in entry:
        raise where.error("a rule entry has no Name")
    name = text_of(entry["Name"], "Name", where, line=_line(entry, "Name"))
    where = where.at(_line(entry, "Name"), name)
    check_rule_name(name, where)
    region = account = None
    bus = None
    arn = entry.get("Arn")
    if arn is not None:
        arn_text = text_of(arn, "Arn", where, line=_line(entry, "Arn"))
        parts = arn_text.split(":", 5)
        if len(parts) != 6 or parts[2] != "events" or not parts[5].startswith("rule/"):
            raise where.error(f"Arn {arn_text!r} is not an EventBridge rule ARN", line=_line(entry, "Arn"))
        region, account = parts[3] or None, parts[4] or None
        path = parts[5][len("rule/") :].split("/")
        if len(path) == 2:
            bus = path[0]
    bus_value = entry.get("EventBusName")
    if bus_value is not None:
        bus_text = text_of(bus_value, "EventBusName", where, line=_line(entry, "EventBusName"))
        bus = bus_text.split("event-bus/", 1)[-1] if bus_text.startswith("arn:") else bus_text
    pattern_value = entry.get("EventPattern")
    pattern: str | None
    if pattern_value is None:
        pattern = None
    elif isinstance(pattern_value, str):
        pattern = str(pattern_value)
    elif isinstance(pattern_value, dict):
        pattern = dump_json(pattern_value)
    else:
        raise where.error(
            f"EventPattern must be JSON text, found {type_name(pattern_value)}", line=_line(entry, "EventPattern")
        )
    state_value = entry.get("State")
    state = "ENABLED" if state_value is None else check_state(state_value, where, line=_line(entry, "State"))
    description = entry.get("Description")
    schedule = entry.get("ScheduleExpression")
    return _Pending(
        where=where,
        name=name,
        pattern=pattern,
        pattern_line=_line(entry, "EventPattern"),
        state=state,
        bus=bus or model.DEFAULT_BUS,
        description="" if description is None else text_of(description, "Description", where),
        region=region,
        account=account,
        schedule=None if schedule is None else text_of(schedule, "ScheduleExpression", where),
        from_page_of=page_size,
    )


def _remember(
    rules: dict[tuple[str | None, str | None, str, str], _Pending], pending: _Pending, deployment: model.Deployment
) -> _Pending:
    key = (pending.region, pending.account, pending.bus, pending.name)
    previous = rules.get(key)
    if previous is None:
        rules[key] = pending
        return pending
    # The same rule listed twice (list-rules, then describe-rule): one rule, the later text wins.
    if previous.pattern != pending.pattern or previous.state != pending.state:
        deployment.warnings.append(
            pending.where.warning(
                f"rule {pending.name!r} appears again with a different pattern or state; the later one is used "
                f"(first at line {previous.where.line})"
            )
        )
    pending.targets = previous.targets
    pending.target_lines = previous.target_lines
    pending.from_page_of = min(pending.from_page_of, previous.from_page_of)
    rules[key] = pending
    return pending


def _add_targets(owner: _Pending, targets: Any, where: Where) -> None:
    for i, spec in enumerate(targets):
        line = targets.line_of(i) if isinstance(targets, LineList) else where.line
        target_where = Where(where.file, line, owner.name)
        target = build_target(spec, target_where, strict_keys=False)
        if target.id in owner.target_lines:
            raise target_where.error(
                f"target Id {target.id!r} of rule {owner.name!r} appears twice "
                f"(first at line {owner.target_lines[target.id]})"
            )
        owner.target_lines[target.id] = line
        owner.targets.append(target)


def _deploy(
    pending: _Pending,
    deployment: model.Deployment,
    validator: PatternValidator,
    regions: Sequence[str],
    account: str,
) -> None:
    where = pending.where
    if pending.pattern is None:
        if pending.schedule is not None:
            deployment.warnings.append(
                where.warning(
                    f"rule {pending.name!r} is scheduled ({pending.schedule}) and has no EventPattern: skipped"
                )
            )
            return
        raise where.error(f"rule {pending.name!r} has neither EventPattern nor ScheduleExpression")
    deployment.warnings.extend(validator.check(pending.pattern, where, line=pending.pattern_line, rule=pending.name))
    if not pending.targets:
        deployment.warnings.append(
            where.warning(
                f"rule {pending.name!r} has no targets (add its `aws events list-targets-by-rule` output after it): "
                "matches are counted, nothing is delivered"
            )
        )
    if len(pending.targets) > MAX_TARGETS:
        deployment.warnings.append(
            where.warning(f"rule {pending.name!r} has {len(pending.targets)} targets; EventBridge allows {MAX_TARGETS}")
        )
    rule_regions = [pending.region] if pending.region else list(regions)
    for region in rule_regions:
        deployment.rules.append(
            model.Rule(
                name=pending.name,
                region=region,
                account=pending.account or account,
                event_pattern=pending.pattern,
                bus=pending.bus,
                state=pending.state,
                targets=tuple(pending.targets),
                description=pending.description,
                location=where.location(),
            )
        )


def dump_targets(targets: Sequence[model.Target]) -> str:
    """The ``list-targets-by-rule`` JSON of ``targets`` (for tests and round trips).

    Example:
        >>> dump_targets([model.Target("t", "arn:aws:sns:us-east-1:1:x", input='{"a": 1}')])
        '{"Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:x", "Input": "{\\\\"a\\\\": 1}"}]}'
    """
    out = []
    for t in targets:
        entry: dict[str, Any] = {"Id": t.id, "Arn": t.arn}
        if t.role_arn:
            entry["RoleArn"] = t.role_arn
        if t.input is not None:
            entry["Input"] = t.input
        if t.input_path is not None:
            entry["InputPath"] = t.input_path
        if t.input_transformer is not None:
            entry["InputTransformer"] = {
                "InputPathsMap": t.input_transformer.input_paths_map,
                "InputTemplate": t.input_transformer.input_template,
            }
        if t.dead_letter_arn:
            entry["DeadLetterConfig"] = {"Arn": t.dead_letter_arn}
        if t.retry_policy != model.RetryPolicy():
            entry["RetryPolicy"] = {
                "MaximumRetryAttempts": t.retry_policy.maximum_retry_attempts,
                "MaximumEventAgeInSeconds": t.retry_policy.maximum_event_age_seconds,
            }
        out.append(entry)
    return json.dumps({"Targets": out}, ensure_ascii=False)
