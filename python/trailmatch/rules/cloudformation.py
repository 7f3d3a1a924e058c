"""CloudFormation templates (YAML with short-form tags, or JSON) deployed offline.

A template is deployed like a stack in each region asked for: parameters are bound (given
values, then defaults, checked against ``AllowedValues`` and the other constraints),
conditions are evaluated per region, intrinsic functions are resolved, and the resources
trailmatch models become :mod:`trailmatch.model` objects:

- ``AWS::Events::Rule`` → :class:`~trailmatch.model.Rule` (scheduled rules are skipped with a
  warning: there is no event to replay for them);
- ``AWS::Events::EventBus`` → :class:`~trailmatch.model.Bus`;
- ``AWS::SNS::Topic`` and ``AWS::SNS::Subscription`` → :class:`~trailmatch.model.Topic`;
- ``AWS::Logs::MetricFilter`` → :class:`~trailmatch.model.MetricFilter` (its filter pattern
  compiled by the engine);
- ``AWS::CloudWatch::Alarm`` → :class:`~trailmatch.model.Alarm`; alarms trailmatch does not
  simulate (metric math, anomaly detection, percentiles) are listed as unsupported, with a
  warning;
- ``AWS::Logs::LogGroup`` is a name (``Ref`` gives it) and nothing else;
- everything else → :class:`~trailmatch.model.Unsupported` (listed, not fatal).

``Ref`` and ``Fn::GetAtt`` give what CloudFormation gives: the ARN of a topic, the URL of a
queue, the name of a function, ``bus|rule`` for a rule on a custom bus, ... Physical names that
CloudFormation would generate are ``<stack>-<LogicalId>`` (the stack is named after the file).

This module does not read files (see :mod:`trailmatch.rules`), and does not check what the
targets will do with events.

Example:
    >>> from trailmatch.rules.positions import load_yaml_documents
    >>> text = '''
    ... Parameters:
    ...   Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}
    ... Resources:
    ...   Alerts:
    ...     Type: AWS::SNS::Topic
    ...   Rule:
    ...     Type: AWS::Events::Rule
    ...     Properties:
    ...       EventPattern: {source: [aws.iam]}
    ...       Targets:
    ...         - Id: !Sub "alerts-${Env}"
    ...           Arn: !Ref Alerts
    ... '''
    >>> docs, info = load_yaml_documents(text, "iam.yaml")
    >>> d = load_template(docs[0], file="iam.yaml", regions=["us-east-1", "eu-west-1"],
    ...                   account="111122223333", yaml_info=info)
    >>> [(r.name, r.region) for r in d.rules]
    [('iam-Rule', 'us-east-1'), ('iam-Rule', 'eu-west-1')]
    >>> t = d.rules[1].targets[0]
    >>> t.id, t.arn, t.logical_id
    ('alerts-prod', 'arn:aws:sns:eu-west-1:111122223333:iam-Alerts', 'Alerts')
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from trailmatch import model
from trailmatch.rules.cloudwatch import (
    Props,
    alarm_unsupported,
    build_alarm,
    build_metric_filter,
    check_log_group_name,
    single_transformation,
)
from trailmatch.rules.common import (
    MAX_TARGETS,
    PatternValidator,
    Where,
    build_target,
    check_rule_name,
    check_state,
    did_you_mean,
    text_of,
    type_name,
)
from trailmatch.rules.errors import RulesError
from trailmatch.rules.positions import LineDict, LineList, YamlInfo, dump_json, walk

_T = TypeVar("_T")

__all__ = ["TEMPLATE_SECTIONS", "is_template", "load_template", "stack_name_for"]

TEMPLATE_SECTIONS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
)
RULE_PROPERTIES = (
    "Name",
    "Description",
    "EventPattern",
    "EventBusName",
    "State",
    "ScheduleExpression",
    "RoleArn",
    "Targets",
    "Tags",
)
METRIC_FILTER_PROPERTIES = (
    "FilterName",
    "FilterPattern",
    "LogGroupName",
    "MetricTransformations",
    "ApplyOnTransformedLogs",
    "EmitSystemFieldDimensions",
    "FieldSelectionCriteria",
)
TRANSFORMATION_PROPERTIES = ("MetricName", "MetricNamespace", "MetricValue", "DefaultValue", "Dimensions", "Unit")
ALARM_PROPERTIES = (
    "ActionsEnabled",
    "AlarmActions",
    "AlarmDescription",
    "AlarmName",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "Dimensions",
    "EvaluateLowSampleCountPercentile",
    "EvaluationPeriods",
    "ExtendedStatistic",
    "InsufficientDataActions",
    "MetricName",
    "Metrics",
    "Namespace",
    "OKActions",
    "Period",
    "Statistic",
    "Tags",
    "Threshold",
    "ThresholdMetricId",
    "TreatMissingData",
    "Unit",
)
RESOURCE_KEYS = (
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
    "Metadata",
)
PSEUDO_PARAMETERS = (
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
)
SNS_PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]+")
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NUMBER = re.compile(r"\s*-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*")
_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<(.+)>")
_DEPLOYMENT_NAMESPACE = uuid.UUID("6f1d1c1e-4d0e-5a8e-9a55-7472616c6d61")


class _NoValue:
    """``AWS::NoValue``: the property is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def is_template(doc: Any) -> bool:
    """Whether ``doc`` looks like a CloudFormation template.

    Example:
        >>> is_template({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}), is_template({"rules": []})
        (True, False)
    """
    if not isinstance(doc, dict):
        return False
    if "AWSTemplateFormatVersion" in doc:
        return True
    resources = doc.get("Resources")
    return isinstance(resources, dict) and any(isinstance(r, dict) and "Type" in r for r in resources.values())


def stack_name_for(stem: str) -> str:
    """The stack name a file deploys as: its stem, with what CloudFormation does not allow in a
    stack name replaced by ``-``.

    Example:
        >>> stack_name_for("scenario-000"), stack_name_for("my_rules.v2"), stack_name_for("001")
        ('scenario-000', 'my-rules-v2', 'stack-001')
    """
    name = re.sub(r"[^A-Za-z0-9-]", "-", stem) or "stack"
    if not name[0].isalpha():
        name = "stack-" + name
    return name[:128]


def partition_of(region: str) -> tuple[str, str]:
    """(``AWS::Partition``, ``AWS::URLSuffix``) of a region."""
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


# ---------------------------------------------------------------------------------------------
# Entry point


