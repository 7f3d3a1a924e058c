"""Loading rules files: CloudFormation templates, AWS CLI output and trailmatch's own format.

:func:`load_rules` reads one file, tells its format from its content, checks it as AWS would
(every event pattern and filter pattern is compiled by the engine that will match it) and
returns a :class:`trailmatch.model.Deployment`: EventBridge rules, buses and SNS topics,
CloudWatch Logs metric filters and CloudWatch alarms. Several files make one deployment with
:meth:`~trailmatch.model.Deployment.extend`.

=========================  =================================================================
format                     recognised by
=========================  =================================================================
CloudFormation template    a ``Resources`` mapping, or ``AWSTemplateFormatVersion`` (YAML with
                           short-form tags such as ``!Sub``, or JSON)
AWS CLI output             ``{"Rules": [...]}`` (``aws events list-rules``), a rule object
                           (``describe-rule``), ``{"Targets": [...]}`` (``list-targets-by-rule``),
                           ``{"metricFilters": [...]}`` (``aws logs describe-metric-filters``),
                           ``{"MetricAlarms": [...]}`` (``aws cloudwatch describe-alarms``),
                           one after the other or in a JSON array
native                     top-level ``rules``, ``topics``, ``buses``, ``metric_filters``,
                           ``alarms``, ``destinations`` or ``settings`` (see ``docs/RULES.md``)
=========================  =================================================================

Every error is a :class:`RulesError` naming the file, the line and the rule or logical id.
Rule packs shipped with trailmatch (the CIS / Security Hub CloudWatch controls) are listed by
:func:`list_packs` and loaded by :func:`load_pack` (see :mod:`trailmatch.rules.packs`).

Example:
    >>> import pathlib, tempfile
    >>> from trailmatch.rules import load_rules, RulesError
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "iam.yaml").write_text('''
    ... Resources:
    ...   Topic:
    ...     Type: AWS::SNS::Topic
    ...     Properties: {TopicName: iam-alerts}
    ...   IamRule:
    ...     Type: AWS::Events::Rule
    ...     Properties:
    ...       EventPattern:
    ...         source: [aws.iam]
    ...       Targets: [{Id: sns, Arn: !Ref Topic}]
    ... ''')
    >>> d = load_rules(folder / "iam.yaml", regions=["us-east-1", "eu-west-1"], account="111122223333")
    >>> [(r.name, r.region, r.event_pattern) for r in d.rules]
    [('iam-IamRule', 'us-east-1', '{"source": ["aws.iam"]}'), ('iam-IamRule', 'eu-west-1', '{"source": ["aws.iam"]}')]
    >>> d.rules[0].targets[0].arn, d.rules[0].targets[0].logical_id
    ('arn:aws:sns:us-east-1:111122223333:iam-alerts', 'Topic')
    >>> _ = (folder / "bad.yaml").write_text("rules:\\n  - name: r\\n    event_pattern: {source: aws.iam}\\n")
    >>> try:
    ...     load_rules(folder / "bad.yaml")
    ... except RulesError as e:
    ...     print(e)  # doctest: +ELLIPSIS
    /.../bad.yaml:3: r: EventPattern of rule 'r' is not valid at $.source...: ... must be an object or an array
      hint: every value in a pattern is an array of allowed values: write ["value"]
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trailmatch import model
from trailmatch.rules.awscli import is_cli_output, load_cli_documents
from trailmatch.rules.cloudformation import load_template
from trailmatch.rules.common import PatternValidator
from trailmatch.rules.errors import RulesError
from trailmatch.rules.native import NATIVE_KEYS, is_native, load_native
from trailmatch.rules.packs import PackInfo, list_packs, load_pack
from trailmatch.rules.positions import YamlInfo, load_json_documents, load_yaml_documents

__all__ = [
    "FORMATS",
    "PackInfo",
    "RulesError",
    "detect_format",
    "list_packs",
    "load_pack",
    "load_rules",
    "load_rules_text",
]

#: The formats :func:`detect_format` names.
FORMATS = ("cloudformation", "awscli", "native")
_REGION = re.compile(r"[a-z]{2,}(-[a-z]+)+-[0-9]+")


def load_rules(
    path: str | os.PathLike[str],
    *,
    regions: Sequence[str] | None = None,
    account: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> model.Deployment:
    """Loads the rules file ``path`` (format detected from its content) as one deployment.

    Args:
        path: a CloudFormation template (YAML or JSON), AWS CLI output (JSON or YAML), or a
            native rules file (YAML or JSON).
        regions: where a template or native file is deployed, like a stack in each region
            (each rule, metric filter and alarm once per region). ``None`` (not given): a
            native file's ``regions``, else ``["us-east-1"]``. AWS CLI rules with an ``Arn``
            (alarms with an ``AlarmArn``) keep the ARN's region; a native rule, metric filter or
            alarm with its own ``region(s)`` keeps them.
        account: the account id (``AWS::AccountId``). ``None``: a native file's ``account``,
            else :data:`trailmatch.model.DEFAULT_ACCOUNT`. CLI rules with an ``Arn`` (alarms
            with an ``AlarmArn``) keep its account.
        parameters: template parameter values (over the template's defaults), and values of
            ``Fn::ImportValue`` exports, keyed by export name. Ignored by the other formats.

    Returns:
        the rules, buses, topics, metric filters, alarms, bindings, unsupported resources,
        warnings and settings.

    Raises:
        RulesError: the file cannot be read or parsed, or would not deploy on AWS; the message
            names the file, the line and the rule or logical id, with a hint for common mistakes.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "rules.yaml"
        >>> _ = path.write_text("regions: [eu-west-1]\\nrules:\\n  - {name: r, event_pattern: {source: [aws.s3]}}\\n")
        >>> [r.region for r in load_rules(path).rules]
        ['eu-west-1']
        >>> [r.region for r in load_rules(path, regions=["us-east-2"]).rules]
        ['us-east-2']
    """
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as e:
        raise RulesError(f"cannot read the rules file: {e.strerror or e}", file=file) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RulesError(
            f"the rules file is not UTF-8 text (byte {e.start}: {e.reason})", file=file, hint="save it as UTF-8"
        ) from None
    return load_rules_text(text, file=file, regions=regions, account=account, parameters=parameters)


def load_rules_text(
    text: str,
    *,
    file: str = "<rules>.yaml",
    regions: Sequence[str] | None = None,
    account: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> model.Deployment:
    """:func:`load_rules` on text already read; ``file`` names it in messages (and its stem is
    the stack name of a template).

    Example:
        >>> text = '{"Name": "r", "EventPattern": "{\\\\"source\\\\": [\\\\"aws.s3\\\\"]}"}'
        >>> d = load_rules_text(text, file="r.json")
        >>> d.rules[0].name, d.warnings[0].endswith("nothing is delivered")
        ('r', True)
    """
    if isinstance(regions, str):
        regions = [regions]
    for region in regions or ():
        if not _REGION.fullmatch(region):
            raise RulesError(
                f"{region!r} is not a region name", file=file, hint="regions look like us-east-1, ap-northeast-1"
            )
    docs, info = _parse(text, file)
    fmt = _format_of(docs, file)
    validator = PatternValidator()
    if fmt == "cloudformation":
        return load_template(
            docs[0],
            file=file,
            regions=list(regions) if regions else [model.DEFAULT_REGION],
            account=account or model.DEFAULT_ACCOUNT,
            parameters=parameters,
            yaml_info=info,
            validator=validator,
        )
    if fmt == "awscli":
        return load_cli_documents(
            docs,
            file=file,
            regions=list(regions) if regions else [model.DEFAULT_REGION],
            account=account or model.DEFAULT_ACCOUNT,
            validator=validator,
        )
    if info is not None and info.tag_lines:
        tag, line = info.tag_lines[0]
        raise RulesError(
            f"{tag} is a CloudFormation tag; native rules files take plain values",
            file=file,
            line=line,
            hint="ARNs may use ${AWS::Region} and ${AWS::AccountId}; "
            "for intrinsic functions write a CloudFormation template",
        )
    return load_native(docs[0], file=file, regions=regions, account=account, validator=validator)


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a rules file: one of :data:`FORMATS`.

    Raises:
        RulesError: the file is unreadable, not YAML/JSON, or in none of the formats.
    """
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RulesError(f"cannot read the rules file: {e}", file=file) from None
    docs, _ = _parse(text, file)
    return _format_of(docs, file)


def _parse(text: str, file: str) -> tuple[list[Any], YamlInfo | None]:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return load_json_documents(text, file), None
        except RulesError:
            if Path(file).suffix.lower() not in (".yaml", ".yml"):
                raise
    return load_yaml_documents(text, file)


def _format_of(docs: list[Any], file: str) -> str:
    if not docs or all(d is None for d in docs):
        raise RulesError(
            "the rules file is empty", file=file, hint="see docs/RULES.md for the formats trailmatch reads"
        )
    first = docs[0]
    line = getattr(first, "line", None)
    if isinstance(first, dict) and ("Resources" in first or "AWSTemplateFormatVersion" in first):
        if len(docs) > 1:
            raise RulesError(
                "a CloudFormation template file must hold one document", file=file, line=getattr(docs[1], "line", None)
            )
        return "cloudformation"
    if isinstance(first, dict) and is_native(first):
        if len(docs) > 1:
            raise RulesError(
                "a native rules file must hold one document", file=file, line=getattr(docs[1], "line", None)
            )
        return "native"
    if is_cli_output(docs):
        return "awscli"
    hint = (
        "expected a CloudFormation template (Resources:), AWS CLI output of aws events list-rules / describe-rule / "
        "list-targets-by-rule, aws logs describe-metric-filters or aws cloudwatch describe-alarms, or a native rules "
        f"file (top-level {', '.join(NATIVE_KEYS)})"
    )
    if isinstance(first, dict):
        lowered = {k.lower(): k for k in first}
        if "rules" in lowered and lowered["rules"] != "rules" and not isinstance(first.get(lowered["rules"]), list):
            hint = 'native rules files use lower-case keys (rules:), the AWS CLI\'s {"Rules": [...]} holds a list'
        elif "resources" in lowered:
            hint = "a CloudFormation template's section is spelled Resources"
    raise RulesError("cannot tell the format of this rules file", file=file, line=line, hint=hint)
