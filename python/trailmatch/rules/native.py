"""trailmatch's own rules format (YAML or JSON), documented in ``docs/RULES.md`` and described
by ``docs/rules.schema.json``.

Keys are snake_case. A file may hold rules, the buses and SNS topics they use, CloudWatch Logs
metric filters and CloudWatch alarms, bindings of targets and alarm actions to destinations
(``destinations:``), and ``settings:`` for the destinations; a file with only ``destinations``
and ``settings`` binds the targets of rules loaded from other files (CloudFormation templates,
AWS CLI output). ``metadata:`` is free-form and not interpreted (rule packs keep their title
and sources there).

Regions: a rule, topic, bus, metric filter or alarm with its own ``region``/``regions`` is
deployed there; any other is deployed in the regions given to the loader (``--region``, or
``FILE@REGION``), else in the file's ``regions``, else in us-east-1. The account is the
loader's, else the file's ``account``, else :data:`trailmatch.model.DEFAULT_ACCOUNT`.

Example:
    >>> from trailmatch.rules.positions import load_yaml_documents
    >>> text = '''
    ... account: "111122223333"
    ... topics:
    ...   - name: alerts
    ...     subscriptions: [{protocol: email, endpoint: sec@example.com}]
    ... rules:
    ...   - name: iam-changes
    ...     event_pattern: {source: [aws.iam]}
    ...     targets: [{topic: alerts}]
    ... destinations:
    ...   - match: "arn:aws:sns:*:*:alerts"
    ...     type: slack
    ...     url_env: SLACK_WEBHOOK_URL
    ... '''
    >>> docs, _ = load_yaml_documents(text, "rules.yaml")
    >>> d = load_native(docs[0], file="rules.yaml", regions=None, account=None)
    >>> d.rules[0].targets[0].arn
    'arn:aws:sns:us-east-1:111122223333:alerts'
    >>> b = d.bindings[0]
    >>> b.match, b.destination.type, b.destination.options, b.location.line
    ('arn:aws:sns:*:*:alerts', 'slack', {'url_env': 'SLACK_WEBHOOK_URL'}, 11)

A metric filter on CloudTrail's log group and its alarm:

    >>> text = '''
    ... account: "111122223333"
    ... topics: [{name: alerts}]
    ... metric_filters:
    ...   - name: root-usage
    ...     filter_pattern: '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }'
    ...     metric: {name: RootUsage, namespace: CISBenchmark}
    ... alarms:
    ...   - name: root-usage
    ...     metric_name: RootUsage
    ...     namespace: CISBenchmark
    ...     statistic: Sum
    ...     period: 300
    ...     evaluation_periods: 1
    ...     threshold: 1
    ...     comparison_operator: GreaterThanOrEqualToThreshold
    ...     actions: {alarm: [{topic: alerts}]}
    ... '''
    >>> docs, _ = load_yaml_documents(text, "cis.yaml")
    >>> d = load_native(docs[0], file="cis.yaml", regions=None, account=None)
    >>> f = d.metric_filters[0]
    >>> f.log_group, f.transformation.metric_value
    ('aws-cloudtrail-logs-111122223333', '1')
    >>> d.alarms[0].alarm_actions
    ('arn:aws:sns:us-east-1:111122223333:alerts',)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from trailmatch import model
from trailmatch.rules.cloudformation import partition_of
from trailmatch.rules.cloudwatch import (
    COMPARISON_OPERATORS,
    Props,
    alarm_unsupported,
    build_alarm,
    build_metric_filter,
    canonical,
    default_log_group,
)
from trailmatch.rules.common import (
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
from trailmatch.rules.positions import FloatText, IntText, LineDict, LineList, dump_json

__all__ = ["DESTINATION_TYPES", "NATIVE_KEYS", "is_native", "load_native", "plain"]

NATIVE_KEYS = (
    "version",
    "metadata",
    "account",
    "regions",
    "buses",
    "topics",
    "rules",
    "metric_filters",
    "alarms",
    "destinations",
    "settings",
)
DESTINATION_TYPES = ("stdout", "file", "webhook", "slack", "sns", "email")
SNS_PROTOCOLS = ("http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REGION = re.compile(r"[a-z]{2,}(-[a-z]+)+-[0-9]+")
_ACCOUNT = re.compile(r"[0-9]{12}")
_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")
#: Option names that would put a secret in the file; each has an ``_env`` form.
_SECRET_KEYS = ("password", "secret", "token", "api_key", "apikey", "authorization", "webhook_url")
#: Headers whose value is a credential: only their ``<name>_env`` form is accepted.
_SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "cookie")

# Option name → (kind, required, secret). Every option X may instead (or also, as an override)
# be given as X_env, the name of an environment variable holding the value; a secret only so.
# Kinds: str, bool, number, port, region, method, strs (a string or a list), headers.
_Options = dict[str, tuple[str, bool, bool]]
_SMTP: _Options = {
    "host": ("str", False, False),
    "port": ("port", False, False),
    "username": ("str", False, False),
    "password": ("str", False, True),
    "from": ("str", False, False),
    "starttls": ("bool", False, False),
    "ssl": ("bool", False, False),
    "timeout": ("number", False, False),
}
_DESTINATION_OPTIONS: dict[str, _Options] = {
    "stdout": {"prefix": ("bool", False, False)},
    "file": {"path": ("str", True, False)},
    "webhook": {
        "url": ("str", True, False),
        "method": ("method", False, False),
        "headers": ("headers", False, False),
        "timeout": ("number", False, False),
    },
    "slack": {
        "url": ("str", True, True),
        "channel": ("str", False, False),
        "username": ("str", False, False),
        "icon_emoji": ("str", False, False),
        "icon_url": ("str", False, False),
        "timeout": ("number", False, False),
    },
    "sns": {
        "topic_arn": ("str", False, False),
        "region": ("region", False, False),
        "endpoint_url": ("str", False, False),
        "subject": ("str", False, False),
        "timeout": ("number", False, False),
    },
    "email": {
        "to": ("strs", False, False),
        "subject": ("str", False, False),
        "display_name": ("str", False, False),
        **_SMTP,
    },
}
_SETTINGS: dict[str, _Options] = {
    "smtp": _SMTP,
    "sns": {"endpoint_url": ("str", False, False), "region": ("region", False, False)},
}
_TARGET_KEYS = (
    "id",
    "arn",
    "topic",
    "role_arn",
    "input",
    "input_path",
    "input_transformer",
    "retry_policy",
    "dead_letter_config",
    "destination",
)


#: Native key → CloudFormation property, for metric filters, their ``metric`` and alarms.
_FILTER_KEYS = {"filter_pattern": "FilterPattern", "log_group": "LogGroupName"}
_METRIC_KEYS = {
    "name": "MetricName",
    "namespace": "MetricNamespace",
    "value": "MetricValue",
    "default_value": "DefaultValue",
    "dimensions": "Dimensions",
    "unit": "Unit",
}
_ALARM_KEYS = {
    "description": "AlarmDescription",
    "metric_name": "MetricName",
    "namespace": "Namespace",
    "statistic": "Statistic",
    "period": "Period",
    "evaluation_periods": "EvaluationPeriods",
    "datapoints_to_alarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparison_operator": "ComparisonOperator",
    "treat_missing_data": "TreatMissingData",
    "dimensions": "Dimensions",
    "unit": "Unit",
    "actions_enabled": "ActionsEnabled",
}
_ACTION_KEYS = {"alarm": "AlarmActions", "ok": "OKActions", "insufficient_data": "InsufficientDataActions"}
_ALARM_REQUIRED = (
    "name",
    "metric_name",
    "namespace",
    "statistic",
    "period",
    "evaluation_periods",
    "threshold",
    "comparison_operator",
)


def is_native(doc: Any) -> bool:
    """Whether ``doc`` is a native rules document: a mapping with at least one of the native
    sections and nothing of a CloudFormation template.

    Example:
        >>> is_native({"rules": []}), is_native({"destinations": []}), is_native({"Rules": []})
        (True, True, False)
    """
    return isinstance(doc, dict) and any(k in doc for k in NATIVE_KEYS) and "Resources" not in doc


def plain(value: Any) -> Any:
    """``value`` with positions dropped: plain dicts, lists, ints and floats.

    Example:
        >>> plain(LineDict(3)) == {}, type(plain(IntText(5, "5")))
        (True, <class 'int'>)
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, IntText):
        return int(value)
    if isinstance(value, FloatText):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _Reader:
    """Structural checks with ``file:line``, the key path, and what was expected."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(
        self, path: str, message: str, line: int | None, hint: str | None = None, name: str | None = None
    ) -> RulesError:
        return RulesError(f"{path}: {message}", file=self.file, line=line, hint=hint, name=name, path=path)

    def expected(self, path: str, what: str, value: Any, line: int | None, name: str | None = None) -> RulesError:
        return self.error(path, f"expected {what}, found {type_name(value)}", line, name=name)

    def mapping(self, value: Any, path: str, line: int | None, name: str | None = None) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.expected(path, "a mapping", value, line, name)
        return value

    def sequence(self, value: Any, path: str, line: int | None, name: str | None = None) -> LineList:
        if not isinstance(value, LineList):
            raise self.expected(path, "a list", value, line, name)
        return value

    def keys(
        self,
        node: LineDict,
        path: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        for key in node:
            if key in allowed:
                continue
            hint = did_you_mean(key, allowed)
            if _snake(key) in allowed:
                hint = f"native rules files use snake_case keys: write {_snake(key)!r}"
            elif key.lower() in _SECRET_KEYS or key in _SECRET_KEYS:
                hint = f"secrets are read from the environment: write {key}_env: VARIABLE_NAME"
            raise self.error(
                f"{path}.{key}" if path else key,
                f"unknown key (expected one of {', '.join(allowed)})",
                node.line_of(key),
                hint,
                name,
            )
        for key in required:
            if key not in node or node[key] is None:
                raise self.error(path or "(top level)", f"missing required key {key!r}", node.line, name=name)

    def string(self, node: LineDict, key: str, path: str, name: str | None = None) -> str:
        value = node[key]
        if isinstance(value, (dict, list)) or value is None:
            raise self.expected(f"{path}.{key}", "a string", value, node.line_of(key), name)
        return text_of(value, f"{path}.{key}", Where(self.file, node.line_of(key), name))

    def option(self, kind: str, value: Any, path: str, line: int | None, name: str | None = None) -> Any:
        """A checked option value of the given kind (see ``_DESTINATION_OPTIONS``), as plain data."""
        if kind in ("str", "method", "region"):
            if isinstance(value, (dict, list, bool)) or value is None:
                raise self.expected(path, "a string", value, line, name)
            text = text_of(value, path, Where(self.file, line, name))
            if kind == "method" and text.upper() not in ("POST", "PUT", "PATCH"):
                raise self.error(path, f"expected POST, PUT or PATCH, found {text!r}", line, name=name)
            if kind == "region" and not _REGION.fullmatch(text):
                raise self.error(path, f"{text!r} is not a region name", line, "e.g. us-east-1", name)
            return text.upper() if kind == "method" else text
        if kind == "env":
            if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
                raise self.error(
                    path,
                    f"expected the name of an environment variable, found {type_name(value)}",
                    line,
                    "name the variable that holds the value (e.g. SLACK_WEBHOOK_URL), not the value itself",
                    name,
                )
            return str(value)
        if kind == "port":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.expected(path, "an integer", value, line, name)
            if not 1 <= value <= 65535:
                raise self.error(path, f"expected a port from 1 to 65535, found {value}", line, name=name)
            return int(value)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise self.expected(path, "a positive number", value, line, name)
            return plain(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.expected(path, "true or false", value, line, name)
            return value
        if kind == "strs":
            items = value if isinstance(value, list) else [value]
            out = []
            for i, item in enumerate(items):
                if not isinstance(item, str):
                    where = f"{path}[{i}]" if isinstance(value, list) else path
                    raise self.expected(where, "a string", item, line, name)
                out.append(str(item))
            return out if isinstance(value, list) else out[0]
        raise AssertionError(kind)

    def regions(self, value: Any, path: str, line: int | None, name: str | None = None) -> list[str]:
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            item_line = value.line_of(i) if isinstance(value, LineList) else line
            if not isinstance(item, str) or not _REGION.fullmatch(item):
                shown = repr(item) if isinstance(item, str) else type_name(item)
                raise self.error(path, f"expected a region name like us-east-1, found {shown}", item_line, name=name)
            out.append(str(item))
        if not out:
            raise self.error(path, "expected at least one region", line, name=name)
        return out


def _substitute(
    text: str, region: str, account: str, reader: _Reader, path: str, line: int | None, name: str | None
) -> str:
    partition, _ = partition_of(region)
    values = {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition}

    def replace(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        if key not in values:
            raise reader.error(
                path,
                f"unknown variable ${{{m.group(1)}}}",
                line,
                "ARNs may use ${AWS::Region}, ${AWS::AccountId} and ${AWS::Partition}",
                name,
            )
        return values[key]

    return _SUBSTITUTION.sub(replace, text)


def load_native(
    doc: Any,
    *,
    file: str,
    regions: Sequence[str] | None,
    account: str | None,
    validator: PatternValidator | None = None,
) -> model.Deployment:
    """A :class:`~trailmatch.model.Deployment` from a native rules document.

    ``regions`` and ``account`` are the caller's (command line) values, or ``None`` when not
    given: then the file's ``regions``/``account`` apply.

    Raises:
        RulesError: the document does not have the native structure (the message names the key
            path, what was expected and what was found), or a rule would be refused by AWS.
    """
    r = _Reader(file)
    validator = validator or PatternValidator()
    top = r.mapping(doc, "(top level)", getattr(doc, "line", None))
    r.keys(top, "", NATIVE_KEYS)
    if "version" in top and top["version"] not in (1, "1"):
        raise r.error("version", f"expected 1, found {type_name(top['version'])}", top.line_of("version"))
    file_account = model.DEFAULT_ACCOUNT
    if top.get("account") is not None:
        value = top["account"]
        text = getattr(value, "text", value)
        if not isinstance(text, str) or not _ACCOUNT.fullmatch(text):
            raise r.error(
                "account",
                f"expected a 12-digit account id, found {type_name(value)}",
                top.line_of("account"),
                'quote it ("012345678901") so that leading zeros are kept',
            )
        file_account = text
    default_account = account or file_account
    default_regions = list(regions) if regions else ["us-east-1"]
    if not regions and top.get("regions") is not None:
        default_regions = r.regions(top["regions"], "regions", top.line_of("regions"))
    deployment = model.Deployment()

    def placed(node: LineDict, path: str, name: str | None) -> list[str]:
        if "region" in node and "regions" in node:
            raise r.error(path, "give either region or regions, not both", node.line_of("regions"), name=name)
        for key in ("region", "regions"):
            if node.get(key) is not None:
                return r.regions(node[key], f"{path}.{key}", node.line_of(key), name)
        return default_regions

    buses: set[tuple[str, str]] = set()
    for _, node, path in _items(r, top, "buses"):
        r.keys(node, path, ("name", "region", "regions"), ("name",))
        name = r.string(node, "name", path)
        if name == model.DEFAULT_BUS:
            raise r.error(
                f"{path}.name", "the default bus exists in every region; list only custom buses", node.line_of("name")
            )
        for region in placed(node, path, name):
            if (region, name) in buses:
                raise r.error(path, f"bus {name!r} is defined twice in {region}", node.line, name=name)
            buses.add((region, name))
            deployment.buses.append(model.Bus(name, region, default_account, model.Location(file, node.line, name)))

    topics: dict[tuple[str, str], model.Topic] = {}
    for _, node, path in _items(r, top, "topics"):
        r.keys(node, path, ("name", "region", "regions", "display_name", "subscriptions"), ("name",))
        name = r.string(node, "name", path)
        display = r.string(node, "display_name", path, name) if node.get("display_name") is not None else ""
        for region in placed(node, path, name):
            subs = []
            for _, sub, sub_path in _items(r, node, "subscriptions", path, name):
                r.keys(sub, sub_path, ("protocol", "endpoint", "raw_message_delivery"), ("protocol", "endpoint"), name)
                protocol = r.string(sub, "protocol", sub_path, name)
                if protocol not in SNS_PROTOCOLS:
                    raise r.error(
                        f"{sub_path}.protocol",
                        f"expected one of {', '.join(SNS_PROTOCOLS)}, found {protocol!r}",
                        sub.line_of("protocol"),
                        did_you_mean(protocol, SNS_PROTOCOLS),
                        name,
                    )
                endpoint = _substitute(
                    r.string(sub, "endpoint", sub_path, name),
                    region,
                    default_account,
                    r,
                    f"{sub_path}.endpoint",
                    sub.line_of("endpoint"),
                    name,
                )
                raw = False
                if sub.get("raw_message_delivery") is not None:
                    raw = r.option(
                        "bool",
                        sub["raw_message_delivery"],
                        f"{sub_path}.raw_message_delivery",
                        sub.line_of("raw_message_delivery"),
                        name,
                    )
                subs.append(model.Subscription(protocol, endpoint, raw))
            if (region, name) in topics:
                raise r.error(path, f"topic {name!r} is defined twice in {region}", node.line, name=name)
            topic = model.Topic(
                name=name,
                region=region,
                account=default_account,
                subscriptions=tuple(subs),
                display_name=display,
                location=model.Location(file, node.line, name),
            )
            topics[(region, name)] = topic
            deployment.topics.append(topic)

    keys: dict[str, int | None] = {}
    for _, node, path in _items(r, top, "rules"):
        r.keys(
            node,
            path,
            ("name", "description", "region", "regions", "bus", "state", "event_pattern", "targets"),
            ("name",),
        )
        name = r.string(node, "name", path)
        where = Where(file, node.line, name)
        check_rule_name(name, where, line=node.line_of("name"))
        if "event_pattern" not in node or node["event_pattern"] is None:
            raise r.error(path, "missing required key 'event_pattern'", node.line, name=name)
        raw_pattern = node["event_pattern"]
        if isinstance(raw_pattern, dict):
            pattern = dump_json(raw_pattern)
        elif isinstance(raw_pattern, str):
            pattern = str(raw_pattern)
        else:
            raise r.expected(
                f"{path}.event_pattern", "a mapping or JSON text", raw_pattern, node.line_of("event_pattern"), name
            )
        pattern_line = node.line_of("event_pattern")
        deployment.warnings.extend(
            validator.check(
                pattern, where, line=pattern_line, rule=name, block_line=getattr(raw_pattern, "first_line", None)
            )
        )
        state = "ENABLED"
        if node.get("state") is not None:
            state = check_state(node["state"], where, line=node.line_of("state"))
        bus = r.string(node, "bus", path, name) if node.get("bus") is not None else model.DEFAULT_BUS
        if bus.startswith("arn:"):
            bus = bus.split("event-bus/", 1)[-1]
        description = r.string(node, "description", path, name) if node.get("description") is not None else ""
        if len(description) > 512:
            raise r.error(
                f"{path}.description", "expected at most 512 characters", node.line_of("description"), name=name
            )
        rule_regions = placed(node, path, name)
        target_nodes = list(_items(r, node, "targets", path, name))
        for region in rule_regions:
            if bus != model.DEFAULT_BUS and buses and (region, bus) not in buses:
                deployment.warnings.append(
                    where.warning(f"rule {name!r} is on bus {bus!r}, which this file does not define in {region}")
                )
            targets = []
            seen: set[str] = set()
            for i, target_node, target_path in target_nodes:
                target = _target(r, target_node, target_path, i, region, default_account, topics, name)
                if target.id in seen:
                    raise r.error(
                        f"{target_path}.id",
                        f"target id {target.id!r} is used twice in rule {name!r}",
                        target_node.line,
                        name=name,
                    )
                seen.add(target.id)
                targets.append(target)
            rule = model.Rule(
                name=name,
                region=region,
                account=default_account,
                event_pattern=pattern,
                bus=bus,
                state=state,
                targets=tuple(targets),
                description=description,
                location=model.Location(file, node.line, name),
            )
            if rule.key in keys:
                raise r.error(
                    path,
                    f"rule {name!r} is defined twice on bus {bus!r} in {region} (first at line {keys[rule.key]})",
                    node.line,
                    name=name,
                )
            keys[rule.key] = node.line
            if not targets:
                deployment.warnings.append(
                    where.warning(f"rule {name!r} has no targets: matches are counted, nothing is delivered")
                )
            deployment.rules.append(rule)

    _metric_filters(r, top, placed, default_account, deployment)
    _alarms(r, top, placed, default_account, topics, deployment)

    for _, node, path in _items(r, top, "destinations"):
        match = node.get("match")
        patterns = match if isinstance(match, list) else [match]
        if match is None or not patterns or not all(isinstance(p, str) and p for p in patterns):
            raise r.error(
                f"{path}.match",
                "expected a glob (or a list of globs) matching target ARNs or logical ids",
                node.line_of("match"),
                'e.g. match: "arn:aws:sns:*:*:alerts" or match: SNSTopic',
            )
        spec = _destination(r, node, path, extra=("match",))
        for p in patterns:
            deployment.bindings.append(model.Binding(str(p), spec, model.Location(file, node.line, str(p))))

    if top.get("settings") is not None:
        settings = r.mapping(top["settings"], "settings", top.line_of("settings"))
        for section, body in settings.items():
            line = settings.line_of(section)
            if section not in _SETTINGS:
                deployment.warnings.append(
                    f"{file}:{line}: settings.{section} is not a section trailmatch knows "
                    f"({', '.join(_SETTINGS)}); kept as is"
                )
                deployment.settings[section] = plain(body)
                continue
            body_map = r.mapping(body, f"settings.{section}", line)
            deployment.settings[section] = _options(r, body_map, f"settings.{section}", _SETTINGS[section], ())
            _check_tls(r, deployment.settings[section], f"settings.{section}", body_map.line)
    return deployment


def _metric_filters(
    r: _Reader,
    top: LineDict,
    placed: Callable[[LineDict, str, str | None], list[str]],
    account: str,
    deployment: model.Deployment,
) -> None:
    keys: dict[str, int | None] = {}
    for _, node, path in _items(r, top, "metric_filters"):
        r.keys(node, path, ("name", "region", "regions", "log_group", "filter_pattern", "metric"), ("name",))
        name = r.string(node, "name", path)
        if "filter_pattern" not in node or node["filter_pattern"] is None:
            raise r.error(
                path,
                "missing required key 'filter_pattern'",
                node.line,
                "an empty pattern '' matches every log event",
                name,
            )
        if node.get("metric") is None:
            raise r.error(
                path, "missing required key 'metric'", node.line, "e.g. metric: {name: X, namespace: Y}", name
            )
        metric = r.mapping(node["metric"], f"{path}.metric", node.line_of("metric"), name)
        r.keys(metric, f"{path}.metric", tuple(_METRIC_KEYS), ("name", "namespace"), name)
        where = Where(r.file, node.line, name)
        spec, labels = canonical(node, _FILTER_KEYS, prefix=f"{path}.")
        t_spec, t_labels = canonical(metric, _METRIC_KEYS, prefix=f"{path}.metric.")
        if "MetricValue" not in t_spec:
            t_spec["MetricValue"] = "1"
        for region in placed(node, path, name):
            if "LogGroupName" in spec:
                group = r.string(node, "log_group", path, name)
                log_group = _substitute(group, region, account, r, f"{path}.log_group", node.line_of("log_group"), name)
                region_spec = spec.copy_position()
                region_spec.update(spec)
                region_spec["LogGroupName"] = log_group
            else:
                region_spec = spec
            metric_filter = build_metric_filter(
                Props(region_spec, where, labels, ": "),
                Props(t_spec, where.at(metric.line), t_labels, ": "),
                name=name,
                region=region,
                account=account,
                log_group=default_log_group(account),
                block_line=getattr(node["filter_pattern"], "first_line", None),
                mapping_dimensions=True,
            )
            if metric_filter.key in keys:
                raise r.error(
                    path,
                    f"metric filter {name!r} is defined twice on log group {metric_filter.log_group!r} in {region} "
                    f"(first at line {keys[metric_filter.key]})",
                    node.line,
                    name=name,
                )
            keys[metric_filter.key] = node.line
            deployment.metric_filters.append(metric_filter)


def _alarms(
    r: _Reader,
    top: LineDict,
    placed: Callable[[LineDict, str, str | None], list[str]],
    account: str,
    topics: dict[tuple[str, str], model.Topic],
    deployment: model.Deployment,
) -> None:
    keys: dict[tuple[str, str], int | None] = {}
    for _, node, path in _items(r, top, "alarms"):
        r.keys(node, path, ("name", "region", "regions", "actions", *_ALARM_KEYS), _ALARM_REQUIRED)
        name = r.string(node, "name", path)
        where = Where(r.file, node.line, name)
        spec, labels = canonical(node, _ALARM_KEYS, prefix=f"{path}.")
        actions: LineDict | None = None
        if node.get("actions") is not None:
            actions = r.mapping(node["actions"], f"{path}.actions", node.line_of("actions"), name)
            r.keys(actions, f"{path}.actions", tuple(_ACTION_KEYS), name=name)
        reason = alarm_unsupported(Props(spec, where, labels, ": "))
        if reason is not None:
            raise r.error(
                f"{path}.comparison_operator",
                f"alarm {name!r} cannot be simulated: {reason}",
                node.line_of("comparison_operator"),
                f"one of {', '.join(COMPARISON_OPERATORS)}",
                name,
            )
        for region in placed(node, path, name):
            region_spec = spec
            if actions is not None:
                region_spec = spec.copy_position()
                region_spec.update(spec)
                for key, cfn in _ACTION_KEYS.items():
                    if actions.get(key) is None:
                        continue
                    action_path = f"{path}.actions.{key}"
                    region_spec[cfn] = _action_arns(
                        r, actions[key], action_path, actions.line_of(key), region, account, topics, name
                    )
                    region_spec.key_lines[cfn] = actions.line_of(key) or 0
                    labels[cfn] = action_path
            alarm = build_alarm(
                Props(region_spec, where, labels, ": "),
                name=name,
                region=region,
                account=account,
                mapping_dimensions=True,
            )
            if (region, name) in keys:
                raise r.error(
                    path,
                    f"alarm {name!r} is defined twice in {region} (first at line {keys[(region, name)]})",
                    node.line,
                    name=name,
                )
            keys[(region, name)] = node.line
            deployment.alarms.append(alarm)


def _action_arns(
    r: _Reader,
    value: Any,
    path: str,
    line: int | None,
    region: str,
    account: str,
    topics: dict[tuple[str, str], model.Topic],
    alarm: str,
) -> LineList:
    """The ARNs of an alarm's action list: ARNs, ``{arn: ...}`` or ``{topic: NAME}`` of this file."""
    items = value if isinstance(value, list) else [value]
    out = LineList(line)
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]" if isinstance(value, list) else path
        item_line = value.line_of(i) if isinstance(value, LineList) else line
        if isinstance(item, dict):
            spec = r.mapping(item, item_path, item_line, alarm)
            r.keys(spec, item_path, ("arn", "topic"), name=alarm)
            if ("arn" in spec) == ("topic" in spec):
                raise r.error(
                    item_path,
                    "an action needs exactly one of arn and topic",
                    item_line,
                    "topic: NAME names a topic of this file; arn: any ARN",
                    alarm,
                )
            if "topic" in spec:
                topic_name = r.string(spec, "topic", item_path, alarm)
                topic = topics.get((region, topic_name))
                if topic is None:
                    here = sorted(n for (reg, n) in topics if reg == region)
                    raise r.error(
                        f"{item_path}.topic",
                        f"topic {topic_name!r} is not defined in this file for {region}",
                        spec.line_of("topic"),
                        did_you_mean(topic_name, here)
                        or "define it under topics: (in the same region as the alarm), or give an arn",
                        alarm,
                    )
                out.add(topic.arn, spec.line_of("topic"))
                continue
            arn = r.string(spec, "arn", item_path, alarm)
            item_line = spec.line_of("arn")
        elif isinstance(item, str):
            arn = str(item)
        else:
            raise r.expected(item_path, "an ARN or {topic: NAME}", item, item_line, alarm)
        out.add(_substitute(arn, region, account, r, item_path, item_line, alarm), item_line)
    return out