def load_template(
    doc: Any,
    *,
    file: str,
    regions: Sequence[str],
    account: str,
    parameters: Mapping[str, str] | None = None,
    yaml_info: YamlInfo | None = None,
    stack_name: str | None = None,
    validator: PatternValidator | None = None,
) -> model.Deployment:
    """Deploys the template ``doc`` (as read by :mod:`trailmatch.rules.positions`) in each of
    ``regions`` of ``account``.

    ``parameters`` bind template parameters (over their defaults) and give the values of
    ``Fn::ImportValue`` exports (keyed by export name). ``AWS::StackName`` is ``stack_name``
    (default: derived from the file name), unless ``parameters`` has an ``AWS::StackName``.

    Raises:
        RulesError: the template would not deploy (or cannot be resolved offline); the error
            names the file, line and logical id.
    """
    from pathlib import Path

    given = dict(parameters or {})
    where = Where(file, getattr(doc, "line", None))
    if not isinstance(doc, LineDict):
        raise where.error(f"a CloudFormation template must be a mapping, found {type_name(doc)}")
    if yaml_info is not None and yaml_info.alias_lines:
        raise where.error(
            "YAML aliases are not allowed in CloudFormation templates",
            line=yaml_info.alias_lines[0],
            hint="CloudFormation rejects anchors and aliases (&name, *name): repeat the value, or use a parameter",
        )
    for key in doc:
        if key not in TEMPLATE_SECTIONS:
            raise where.error(
                f"Template format error: Invalid template property or properties [{key}]",
                line=doc.line_of(key),
                hint=did_you_mean(key, TEMPLATE_SECTIONS)
                or f"a template has the sections {', '.join(TEMPLATE_SECTIONS)}",
            )
    resources = doc.get("Resources")
    if not isinstance(resources, LineDict) or not resources:
        raise where.error(
            "Template format error: At least one Resources member must be defined.", line=doc.line_of("Resources")
        )
    deployment = model.Deployment()
    warnings = deployment.warnings
    transform = doc.get("Transform")
    if transform is not None:
        names = [transform] if isinstance(transform, str) else list(transform) if isinstance(transform, list) else []
        for t in names:
            if t != "AWS::LanguageExtensions":
                warnings.append(
                    where.warning(
                        f"Transform {t} is not applied: resources it would generate are not loaded",
                        line=doc.line_of("Transform"),
                    )
                )
    for lid, res in resources.items():
        line = resources.line_of(lid)
        if not _LOGICAL_ID.fullmatch(lid):
            raise where.error(
                f"Template format error: Resource name {lid} is non alphanumeric.",
                line=line,
                hint="logical ids may contain only letters and digits",
            )
        if not isinstance(res, LineDict):
            raise where.error(
                f"resource {lid} must be a mapping with a Type, found {type_name(res)}", line=line, hint=None
            )
        if not isinstance(res.get("Type"), str):
            raise Where(file, line, lid).error(
                "Template format error: [/Resources/" + lid + "] Every Resources object must contain a Type member.",
                line=line,
            )
        for key in res:
            if key not in RESOURCE_KEYS:
                raise Where(file, res.line_of(key), lid).error(
                    f"Template format error: Invalid template resource property '{key}'",
                    hint=did_you_mean(key, RESOURCE_KEYS) or f"a resource has {', '.join(RESOURCE_KEYS)}",
                )
        properties = res.get("Properties")
        if properties is not None and not isinstance(properties, LineDict):
            raise Where(file, res.line_of("Properties"), lid).error(
                f"Properties must be a mapping, found {type_name(properties)}"
            )
    conditions = doc.get("Conditions")
    if conditions is not None and not isinstance(conditions, LineDict):
        raise where.error("Conditions must be a mapping", line=doc.line_of("Conditions"))
    mappings = doc.get("Mappings")
    if mappings is not None and not isinstance(mappings, LineDict):
        raise where.error("Mappings must be a mapping", line=doc.line_of("Mappings"))
    parameter_values = _bind_parameters(doc, file, given, warnings)
    _check_references(doc, file, parameter_values)
    stack = stack_name or stack_name_for(Path(file).stem)
    stack = given.get("AWS::StackName", stack)
    validator = validator or PatternValidator()
    for region in regions:
        _Stack(
            doc,
            file=file,
            region=region,
            account=account,
            stack_name=stack,
            parameter_values=parameter_values,
            given=given,
            validator=validator,
            deployment=deployment,
        ).deploy()
    for lid, res in resources.items():
        if res["Type"] not in _MODELLED:
            deployment.unsupported.append(
                model.Unsupported(lid, res["Type"], model.Location(file, resources.line_of(lid), lid))
            )
    deployment.warnings[:] = list(dict.fromkeys(deployment.warnings))
    return deployment


_MODELLED = (
    "AWS::Events::Rule",
    "AWS::Events::EventBus",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Logs::MetricFilter",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
)


# ---------------------------------------------------------------------------------------------
# Parameters


def _parameter_type_is_list(ptype: str) -> bool:
    return (
        ptype == "CommaDelimitedList"
        or ptype.startswith("List<")
        or bool(
            (m := _SSM_VALUE.fullmatch(ptype))
            and (m.group(1) == "CommaDelimitedList" or m.group(1).startswith("List<"))
        )
    )


def _bind_parameters(
    doc: LineDict, file: str, given: Mapping[str, str], warnings: list[str]
) -> dict[str, str | list[str]]:
    declared = doc.get("Parameters") or LineDict()
    if not isinstance(declared, LineDict):
        raise RulesError("Parameters must be a mapping", file=file, line=doc.line_of("Parameters"))
    imports = _import_names(doc)
    # The same --parameter values go to every rules file of a scan: a name this template does
    # not declare is only worth a word when it looks like a misspelling of one it does.
    for name in given:
        if name not in declared and name not in imports and not name.startswith("AWS::"):
            hint = did_you_mean(name, declared)
            if hint:
                warnings.append(
                    f"{file}: parameter {name!r} is given but the template declares no such parameter (ignored); {hint}"
                )
    values: dict[str, str | list[str]] = {}
    for name, decl in declared.items():
        line = declared.line_of(name)
        where = Where(file, line, name)
        if not _LOGICAL_ID.fullmatch(name):
            raise where.error(f"Template format error: Parameter name {name} is non alphanumeric.")
        if not isinstance(decl, LineDict) or not isinstance(decl.get("Type"), str):
            raise where.error(
                f"Template format error: Every Parameters object must contain a Type member (parameter {name}).",
                hint="e.g. `Type: String`",
            )
        ptype = decl["Type"]
        known = (
            ptype in ("String", "Number", "CommaDelimitedList", "List<Number>")
            or ptype.startswith("AWS::")
            or ptype.startswith("List<AWS::")
        )
        if not known:
            raise where.error(
                f"Template format error: Unrecognized parameter type: {ptype}",
                line=decl.line_of("Type"),
                hint=did_you_mean(ptype, ("String", "Number", "CommaDelimitedList", "List<Number>")),
            )
        if name in given:
            raw = given[name]
        elif decl.get("Default") is not None and not _SSM_VALUE.fullmatch(ptype):
            default = decl["Default"]
            if isinstance(default, list):
                raw = ",".join(text_of(v, f"Default of parameter {name}", where) for v in default)
            else:
                raw = text_of(default, f"Default of parameter {name}", where, line=decl.line_of("Default"))
        elif _SSM_VALUE.fullmatch(ptype):
            raise where.error(
                f"parameter {name} is read from SSM Parameter Store ({ptype}), which cannot be read offline",
                hint=f"pass its value: --parameter {name}=Value (parameters={{'{name}': ...}} in Python)",
            )
        else:
            raise where.error(
                f"Parameters: [{name}] must have values",
                hint=f"pass a value: --parameter {name}=Value (parameters={{'{name}': ...}} in Python), "
                "or give the parameter a Default",
            )
        is_list = _parameter_type_is_list(ptype)
        items = [item.strip() for item in raw.split(",")] if is_list else [raw]
        _check_constraints(name, ptype, decl, items, raw, where)
        values[name] = items if is_list else raw
    return values


def _check_constraints(name: str, ptype: str, decl: LineDict, items: list[str], raw: str, where: Where) -> None:
    described = decl.get("ConstraintDescription")
    hint = str(described) if described else None
    if ptype in ("Number", "List<Number>"):
        for item in items:
            if not _NUMBER.fullmatch(item):
                raise where.error(f"Parameter '{name}' must be a number, found {item!r}", hint=hint)
    allowed = decl.get("AllowedValues")
    if allowed is not None:
        options = [text_of(v, "AllowedValues", where) for v in (allowed if isinstance(allowed, list) else [allowed])]
        for item in items:
            if item not in options:
                raise where.error(
                    f"Parameter '{name}' must be one of AllowedValues ({', '.join(options)}), found {item!r}",
                    line=decl.line_of("AllowedValues"),
                    hint=hint or did_you_mean(item, options),
                )
    pattern = decl.get("AllowedPattern")
    if pattern is not None:
        for item in items:
            if not re.fullmatch(str(pattern), item):
                raise where.error(
                    f"Parameter '{name}' must match pattern {pattern}, found {item!r}",
                    line=decl.line_of("AllowedPattern"),
                    hint=hint,
                )
    for key, check, what in (
        ("MinLength", lambda n: len(raw) >= n, "at least {} characters"),
        ("MaxLength", lambda n: len(raw) <= n, "at most {} characters"),
        ("MinValue", lambda n: all(float(i) >= n for i in items), "at least {}"),
        ("MaxValue", lambda n: all(float(i) <= n for i in items), "at most {}"),
    ):
        bound = decl.get(key)
        if bound is None:
            continue
        try:
            number = float(bound)
        except (TypeError, ValueError):
            raise where.error(f"{key} of parameter {name} must be a number", line=decl.line_of(key)) from None
        if key in ("MinValue", "MaxValue") and ptype not in ("Number", "List<Number>"):
            continue
        if not check(number):
            shown = getattr(bound, "text", bound)
            raise where.error(f"Parameter '{name}' must be {what.format(shown)}", line=decl.line_of(key), hint=hint)


