"""Rule packs: ready-made rules files shipped with trailmatch (``trailmatch/packs/*.yaml``, in
the native format).

A pack is deployed like any native rules file (in the regions and account given, else
us-east-1 and the default account), with its own parameters: ``LogGroupName`` names the log
group CloudTrail delivers to, which every metric filter of the pack reads (default
``aws-cloudtrail-logs-<account>``, see :func:`trailmatch.rules.cloudwatch.default_log_group`).

Example:
    >>> [(p.name, p.metric_filters, p.alarms) for p in list_packs()]
    [('cis', 15, 15)]
    >>> d = load_pack("cis", regions=["eu-west-1"], account="111122223333",
    ...               parameters={"LogGroupName": "CloudTrail/logs"})
    >>> f = d.metric_filters[0]
    >>> f.name, f.log_group, f.region, f.transformation.metric_namespace
    ('root_usage_metric', 'CloudTrail/logs', 'eu-west-1', 'CISBenchmark')
    >>> d.alarms[0].alarm_actions
    ('arn:aws:sns:eu-west-1:111122223333:cis-alarms',)
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from trailmatch import model
from trailmatch.rules.cloudwatch import Props, check_log_group_name
from trailmatch.rules.common import Where, did_you_mean
from trailmatch.rules.errors import RulesError
from trailmatch.rules.positions import LineDict, load_yaml_documents

if TYPE_CHECKING:  # importlib.resources.abc is new in Python 3.11
    from importlib.resources.abc import Traversable

__all__ = ["PackInfo", "list_packs", "load_pack"]

_PACKAGE = "trailmatch.packs"


@dataclass(frozen=True)
class PackInfo:
    """What a rule pack holds: its ``name`` (for :func:`load_pack`), ``title``, main ``source``
    (where its patterns are published), how many ``metric_filters``, ``alarms``, ``rules`` and
    ``topics`` it defines (before deployment in several regions), and its ``parameters`` (name →
    description).

    Example:
        >>> info = list_packs()[0]
        >>> info.source
        'https://docs.aws.amazon.com/securityhub/latest/userguide/cloudwatch-controls.html'
        >>> sorted(info.parameters)
        ['LogGroupName']
    """

    name: str
    title: str
    source: str
    metric_filters: int
    alarms: int
    rules: int
    topics: int
    parameters: dict[str, str] = field(default_factory=dict)


def _packs() -> dict[str, Traversable]:
    folder = importlib.resources.files(_PACKAGE)
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml") and entry.is_file()
    }


def _read(name: str) -> tuple[str, str]:
    """The text of pack ``name`` and the file name to show in messages."""
    packs = _packs()
    if name not in packs:
        raise RulesError(
            f"there is no rule pack named {name!r}",
            hint=did_you_mean(name, packs) or f"the packs are {', '.join(packs) or '(none)'}",
        )
    entry = packs[name]
    return entry.read_text(encoding="utf-8"), str(entry)


def _metadata(doc: Any) -> Mapping[str, Any]:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return meta if isinstance(meta, dict) else {}


def list_packs() -> list[PackInfo]:
    """The rule packs shipped with trailmatch, by name.

    Example:
        >>> [p.name for p in list_packs()]
        ['cis']
    """
    out = []
    for name in _packs():
        text, file = _read(name)
        docs, _ = load_yaml_documents(text, file)
        doc = docs[0] if docs and isinstance(docs[0], dict) else {}
        meta = _metadata(doc)
        parameters = meta.get("parameters")

        def count(key: str, doc: Mapping[str, Any] = doc) -> int:
            value = doc.get(key)
            return len(value) if isinstance(value, list) else 0

        out.append(
            PackInfo(
                name=name,
                title=str(meta.get("title", name)),
                source=str(meta.get("source", "")),
                metric_filters=count("metric_filters"),
                alarms=count("alarms"),
                rules=count("rules"),
                topics=count("topics"),
                parameters={str(k): " ".join(str(v).split()) for k, v in parameters.items()}
                if isinstance(parameters, dict)
                else {},
            )
        )
    return out


def load_pack(
    name: str,
    *,
    regions: Sequence[str] | None = None,
    account: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> model.Deployment:
    """Deploys rule pack ``name`` in ``regions`` of ``account``, like :func:`trailmatch.rules.load_rules`
    deploys a native rules file.

    Args:
        name: a pack of :func:`list_packs` (``"cis"``).
        regions: where to deploy it (default ``["us-east-1"]``).
        account: the account id (default :data:`trailmatch.model.DEFAULT_ACCOUNT`).
        parameters: the pack's parameters: ``LogGroupName``, the log group CloudTrail delivers
            to (default ``aws-cloudtrail-logs-<account>``).

    Raises:
        RulesError: no such pack, a parameter the pack does not have, or an invalid value.

    Example:
        >>> try:
        ...     load_pack("cis", parameters={"LogGroup": "x"})
        ... except RulesError as e:
        ...     print(e.message, "/", e.hint)
        rule pack 'cis' has no parameter 'LogGroup' / did you mean 'LogGroupName'?
    """
    from trailmatch.rules import load_rules_text

    text, file = _read(name)
    docs, _ = load_yaml_documents(text, file)
    declared = _metadata(docs[0] if docs else None).get("parameters") or {}
    given = dict(parameters or {})
    for key in given:
        if key not in declared:
            raise RulesError(
                f"rule pack {name!r} has no parameter {key!r}",
                file=file,
                hint=did_you_mean(key, declared) or f"its parameters are {', '.join(declared) or '(none)'}",
            )
    deployment = load_rules_text(text, file=file, regions=regions, account=account)
    log_group = given.get("LogGroupName")
    if log_group is not None:
        node = LineDict(None)
        node["LogGroupName"] = log_group
        check_log_group_name(log_group, Props(node, Where(file, name="LogGroupName")), "LogGroupName")
        deployment.metric_filters[:] = [replace(f, log_group=log_group) for f in deployment.metric_filters]
    return deployment