def _items(
    r: _Reader, node: LineDict, key: str, parent: str = "", name: str | None = None
) -> list[tuple[int, LineDict, str]]:
    """The mappings of the list ``node[key]`` with their paths (``rules[2]``)."""
    if node.get(key) is None:
        return []
    path = f"{parent}.{key}" if parent else key
    items = r.sequence(node[key], path, node.line_of(key), name)
    out = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        out.append((i, r.mapping(item, item_path, items.line_of(i), name), item_path))
    return out


def _options(
    r: _Reader, node: LineDict, path: str, spec: _Options, fixed: Sequence[str], name: str | None = None
) -> dict[str, Any]:
    """The checked options of ``node`` (a destination or a settings section) as plain data."""
    for key in node:
        base = key[: -len("_env")] if key.endswith("_env") else key
        if (base in spec and spec[base][2] and key == base) or key.lower() in _SECRET_KEYS:
            raise r.error(
                f"{path}.{key}",
                "secrets must not be written in rules files",
                node.line_of(key),
                f"name the environment variable that holds it: {key}_env: VARIABLE_NAME",
                name,
            )
    allowed = (*fixed, *(k for option in spec for k in (option, f"{option}_env")))
    r.keys(node, path, allowed, name=name)
    for option, (_, required, secret) in spec.items():
        if required and node.get(option) is None and node.get(f"{option}_env") is None:
            key = f"{option}_env" if secret else option
            raise r.error(path, f"missing required key {key!r}", node.line, name=name)
    values: dict[str, Any] = {}
    for key, value in node.items():
        if key in fixed:
            continue
        line = node.line_of(key)
        if key.endswith("_env") and key[: -len("_env")] in spec:
            values[key] = r.option("env", value, f"{path}.{key}", line, name)
        elif spec[key][0] == "headers":
            values[key] = _headers(r, value, f"{path}.{key}", line, name)
        else:
            values[key] = r.option(spec[key][0], value, f"{path}.{key}", line, name)
    return values