def _import_names(doc: LineDict) -> set[str]:
    names: set[str] = set()
    for value, _ in walk(doc.get("Resources")):
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Fn::ImportValue"), str):
            names.add(value["Fn::ImportValue"])
    return names


# ---------------------------------------------------------------------------------------------
# Static checks of references (CloudFormation validates every reference before creating anything)


def _sub_names(arg: Any) -> tuple[list[str], set[str]]:
    """Variables a Fn::Sub refers to, and the names its variable map defines."""
    template = arg
    local: set[str] = set()
    if isinstance(arg, list) and arg:
        template = arg[0]
        if len(arg) > 1 and isinstance(arg[1], dict):
            local = set(arg[1])
    if not isinstance(template, str):
        return [], local
    names = [m.strip() for m in _SUB_VARIABLE.findall(template) if not m.startswith("!")]
    return names, local


def _check_references(doc: LineDict, file: str, parameters: Mapping[str, Any]) -> None:
    resources: LineDict = doc["Resources"]
    conditions = doc.get("Conditions") or LineDict()
    known = set(parameters) | set(resources) | set(PSEUDO_PARAMETERS)

    def unresolved(name: str, line: int | None, owner: str | None, *, in_sub: bool = False) -> RulesError:
        hint = did_you_mean(name, [*parameters, *resources])
        if in_sub:
            extra = f"to keep a literal ${{{name}}} in the text, write ${{!{name}}}"
            hint = f"{hint}; {extra}" if hint else extra
        elif hint is None:
            hint = (
                "declare it under Parameters (and pass it with --parameter), or define a resource with that logical id"
            )
        return RulesError(
            _unresolved(name),
            file=file,
            line=line,
            name=owner,
            hint=hint,
        )

    sections: list[tuple[str | None, Any]] = [(lid, res) for lid, res in resources.items()]
    sections.append((None, doc.get("Outputs")))
    for owner, section in sections:
        if isinstance(section, LineDict) and owner is not None:
            cond = section.get("Condition")
            if cond is not None and cond not in conditions:
                raise RulesError(
                    f"Template format error: Unresolved dependencies [{cond}]. Cannot reference resources in the "
                    "Conditions block of the template",
                    file=file,
                    line=section.line_of("Condition"),
                    name=owner,
                    hint=did_you_mean(str(cond), conditions) or "define the condition under Conditions",
                )
            depends = section.get("DependsOn")
            for dep in depends if isinstance(depends, list) else [depends] if depends is not None else []:
                if dep not in resources:
                    raise RulesError(
                        f"Template format error: Unresolved resource dependencies [{dep}] in the Resources block of "
                        "the template (DependsOn)",
                        file=file,
                        line=section.line_of("DependsOn"),
                        name=owner,
                        hint=did_you_mean(str(dep), resources),
                    )
        for value, line in walk(section):
            if not isinstance(value, dict) or len(value) != 1:
                continue
            key, arg = next(iter(value.items()))
            if key == "Ref" and isinstance(arg, str) and arg not in known:
                raise unresolved(arg, line, owner)
            if key == "Fn::GetAtt":
                target = (
                    arg[0] if isinstance(arg, list) and arg else arg.partition(".")[0] if isinstance(arg, str) else None
                )
                if isinstance(target, str) and target not in resources:
                    raise RulesError(
                        f"Template error: instance of Fn::GetAtt references undefined resource {target}",
                        file=file,
                        line=line,
                        name=owner,
                        hint=did_you_mean(target, resources),
                    )
            if key == "Fn::Sub":
                names, local = _sub_names(arg)
                for name in names:
                    base = name if name.startswith("AWS::") else name.partition(".")[0]
                    if name not in local and base not in known:
                        raise unresolved(name, line, owner, in_sub=True)
            if (
                key == "Fn::If"
                and isinstance(arg, list)
                and arg
                and isinstance(arg[0], str)
                and arg[0] not in conditions
            ):
                raise RulesError(
                    f"Template error: unresolved condition dependency {arg[0]} in Fn::If",
                    file=file,
                    line=line,
                    name=owner,
                    hint=did_you_mean(arg[0], conditions) or "define the condition under Conditions",
                )


# ---------------------------------------------------------------------------------------------
# Physical resources: what Ref and Fn::GetAtt return


@dataclass
class _Physical:
    name: str
    ref: Any
    attrs: dict[str, Any] = field(default_factory=dict)


def _arn(service: str, stack: _Stack, resource: str, *, region: bool = True, account: bool = True) -> str:
    where = f"{stack.region if region else ''}:{stack.account if account else ''}"
    return f"arn:{stack.partition}:{service}:{where}:{resource}"


def _kind_rule(s: _Stack, lid: str) -> _Physical:
    name = s.name_property(lid, "Name", max_length=64)
    bus = s.bus_name(lid)
    arn = _arn("events", s, f"rule/{name}" if bus == model.DEFAULT_BUS else f"rule/{bus}/{name}")
    # CloudFormation returns "bus|rule" for a rule on a custom bus (observed; the docs say only "rule name").
    return _Physical(name, name if bus == model.DEFAULT_BUS else f"{bus}|{name}", {"Arn": arn})


def _kind_bus(s: _Stack, lid: str) -> _Physical:
    if s.prop(lid, "Name") is None:
        raise s.where(lid).error("AWS::Events::EventBus needs a Name", hint="Name: my-bus")
    name = s.name_property(lid, "Name")
    policy = s.prop(lid, "Policy")
    attrs = {"Arn": _arn("events", s, f"event-bus/{name}"), "Name": name}
    attrs["Policy"] = dump_json(policy) if isinstance(policy, (dict, list)) else (policy or "")
    return _Physical(name, name, attrs)


def _kind_topic(s: _Stack, lid: str) -> _Physical:
    fifo = str(s.prop(lid, "FifoTopic")).lower() == "true"
    name = s.name_property(lid, "TopicName", max_length=256, suffix=".fifo" if fifo else "")
    arn = _arn("sns", s, name)
    return _Physical(name, arn, {"TopicArn": arn, "TopicName": name})


def _kind_queue(s: _Stack, lid: str) -> _Physical:
    fifo = str(s.prop(lid, "FifoQueue")).lower() == "true"
    name = s.name_property(lid, "QueueName", max_length=80, suffix=".fifo" if fifo else "")
    url = f"https://sqs.{s.region}.{s.url_suffix}/{s.account}/{name}"
    return _Physical(name, url, {"Arn": _arn("sqs", s, name), "QueueName": name, "QueueUrl": url})


def _named(
    service: str, resource: str, name_key: str, *, ref_is_arn: bool = False, max_length: int = 256, **extra: str
) -> Any:
    """A kind whose Ref is its name (or ARN) and whose ``Arn`` is ``resource.format(name=...)``."""

    def kind(s: _Stack, lid: str) -> _Physical:
        name = s.name_property(lid, name_key, max_length=max_length)
        arn = _arn(service, s, resource.format(name=name, uid=s.uid(lid)))
        attrs = {"Arn": arn}
        for attr, template in extra.items():
            attrs[attr] = template.format(name=name, arn=arn, uid=s.uid(lid))
        return _Physical(name, arn if ref_is_arn else name, attrs)

    return kind


def _kind_role(s: _Stack, lid: str) -> _Physical:
    name = s.name_property(lid, "RoleName", max_length=64)
    path = s.prop(lid, "Path") or "/"
    return _Physical(
        name,
        name,
        {"Arn": f"arn:{s.partition}:iam::{s.account}:role{path}{name}", "RoleId": "AROA" + s.uid(lid)[:17].upper()},
    )


def _kind_bucket(s: _Stack, lid: str) -> _Physical:
    name = s.name_property(lid, "BucketName", max_length=63).lower()
    return _Physical(
        name,
        name,
        {
            "Arn": f"arn:{s.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.{s.url_suffix}",
            "RegionalDomainName": f"{name}.s3.{s.region}.{s.url_suffix}",
        },
    )


def _kind_secret(s: _Stack, lid: str) -> _Physical:
    name = s.name_property(lid, "Name", max_length=512)
    arn = _arn("secretsmanager", s, f"secret:{name}-{s.uid(lid)[:6]}")
    return _Physical(name, arn, {"Id": arn})


def _kind_key(s: _Stack, lid: str) -> _Physical:
    key_id = str(uuid.uuid5(_DEPLOYMENT_NAMESPACE, f"{s.account}/{s.region}/{s.stack_name}/{lid}"))
    return _Physical(key_id, key_id, {"Arn": _arn("kms", s, f"key/{key_id}"), "KeyId": key_id})


def _kind_metric_filter(s: _Stack, lid: str) -> _Physical:
    name = s.name_property(lid, "FilterName", max_length=512)
    return _Physical(name, name, {})


def _kind_subscription(s: _Stack, lid: str) -> _Physical:
    topic = s.prop(lid, "TopicArn")
    arn = f"{topic}:{uuid.uuid5(_DEPLOYMENT_NAMESPACE, f'{topic}/{lid}')}"
    return _Physical(arn, arn, {"Arn": arn})


def _kind_id_only(s: _Stack, lid: str) -> _Physical:
    name = f"{s.stack_name}-{lid}-{s.uid(lid)[:12].upper()}"
    return _Physical(name, name, {})


KINDS: dict[str, Callable[[_Stack, str], _Physical]] = {
    "AWS::Events::Rule": _kind_rule,
    "AWS::Events::EventBus": _kind_bus,
    "AWS::SNS::Topic": _kind_topic,
    "AWS::SNS::Subscription": _kind_subscription,
    "AWS::SQS::Queue": _kind_queue,
    "AWS::Lambda::Function": _named("lambda", "function:{name}", "FunctionName", max_length=64),
    "AWS::StepFunctions::StateMachine": _named(
        "states", "stateMachine:{name}", "StateMachineName", ref_is_arn=True, max_length=80, Name="{name}"
    ),
    "AWS::Logs::LogGroup": _named("logs", "log-group:{name}:*", "LogGroupName", max_length=512),
    "AWS::Logs::MetricFilter": _kind_metric_filter,
    "AWS::Kinesis::Stream": _named("kinesis", "stream/{name}", "Name", max_length=128),
    "AWS::KinesisFirehose::DeliveryStream": _named(
        "firehose", "deliverystream/{name}", "DeliveryStreamName", max_length=64
    ),
    "AWS::Events::ApiDestination": _named(
        "events", "api-destination/{name}/{uid}", "Name", max_length=64, ArnForPolicy="{arn}"
    ),
    "AWS::Events::Connection": _named("events", "connection/{name}/{uid}", "Name", max_length=64),
    "AWS::Events::Archive": _named("events", "archive/{name}", "ArchiveName", max_length=48),
    "AWS::ECS::Cluster": _named("ecs", "cluster/{name}", "ClusterName", max_length=255),
    "AWS::CodeBuild::Project": _named("codebuild", "project/{name}", "Name", max_length=255),
    "AWS::CodePipeline::Pipeline": _named("codepipeline", "{name}", "Name", max_length=100),
    "AWS::Batch::JobQueue": _named("batch", "job-queue/{name}", "JobQueueName", ref_is_arn=True, max_length=128),
    "AWS::CloudWatch::Alarm": _named("cloudwatch", "alarm:{name}", "AlarmName", max_length=255),
    "AWS::SSM::Parameter": _named("ssm", "parameter/{name}", "Name", max_length=2048),
    "AWS::IAM::Role": _kind_role,
    "AWS::S3::Bucket": _kind_bucket,
    "AWS::SecretsManager::Secret": _kind_secret,
    "AWS::KMS::Key": _kind_key,
    "AWS::SNS::TopicPolicy": _kind_id_only,
    "AWS::SQS::QueuePolicy": _kind_id_only,
    "AWS::Events::EventBusPolicy": _kind_id_only,
    "AWS::Lambda::Permission": _kind_id_only,
    "AWS::IAM::Policy": _kind_id_only,
}


# ---------------------------------------------------------------------------------------------
# One stack in one region