def _headers(r: _Reader, value: Any, path: str, line: int | None, name: str | None) -> dict[str, Any]:
    """Webhook headers: ``Name: value``, or from the environment as ``Name_env: VARIABLE`` or
    ``Name: {env: VARIABLE}``; credential headers only from the environment."""
    headers = r.mapping(value, path, line, name)
    out: dict[str, Any] = {}
    for header, v in headers.items():
        header_line = headers.line_of(header)
        if header.endswith("_env"):
            out[header] = r.option("env", v, f"{path}.{header}", header_line, name)
        elif isinstance(v, dict):
            env = r.mapping(v, f"{path}.{header}", header_line, name)
            r.keys(env, f"{path}.{header}", ("env",), ("env",), name)
            out[header] = {"env": r.option("env", env["env"], f"{path}.{header}.env", header_line, name)}
        elif header.lower() in _SECRET_HEADERS:
            raise r.error(
                f"{path}.{header}",
                "a credential header must not be written in the file",
                header_line,
                f"name the environment variable that holds it: {header}_env: VARIABLE_NAME",
                name,
            )
        else:
            out[header] = r.option("str", v, f"{path}.{header}", header_line, name)
    return out


def _destination(r: _Reader, node: LineDict, path: str, extra: Sequence[str] = ()) -> model.DestinationSpec:
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in DESTINATION_TYPES:
        shown = repr(kind) if isinstance(kind, str) else type_name(kind)
        raise r.error(
            f"{path}.type",
            f"expected one of {', '.join(DESTINATION_TYPES)}, found {shown}",
            node.line_of("type"),
            did_you_mean(kind, DESTINATION_TYPES) if isinstance(kind, str) else None,
        )
    values = _options(r, node, path, _DESTINATION_OPTIONS[kind], ("type", *extra))
    if kind == "webhook" and "url" in values and "url_env" in values:
        raise r.error(
            path,
            "give one of url and url_env, not both (url would be ignored)",
            node.line,
            "url_env names a variable holding the URL",
        )
    _check_tls(r, values, path, node.line)
    return model.DestinationSpec(kind, values, model.Location(r.file, node.line, None))


def _check_tls(r: _Reader, values: dict[str, Any], path: str, line: int | None) -> None:
    if values.get("starttls") is True and values.get("ssl") is True:
        raise r.error(
            path,
            "starttls and ssl exclude each other",
            line,
            "ssl: true is SMTPS (port 465); starttls: true upgrades a plain connection (port 587)",
        )


def _target(
    r: _Reader,
    node: LineDict,
    path: str,
    index: int,
    region: str,
    account: str,
    topics: dict[tuple[str, str], model.Topic],
    rule: str,
) -> model.Target:
    r.keys(node, path, _TARGET_KEYS, name=rule)
    if ("arn" in node) == ("topic" in node):
        raise r.error(
            path,
            "a target needs exactly one of arn and topic",
            node.line,
            "topic: NAME targets a topic of this file; arn: names any target "
            "(${AWS::Region} and ${AWS::AccountId} may be used)",
            rule,
        )
    spec = LineDict(node.line)

    def put(key: str, value: Any, line: int | None) -> None:
        spec[key] = value
        spec.key_lines[key] = line if line is not None else node.line or 0

    put(
        "Id",
        r.string(node, "id", path, rule) if node.get("id") is not None else f"target-{index + 1}",
        node.line_of("id"),
    )
    logical_id = None
    if "topic" in node:
        topic_name = r.string(node, "topic", path, rule)
        topic = topics.get((region, topic_name))
        if topic is None:
            here = sorted(n for (reg, n) in topics if reg == region)
            raise r.error(
                f"{path}.topic",
                f"topic {topic_name!r} is not defined in this file for {region}",
                node.line_of("topic"),
                did_you_mean(topic_name, here)
                or "define it under topics: (in the same region as the rule), or give an arn",
                rule,
            )
        put("Arn", topic.arn, node.line_of("topic"))
        logical_id = topic_name
    else:
        put(
            "Arn",
            _substitute(
                r.string(node, "arn", path, rule), region, account, r, f"{path}.arn", node.line_of("arn"), rule
            ),
            node.line_of("arn"),
        )
    if node.get("role_arn") is not None:
        role = r.string(node, "role_arn", path, rule)
        put(
            "RoleArn",
            _substitute(role, region, account, r, f"{path}.role_arn", node.line_of("role_arn"), rule),
            node.line_of("role_arn"),
        )
    if node.get("input") is not None:
        value = node["input"]
        put("Input", dump_json(value) if isinstance(value, (dict, list)) else value, node.line_of("input"))
    if node.get("input_path") is not None:
        put("InputPath", r.string(node, "input_path", path, rule), node.line_of("input_path"))
    if node.get("input_transformer") is not None:
        it_path = f"{path}.input_transformer"
        it = r.mapping(node["input_transformer"], it_path, node.line_of("input_transformer"), rule)
        r.keys(it, it_path, ("input_paths_map", "input_template"), ("input_template",), rule)
        out = LineDict(it.line)
        out["InputTemplate"] = r.string(it, "input_template", it_path, rule)
        out.key_lines["InputTemplate"] = it.line_of("input_template") or 0
        if it.get("input_paths_map") is not None:
            out["InputPathsMap"] = r.mapping(
                it["input_paths_map"], f"{it_path}.input_paths_map", it.line_of("input_paths_map"), rule
            )
            out.key_lines["InputPathsMap"] = it.line_of("input_paths_map") or 0
        put("InputTransformer", out, node.line_of("input_transformer"))
    if node.get("retry_policy") is not None:
        rp_path = f"{path}.retry_policy"
        rp = r.mapping(node["retry_policy"], rp_path, node.line_of("retry_policy"), rule)
        r.keys(rp, rp_path, ("maximum_retry_attempts", "maximum_event_age_in_seconds"), name=rule)
        out = LineDict(rp.line)
        for snake, pascal in (
            ("maximum_retry_attempts", "MaximumRetryAttempts"),
            ("maximum_event_age_in_seconds", "MaximumEventAgeInSeconds"),
        ):
            if rp.get(snake) is not None:
                out[pascal] = rp[snake]
                out.key_lines[pascal] = rp.line_of(snake) or 0
        put("RetryPolicy", out, node.line_of("retry_policy"))
    if node.get("dead_letter_config") is not None:
        dl_path = f"{path}.dead_letter_config"
        dl = r.mapping(node["dead_letter_config"], dl_path, node.line_of("dead_letter_config"), rule)
        r.keys(dl, dl_path, ("arn",), ("arn",), rule)
        out = LineDict(dl.line)
        out["Arn"] = _substitute(
            r.string(dl, "arn", dl_path, rule), region, account, r, f"{dl_path}.arn", dl.line_of("arn"), rule
        )
        out.key_lines["Arn"] = dl.line_of("arn") or 0
        put("DeadLetterConfig", out, node.line_of("dead_letter_config"))
    destination = None
    if node.get("destination") is not None:
        destination = _destination(
            r,
            r.mapping(node["destination"], f"{path}.destination", node.line_of("destination"), rule),
            f"{path}.destination",
        )
    return build_target(
        spec, Where(r.file, node.line, rule), strict_keys=False, logical_id=logical_id, destination=destination
    )