class _Stack:
    def __init__(
        self,
        doc: LineDict,
        *,
        file: str,
        region: str,
        account: str,
        stack_name: str,
        parameter_values: Mapping[str, str | list[str]],
        given: Mapping[str, str],
        validator: PatternValidator,
        deployment: model.Deployment,
    ) -> None:
        self.doc = doc
        self.file = file
        self.region = region
        self.account = account
        self.stack_name = stack_name
        self.partition, self.url_suffix = partition_of(region)
        self.parameters = parameter_values
        self.given = given
        self.validator = validator
        self.deployment = deployment
        self.resources: LineDict = doc["Resources"]
        self.conditions: LineDict = doc.get("Conditions") or LineDict()
        self.mappings: LineDict = doc.get("Mappings") or LineDict()
        self._condition_values: dict[str, bool] = {}
        self._conditions_busy: list[str] = []
        self._physical: dict[str, _Physical] = {}
        self._physical_busy: list[str] = []
        self._arn_owners: dict[str, str] | None = None
        self._produced: dict[str, str] = {}
        stack_uuid = uuid.uuid5(_DEPLOYMENT_NAMESPACE, f"{account}/{region}/{stack_name}")
        self.pseudo: dict[str, Any] = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{region}:{account}:stack/{stack_name}/{stack_uuid}",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    # -- helpers ------------------------------------------------------------------------------

    def where(self, lid: str | None, line: int | None = None) -> Where:
        if line is None and lid is not None:
            line = self.resources.line_of(lid)
        return Where(self.file, line, lid)

    def uid(self, lid: str) -> str:
        return uuid.uuid5(_DEPLOYMENT_NAMESPACE, f"{self.account}/{self.region}/{self.stack_name}/{lid}").hex

    def properties(self, lid: str) -> LineDict:
        props = self.resources[lid].get("Properties")
        return props if isinstance(props, LineDict) else LineDict(self.resources.line_of(lid))

    def prop(self, lid: str, key: str) -> Any:
        """One resolved property of a resource (``None`` when absent or AWS::NoValue)."""
        props = self.properties(lid)
        if key not in props:
            return None
        value = self.resolve(props[key], lid, props.line_of(key), f"Properties.{key}")
        return None if value is NO_VALUE else value

    def name_property(self, lid: str, key: str, *, max_length: int | None = None, suffix: str = "") -> str:
        value = self.prop(lid, key)
        if value is not None:
            return text_of(value, key, self.where(lid, self.properties(lid).line_of(key)))
        name = f"{self.stack_name}-{lid}"
        if max_length is not None:
            name = name[: max_length - len(suffix)]
        return name + suffix

    def bus_name(self, lid: str) -> str:
        value = self.prop(lid, "EventBusName")
        if value is None:
            return model.DEFAULT_BUS
        text = text_of(value, "EventBusName", self.where(lid, self.properties(lid).line_of("EventBusName")))
        if text.startswith("arn:"):
            # arn:aws:events:<region>:<account>:event-bus/<name>
            parts = text.split(":", 5)
            if len(parts) == 6 and parts[5].startswith("event-bus/"):
                if parts[3] and parts[3] != self.region:
                    self.deployment.warnings.append(
                        self.where(lid).warning(
                            f"EventBusName {text} is in region {parts[3]}, not {self.region}: "
                            "a rule lives on a bus of its own region"
                        )
                    )
                return parts[5][len("event-bus/") :]
            raise self.where(lid, self.properties(lid).line_of("EventBusName")).error(
                f"EventBusName {text!r} is neither a bus name nor an event-bus ARN"
            )
        return text

    def condition(self, name: str, line: int | None, owner: str | None) -> bool:
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.conditions:
            raise self.where(owner, line).error(
                f"Template error: unresolved condition dependency {name}",
                hint=did_you_mean(name, self.conditions) or "define the condition under Conditions",
            )
        if name in self._conditions_busy:
            cycle = " -> ".join([*self._conditions_busy, name])
            raise self.where(owner, self.conditions.line_of(name)).error(
                f"Template error: circular condition dependency {cycle}"
            )
        self._conditions_busy.append(name)
        try:
            value = self.condition_expression(self.conditions[name], name, self.conditions.line_of(name))
        finally:
            self._conditions_busy.pop()
        self._condition_values[name] = value
        return value

    def condition_expression(self, node: Any, owner: str | None, line: int | None) -> bool:
        if isinstance(node, bool):
            return node
        if isinstance(node, dict) and len(node) == 1:
            key, arg = next(iter(node.items()))
            if key == "Condition":
                if not isinstance(arg, str):
                    raise self.where(owner, line).error("Condition must name a condition")
                return self.condition(arg, line, owner)
            if key in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
                value = self.intrinsic(key, arg, owner, getattr(node, "line", line), "Conditions")
                return bool(value)
        raise self.where(owner, line).error(
            "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition",
            hint="e.g. IsProd: !Equals [!Ref Env, prod]",
        )

    def resource_exists(self, lid: str) -> bool:
        cond = self.resources[lid].get("Condition")
        return cond is None or self.condition(str(cond), self.resources[lid].line_of("Condition"), lid)

    def physical(self, lid: str, line: int | None, owner: str | None) -> _Physical:
        if lid in self._physical:
            return self._physical[lid]
        if lid not in self.resources:
            raise self.where(owner, line).error(
                _unresolved(lid),
                hint=did_you_mean(lid, self.resources),
            )
        if not self.resource_exists(lid):
            raise self.where(owner, line).error(
                f"resource {lid} is referenced but not created in {self.region}: its Condition "
                f"{self.resources[lid]['Condition']} is false",
                hint="guard the reference with !If on the same condition",
            )
        if lid in self._physical_busy:
            cycle = " -> ".join([*self._physical_busy, lid])
            raise self.where(owner, line).error(
                f"Template format error: Circular dependency between resources: {cycle}"
            )
        self._physical_busy.append(lid)
        try:
            kind = KINDS.get(self.resources[lid]["Type"])
            if kind is None:
                name = f"{self.stack_name}-{lid}"
                phys = _Physical(name, name, {})
            else:
                phys = kind(self, lid)
        finally:
            self._physical_busy.pop()
        self._physical[lid] = phys
        return phys

    def get_att(self, lid: str, attr: str, line: int | None, owner: str | None) -> Any:
        phys = self.physical(lid, line, owner)
        if attr in phys.attrs:
            return self._produced_by(lid, phys.attrs[attr])
        rtype = self.resources[lid]["Type"]
        if attr == "Arn" and rtype not in KINDS:
            service, _, resource = rtype.removeprefix("AWS::").partition("::")
            arn = _arn(service.lower(), self, f"{resource.lower()}/{phys.name}")
            self.deployment.warnings.append(
                self.where(owner, line).warning(f"Fn::GetAtt {lid}.Arn ({rtype}) is not modelled; using {arn}")
            )
            return self._produced_by(lid, arn)
        placeholder = f"{phys.name}.{attr}"
        self.deployment.warnings.append(
            self.where(owner, line).warning(
                f"Fn::GetAtt {lid}.{attr} ({rtype}) cannot be known offline; using the placeholder {placeholder!r}"
            )
        )
        return self._produced_by(lid, placeholder)

    def ref(self, name: str, line: int | None, owner: str | None) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._produced_by(name, self.physical(name, line, owner).ref)

    def _produced_by(self, lid: str, value: Any) -> Any:
        """Remembers that ``value`` came from a Ref or Fn::GetAtt of ``lid`` (for ``owner_of``)."""
        if isinstance(value, str):
            self._produced.setdefault(value, lid)
        return value

    def owner_of(self, arn: str) -> str | None:
        """The logical id of the resource whose Ref or Fn::GetAtt value is ``arn``: one the
        template referred to, else one of the modelled types whose value it happens to be."""
        if arn in self._produced:
            return self._produced[arn]
        if self._arn_owners is None:
            owners: dict[str, str] = {}
            for lid in self.resources:
                if self.resources[lid]["Type"] not in KINDS:
                    continue
                try:
                    phys = self.physical(lid, None, None)
                except RulesError:
                    continue
                for value in (phys.ref, *phys.attrs.values()):
                    if isinstance(value, str):
                        owners.setdefault(value, lid)
            self._arn_owners = owners
        return self._arn_owners.get(arn)

    # -- intrinsic functions ------------------------------------------------------------------

    def resolve(self, node: Any, owner: str | None, line: int | None, path: str) -> Any:
        """``node`` with every intrinsic function replaced by its value (positions kept)."""
        if isinstance(node, dict):
            if len(node) == 1:
                key = next(iter(node))
                if key == "Ref" or key.startswith("Fn::"):
                    return self.intrinsic(
                        key, node[key], owner, node.line_of(key) if isinstance(node, LineDict) else line, path
                    )
            out = node.copy_position() if isinstance(node, LineDict) else LineDict(line)
            for key, value in node.items():
                sub_line = node.line_of(key) if isinstance(node, LineDict) else line
                resolved = self.resolve(value, owner, sub_line, f"{path}.{key}")
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(node, list):
            items = LineList(getattr(node, "line", line))
            for i, value in enumerate(node):
                sub_line = node.line_of(i) if isinstance(node, LineList) else line
                resolved = self.resolve(value, owner, sub_line, f"{path}[{i}]")
                if resolved is not NO_VALUE:
                    items.add(resolved, sub_line)
            return items
        return node

    def _string(self, value: Any, what: str, owner: str | None, line: int | None) -> str:
        if isinstance(value, list):
            raise self.where(owner, line).error(
                f"{what} must be a string, found a list",
                hint="a list parameter or Fn::Split/GetAZs/Cidr result needs Fn::Join or Fn::Select",
            )
        return text_of(value, what, self.where(owner, line))

    def _list(self, value: Any, what: str, owner: str | None, line: int | None) -> list[Any]:
        if not isinstance(value, list):
            raise self.where(owner, line).error(f"{what} must be a list, found {type_name(value)}")
        return value

    def _args(
        self, arg: Any, fn: str, count: int | tuple[int, ...], owner: str | None, line: int | None, usage: str
    ) -> list[Any]:
        counts = (count,) if isinstance(count, int) else count
        if not isinstance(arg, list) or len(arg) not in counts:
            raise self.where(owner, line).error(
                f"Template error: {fn} takes a list of {' or '.join(map(str, counts))} arguments, "
                f"found {type_name(arg)}" + (f" of {len(arg)}" if isinstance(arg, list) else ""),
                hint=f"usage: {usage}",
            )
        return list(arg)

    def intrinsic(self, fn: str, arg: Any, owner: str | None, line: int | None, path: str) -> Any:
        where = self.where(owner, line)
        if fn == "Ref":
            if isinstance(arg, dict):
                arg = self.resolve(arg, owner, line, path)
            if not isinstance(arg, str):
                raise where.error(
                    f"Template error: Ref takes the name of a parameter or resource, found {type_name(arg)}"
                )
            return self.ref(arg, line, owner)
        if fn == "Fn::GetAtt":
            if isinstance(arg, str):
                lid, _, attr = arg.partition(".")
            else:
                lid, attr = self._args(arg, fn, 2, owner, line, "!GetAtt Resource.Attribute or [Resource, Attribute]")
                attr = self._string(self.resolve(attr, owner, line, path), "Fn::GetAtt attribute", owner, line)
            if not isinstance(lid, str) or not attr:
                raise where.error(
                    "Template error: Fn::GetAtt takes [LogicalId, Attribute]", hint="!GetAtt Topic.TopicName"
                )
            return self.get_att(lid, attr, line, owner)
        if fn == "Fn::Sub":
            return self.sub(arg, owner, line, path)
        if fn == "Fn::Join":
            delimiter, items = self._args(arg, fn, 2, owner, line, "!Join [delimiter, [a, b, ...]]")
            delimiter = self._string(self.resolve(delimiter, owner, line, path), "Fn::Join delimiter", owner, line)
            values = self._list(self.resolve(items, owner, line, path), "Fn::Join's second argument", owner, line)
            return delimiter.join(self._string(v, "a Fn::Join item", owner, line) for v in values)
        if fn == "Fn::Select":
            index, items = self._args(arg, fn, 2, owner, line, "!Select [index, list]")
            index_text = self._string(self.resolve(index, owner, line, path), "Fn::Select index", owner, line)
            values = self._list(self.resolve(items, owner, line, path), "Fn::Select's list", owner, line)
            if not re.fullmatch(r"[0-9]+", index_text.strip()) or int(index_text) >= len(values):
                raise where.error(f"Template error: Fn::Select cannot select nonexistent value at index {index_text}")
            return values[int(index_text)]
        if fn == "Fn::Split":
            delimiter, source = self._args(arg, fn, 2, owner, line, "!Split [delimiter, string]")
            delimiter = self._string(self.resolve(delimiter, owner, line, path), "Fn::Split delimiter", owner, line)
            text = self._string(self.resolve(source, owner, line, path), "Fn::Split source", owner, line)
            if not delimiter:
                raise where.error("Template error: Fn::Split delimiter must not be empty")
            return text.split(delimiter)
        if fn == "Fn::If":
            name, then, otherwise = self._args(
                arg, fn, 3, owner, line, "!If [Condition, value_if_true, value_if_false]"
            )
            if not isinstance(name, str):
                raise where.error("Template error: Fn::If's first argument must name a condition")
            chosen = then if self.condition(name, line, owner) else otherwise
            return self.resolve(chosen, owner, line, path)
        if fn == "Fn::Equals":
            left, right = self._args(arg, fn, 2, owner, line, "!Equals [value_1, value_2]")
            return _comparable(self.resolve(left, owner, line, path)) == _comparable(
                self.resolve(right, owner, line, path)
            )
        if fn in ("Fn::And", "Fn::Or"):
            parts = self._args(
                arg, fn, tuple(range(2, 11)), owner, line, f"!{fn[4:]} [condition, condition, ...] (2 to 10)"
            )
            outcomes = (self.condition_expression(p, owner, getattr(p, "line", line)) for p in parts)
            return all(outcomes) if fn == "Fn::And" else any(outcomes)
        if fn == "Fn::Not":
            (part,) = self._args(arg, fn, 1, owner, line, "!Not [condition]")
            return not self.condition_expression(part, owner, getattr(part, "line", line))
        if fn == "Fn::FindInMap":
            return self.find_in_map(arg, owner, line, path)
        if fn == "Fn::Base64":
            text = self._string(self.resolve(arg, owner, line, path), "Fn::Base64 argument", owner, line)
            return base64.b64encode(text.encode("utf-8")).decode("ascii")
        if fn == "Fn::GetAZs":
            region = self._string(self.resolve(arg, owner, line, path), "Fn::GetAZs region", owner, line) or self.region
            return [f"{region}a", f"{region}b", f"{region}c"]
        if fn == "Fn::ImportValue":
            name = self._string(self.resolve(arg, owner, line, path), "Fn::ImportValue export name", owner, line)
            if name in self.given:
                return self.given[name]
            raise where.error(
                f"Fn::ImportValue {name!r} cannot be resolved offline: exports live in other stacks",
                hint=f"pass the export's value as a parameter named after the export: --parameter {name}=Value "
                f"(parameters={{'{name}': ...}} in Python)",
            )
        if fn == "Fn::Cidr":
            return self.cidr(arg, owner, line, path)
        if fn == "Fn::Length":
            return len(self._list(self.resolve(arg, owner, line, path), "Fn::Length argument", owner, line))
        if fn == "Fn::ToJsonString":
            value = self.resolve(arg, owner, line, path)
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        raise where.error(
            f"Template error: intrinsic function {fn} is not supported offline",
            hint=did_you_mean(
                fn,
                (
                    "Fn::Sub",
                    "Fn::GetAtt",
                    "Fn::Join",
                    "Fn::Select",
                    "Fn::Split",
                    "Fn::If",
                    "Fn::Equals",
                    "Fn::And",
                    "Fn::Or",
                    "Fn::Not",
                    "Fn::FindInMap",
                    "Fn::Base64",
                    "Fn::GetAZs",
                    "Fn::ImportValue",
                    "Fn::Cidr",
                    "Fn::Length",
                    "Fn::ToJsonString",
                ),
            ),
        )

    def sub(self, arg: Any, owner: str | None, line: int | None, path: str) -> str:
        where = self.where(owner, line)
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise where.error(
                    "Template error: Fn::Sub takes a string or [string, {Name: value, ...}]",
                    hint="!Sub ['${Bucket}-logs', {Bucket: !Ref LogBucket}]",
                )
            template = arg[0]
            for name, value in arg[1].items():
                resolved = self.resolve(value, owner, line, f"{path}.{name}")
                variables[name] = resolved
        else:
            template = arg
        if isinstance(template, dict):
            raise where.error(
                "Template error: Fn::Sub takes a string, found a mapping",
                hint="YAML read the JSON after !Sub as a mapping: write `!Sub |` and put the JSON on the "
                "following, more indented lines (or quote the whole text)",
            )
        if not isinstance(template, str):
            raise where.error(f"Template error: Fn::Sub takes a string, found {type_name(template)}")

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                lid, _, attr = name.partition(".")
                value = self.get_att(lid, attr, line, owner)
            elif name in self.pseudo or name in self.parameters or name in self.resources:
                value = self.ref(name, line, owner)
            else:
                raise where.error(
                    _unresolved(name),
                    hint=f"to keep a literal ${{{name}}} in the text, write ${{!{name}}}",
                )
            if value is NO_VALUE:
                raise where.error(f"Fn::Sub cannot substitute AWS::NoValue (${{{name}}})")
            return self._string(value, f"${{{name}}} in Fn::Sub", owner, line)

        return _SUB_VARIABLE.sub(replace, template)

    def find_in_map(self, arg: Any, owner: str | None, line: int | None, path: str) -> Any:
        parts = self._args(
            arg, "Fn::FindInMap", (3, 4), owner, line, "!FindInMap [MapName, TopLevelKey, SecondLevelKey]"
        )
        names = [
            self._string(self.resolve(p, owner, line, path), "a Fn::FindInMap key", owner, line) for p in parts[:3]
        ]
        default: Any = NO_VALUE
        if len(parts) == 4:
            options = parts[3]
            if not isinstance(options, dict) or "DefaultValue" not in options:
                raise self.where(owner, line).error("Fn::FindInMap's fourth argument must be {DefaultValue: value}")
            default = options["DefaultValue"]
        level: Any = self.mappings
        for depth, key in enumerate(names):
            if not isinstance(level, dict) or key not in level:
                if default is not NO_VALUE:
                    return self.resolve(default, owner, line, path)
                known = list(level) if isinstance(level, dict) else []
                raise self.where(owner, line).error(
                    f"Template error: Unable to get mapping for {'::'.join(names)}",
                    hint=f"{['mapping', 'top-level key', 'second-level key'][depth]} {key!r} is not defined"
                    + (f"; {h}" if (h := did_you_mean(key, known)) else ""),
                )
            level = level[key]
        return self.resolve(level, owner, line, path)

    def cidr(self, arg: Any, owner: str | None, line: int | None, path: str) -> list[str]:
        where = self.where(owner, line)
        block, count, bits = self._args(arg, "Fn::Cidr", 3, owner, line, '!Cidr ["10.0.0.0/16", 4, 8]')
        block_text = self._string(self.resolve(block, owner, line, path), "Fn::Cidr ipBlock", owner, line)
        count_text = self._string(self.resolve(count, owner, line, path), "Fn::Cidr count", owner, line)
        bits_text = self._string(self.resolve(bits, owner, line, path), "Fn::Cidr cidrBits", owner, line)
        try:
            network = ipaddress.ip_network(block_text.strip(), strict=False)
            n, b = int(count_text), int(bits_text)
        except ValueError as e:
            raise where.error(f"Template error: Fn::Cidr: {e}") from None
        if not 1 <= n <= 256:
            raise where.error("Template error: Fn::Cidr count must be from 1 to 256")
        prefix = network.max_prefixlen - b
        if b < 1 or prefix < network.prefixlen:
            raise where.error(
                f"Template error: Fn::Cidr cidrBits {b} does not fit in {network} "
                f"(subnets must be /{network.prefixlen} or smaller)"
            )
        subnets = [str(s) for s in itertools.islice(network.subnets(new_prefix=prefix), n)]
        if len(subnets) < n:
            raise where.error(f"Template error: Fn::Cidr: {network} has only {len(subnets)} subnets of /{prefix}")
        return subnets

    # -- resources ------------------------------------------------------------------------------

    def deploy(self) -> None:
        topics: dict[str, tuple[str, list[model.Subscription]]] = {}
        rules: list[str] = []
        subscriptions: list[str] = []
        metric_filters: list[str] = []
        alarms: list[str] = []
        for lid, res in self.resources.items():
            rtype = res["Type"]
            if rtype not in _MODELLED or not self.resource_exists(lid):
                continue
            if rtype == "AWS::Logs::LogGroup":
                phys = self.physical(lid, None, lid)
                check_log_group_name(phys.name, Props(self.properties(lid), self.where(lid)))
            elif rtype == "AWS::Logs::MetricFilter":
                metric_filters.append(lid)
            elif rtype == "AWS::CloudWatch::Alarm":
                alarms.append(lid)
            elif rtype == "AWS::Events::EventBus":
                name = self.physical(lid, None, lid).name
                self.deployment.buses.append(model.Bus(name, self.region, self.account, self.where(lid).location()))
            elif rtype == "AWS::SNS::Topic":
                topics[lid] = (self.physical(lid, None, lid).name, self.inline_subscriptions(lid))
            elif rtype == "AWS::Events::Rule":
                rules.append(lid)
            else:
                subscriptions.append(lid)
        external: dict[str, list[model.Subscription]] = {}
        by_arn = {self.physical(lid, None, lid).ref: lid for lid in topics}
        for lid in subscriptions:
            topic_arn, sub = self.subscription(lid)
            if topic_arn in by_arn:
                topics[by_arn[topic_arn]][1].append(sub)
            else:
                self.deployment.warnings.append(
                    self.where(lid).warning(
                        f"subscription to topic {topic_arn}, which this template does not define: "
                        "the topic is added as defined here"
                    )
                )
                external.setdefault(topic_arn, []).append(sub)
        for lid, (name, subs) in topics.items():
            display = self.prop(lid, "DisplayName")
            self.deployment.topics.append(
                model.Topic(
                    name=name,
                    region=self.region,
                    account=self.account,
                    subscriptions=tuple(subs),
                    display_name="" if display is None else text_of(display, "DisplayName", self.where(lid)),
                    logical_id=lid,
                    location=self.where(lid).location(),
                )
            )
        for arn, subs in external.items():
            parts = arn.split(":")
            if len(parts) != 6 or parts[2] != "sns":
                raise self.where(None).error(f"TopicArn {arn!r} is not an SNS topic ARN")
            self.deployment.topics.append(model.Topic(parts[5], parts[3], parts[4], tuple(subs)))
        self.deployment.rules.extend(
            self.unique(
                rules,
                self.rule,
                lambda r: r.key,
                lambda r: f"rule {r.name!r} already exists on bus {r.bus!r} in {r.region}",
                "give each rule its own Name",
            )
        )
        self.deployment.metric_filters.extend(
            self.unique(
                metric_filters,
                self.metric_filter,
                lambda f: f.key,
                lambda f: f"metric filter {f.name!r} already exists on log group {f.log_group!r} in {self.region}",
                "give each metric filter of a log group its own FilterName",
            )
        )
        self.deployment.alarms.extend(
            self.unique(
                alarms,
                self.alarm,
                lambda a: a.name,
                lambda a: f"alarm {a.name!r} already exists in {self.region}",
                "give each alarm its own AlarmName",
            )
        )

    def unique(
        self,
        lids: Iterable[str],
        build: Callable[[str], _T | None],
        key: Callable[[_T], str],
        clash: Callable[[_T], str],
        hint: str,
    ) -> list[_T]:
        """What ``build`` makes of each resource (``None``: nothing), refusing a second one with
        the same ``key`` as CloudFormation would: ``clash(item) (defined by <logical id>)``."""
        built: list[_T] = []
        seen: dict[str, str] = {}
        for lid in lids:
            item = build(lid)
            if item is None:
                continue
            k = key(item)
            if k in seen:
                raise self.where(lid).error(f"{clash(item)} (defined by {seen[k]})", hint=hint)
            seen[k] = lid
            built.append(item)
        return built

    def resolved_properties(self, lid: str, known: Sequence[str]) -> LineDict:
        """The properties of a resource with every intrinsic function resolved; an unknown
        property is an error (CloudFormation refuses it)."""
        props = self.properties(lid)
        rtype = self.resources[lid]["Type"]
        for key in props:
            if key not in known:
                raise self.where(lid).error(
                    f"Encountered unsupported property {key}",
                    line=props.line_of(key),
                    hint=did_you_mean(key, known) or f"{rtype} has {', '.join(known)}",
                )
        resolved = self.resolve(props, lid, props.line, "Properties")
        assert isinstance(resolved, LineDict)
        return resolved

    def metric_filter(self, lid: str) -> model.MetricFilter:
        where = self.where(lid)
        raw = self.properties(lid)
        props = Props(self.resolved_properties(lid, METRIC_FILTER_PROPERTIES), where)
        name = self.physical(lid, None, lid).name
        transformation = single_transformation(props)
        for key in transformation:
            if key not in TRANSFORMATION_PROPERTIES:
                raise where.error(
                    f"Encountered unsupported property {key} in MetricTransformations",
                    line=transformation.line_of(key),
                    hint=did_you_mean(key, TRANSFORMATION_PROPERTIES)
                    or f"a metric transformation has {', '.join(TRANSFORMATION_PROPERTIES)}",
                )
        if props.boolean("ApplyOnTransformedLogs"):
            self.deployment.warnings.append(
                where.warning(
                    "ApplyOnTransformedLogs is not applied: the filter reads the CloudTrail records as delivered",
                    line=props.line("ApplyOnTransformedLogs"),
                )
            )
        for key in ("EmitSystemFieldDimensions", "FieldSelectionCriteria"):
            if props.get(key) is not None:
                self.deployment.warnings.append(where.warning(f"{key} is not modelled (ignored)", line=props.line(key)))
        pattern_value = props.get("FilterPattern")
        if isinstance(pattern_value, str):
            self._literal_variables_warning(
                raw.get("FilterPattern"), where, props.line("FilterPattern"), "FilterPattern"
            )
        return build_metric_filter(
            props,
            Props(
                transformation,
                where.at(transformation.line),
                {k: f"MetricTransformations[0].{k}" for k in TRANSFORMATION_PROPERTIES},
            ),
            name=name,
            region=self.region,
            account=self.account,
            block_line=_block_first_line(raw.get("FilterPattern"), pattern_value)
            if isinstance(pattern_value, str)
            else None,
        )

    def alarm(self, lid: str) -> model.Alarm | None:
        where = self.where(lid)
        props = Props(self.resolved_properties(lid, ALARM_PROPERTIES), where)
        name = self.physical(lid, None, lid).name
        reason = alarm_unsupported(props)
        if reason is not None:
            if not any(u.logical_id == lid for u in self.deployment.unsupported):
                self.deployment.unsupported.append(model.Unsupported(lid, "AWS::CloudWatch::Alarm", where.location()))
                self.deployment.warnings.append(where.warning(f"alarm {name!r} is not simulated: {reason}"))
            return None
        return build_alarm(props, name=name, region=self.region, account=self.account)

    def inline_subscriptions(self, lid: str) -> list[model.Subscription]:
        value = self.prop(lid, "Subscription")
        if value is None:
            return []
        line = self.properties(lid).line_of("Subscription")
        out = []
        for i, item in enumerate(self._list(value, "Subscription", lid, line)):
            item_line = value.line_of(i) if isinstance(value, LineList) else line
            if not isinstance(item, dict):
                raise self.where(lid, item_line).error(
                    f"a Subscription entry must be a mapping, found {type_name(item)}"
                )
            protocol = self._protocol(item.get("Protocol"), lid, item_line)
            if item.get("Endpoint") is None:
                raise self.where(lid, item_line).error("a Subscription entry needs an Endpoint")
            endpoint = text_of(item["Endpoint"], "Endpoint", self.where(lid, item_line))
            out.append(model.Subscription(protocol, endpoint))
        return out

    def _protocol(self, value: Any, lid: str, line: int | None) -> str:
        if value is None:
            raise self.where(lid, line).error(
                "a subscription needs a Protocol", hint=f"one of {', '.join(SNS_PROTOCOLS)}"
            )
        protocol = text_of(value, "Protocol", self.where(lid, line))
        if protocol not in SNS_PROTOCOLS:
            raise self.where(lid, line).error(
                f"Invalid parameter: Protocol {protocol!r}",
                hint=did_you_mean(protocol, SNS_PROTOCOLS) or f"one of {', '.join(SNS_PROTOCOLS)}",
            )
        return protocol

    def subscription(self, lid: str) -> tuple[str, model.Subscription]:
        props = self.properties(lid)
        where = self.where(lid)
        topic = self.prop(lid, "TopicArn")
        if topic is None:
            raise where.error("AWS::SNS::Subscription needs a TopicArn", hint="TopicArn: !Ref MyTopic")
        topic_arn = text_of(topic, "TopicArn", where.at(props.line_of("TopicArn")))
        protocol = self._protocol(self.prop(lid, "Protocol"), lid, props.line_of("Protocol"))
        endpoint_value = self.prop(lid, "Endpoint")
        endpoint = (
            "" if endpoint_value is None else text_of(endpoint_value, "Endpoint", where.at(props.line_of("Endpoint")))
        )
        raw = self.prop(lid, "RawMessageDelivery")
        raw_delivery = raw is not None and text_of(raw, "RawMessageDelivery", where).lower() == "true"
        if self.prop(lid, "FilterPolicy") is not None:
            self.deployment.warnings.append(
                where.warning(
                    "FilterPolicy is not applied: every message published to the topic reaches this subscription",
                    line=props.line_of("FilterPolicy"),
                )
            )
        return topic_arn, model.Subscription(protocol, endpoint, raw_delivery)

    def rule(self, lid: str) -> model.Rule | None:
        where = self.where(lid)
        props = self.properties(lid)
        for key in props:
            if key not in RULE_PROPERTIES:
                raise where.error(
                    f"Encountered unsupported property {key}",
                    line=props.line_of(key),
                    hint=did_you_mean(key, RULE_PROPERTIES) or f"AWS::Events::Rule has {', '.join(RULE_PROPERTIES)}",
                )
        phys = self.physical(lid, None, lid)
        name = check_rule_name(phys.name, where, line=props.line_of("Name"))
        bus = self.bus_name(lid)
        state_value = self.prop(lid, "State")
        state = "ENABLED" if state_value is None else check_state(state_value, where, line=props.line_of("State"))
        description_value = self.prop(lid, "Description")
        description = "" if description_value is None else text_of(description_value, "Description", where)
        if len(description) > 512:
            raise where.error("Description must be at most 512 characters", line=props.line_of("Description"))
        schedule = self.prop(lid, "ScheduleExpression")
        pattern_value = self.prop(lid, "EventPattern")
        pattern_line = props.line_of("EventPattern")
        if pattern_value is None:
            if schedule is not None:
                self.deployment.warnings.append(
                    where.warning(
                        f"rule {name!r} is scheduled ({schedule}) and has no EventPattern: "
                        "skipped, scheduled rules are not replayed"
                    )
                )
                return None
            raise where.error(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.", hint="add an EventPattern"
            )
        if isinstance(pattern_value, dict):
            pattern = dump_json(pattern_value)
        elif isinstance(pattern_value, str):
            pattern = str(pattern_value)
            self._literal_variables_warning(props.get("EventPattern"), where, pattern_line, "EventPattern")
        else:
            raise where.error(
                f"EventPattern must be a JSON object or JSON text, found {type_name(pattern_value)}", line=pattern_line
            )
        block_line = _block_first_line(props.get("EventPattern"), pattern)
        self.deployment.warnings.extend(
            self.validator.check(pattern, where, line=pattern_line, rule=name, block_line=block_line)
        )
        if schedule is not None:
            self.deployment.warnings.append(
                where.warning(f"rule {name!r} also has a ScheduleExpression; only its EventPattern is replayed")
            )
        targets: list[model.Target] = []
        targets_value = self.prop(lid, "Targets")
        targets_line = props.line_of("Targets")
        if targets_value is not None:
            seen: dict[str, int | None] = {}
            for i, spec in enumerate(self._list(targets_value, "Targets", lid, targets_line)):
                line = targets_value.line_of(i) if isinstance(targets_value, LineList) else targets_line
                target = build_target(
                    spec,
                    where.at(line),
                    strict_keys=True,
                    input_hint='Input is JSON text: quote it (Input: \'{"key": "value"}\') or build it with !Sub or '
                    "Fn::ToJsonString",
                )
                owner = self.owner_of(target.arn)
                if owner is not None:
                    target = _with_logical_id(target, owner)
                if target.id in seen:
                    raise where.error(
                        f"target Id {target.id!r} is used twice in rule {name!r} (first at line {seen[target.id]})",
                        line=line,
                    )
                seen[target.id] = line
                targets.append(target)
        if not targets:
            self.deployment.warnings.append(
                where.warning(f"rule {name!r} has no targets: matches are counted, nothing is delivered")
            )
        if len(targets) > MAX_TARGETS:
            self.deployment.warnings.append(
                where.warning(
                    f"rule {name!r} has {len(targets)} targets; EventBridge allows {MAX_TARGETS} per rule (a quota)",
                    line=targets_line,
                )
            )
        return model.Rule(
            name=name,
            region=self.region,
            account=self.account,
            event_pattern=pattern,
            bus=bus,
            state=state,
            targets=tuple(targets),
            description=description,
            location=where.location(),
        )

    def _literal_variables_warning(self, raw: Any, where: Where, line: int | None, what: str) -> None:
        """A pattern text written without !Sub but with ${Name} of a parameter keeps it literally."""
        if not isinstance(raw, str):
            return
        for name in _SUB_VARIABLE.findall(raw):
            if name.strip() in self.parameters or name.strip() in self.resources or name.strip() in self.pseudo:
                self.deployment.warnings.append(
                    where.warning(
                        f"{what} contains ${{{name}}} but is not inside !Sub: it is matched literally "
                        f"(write `{what}: !Sub |` to substitute it)",
                        line=line,
                    )
                )


def _unresolved(name: str) -> str:
    return f"Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template"


def _with_logical_id(target: model.Target, lid: str) -> model.Target:
    from dataclasses import replace

    return replace(target, logical_id=lid)


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return getattr(value, "text", str(value))
    return value


def _block_first_line(raw: Any, resolved: str) -> int | None:
    """The file line of a literal block scalar's first text line (``|``), if the pattern is one
    and substitution kept its lines."""
    text = raw
    if isinstance(raw, dict) and len(raw) == 1 and "Fn::Sub" in raw:
        text = raw["Fn::Sub"]
    first = getattr(text, "first_line", None)
    if isinstance(text, str) and isinstance(first, int) and text.count("\n") == resolved.count("\n"):
        return first
    return None
