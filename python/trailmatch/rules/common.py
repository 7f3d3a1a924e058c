"""What every rules front end checks the same way: rule names and states, event patterns (with
the Rust engine), and targets in their AWS shape (``Id``, ``Arn``, ``InputTransformer``, ...,
as in CloudFormation and ``list-targets-by-rule``), with EventBridge's limits and messages."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trailmatch import PatternError, Ruleset, model
from trailmatch.rules.errors import RulesError
from trailmatch.rules.positions import FloatText, IntText, LineDict, LineList

__all__ = [
    "MAX_TARGETS",
    "PatternValidator",
    "Where",
    "build_target",
    "check_rule_name",
    "check_state",
    "did_you_mean",
    "text_of",
    "type_name",
]

#: EventBridge's quota of targets per rule (the CloudFormation schema allows 100).
MAX_TARGETS = 5
RESERVED_PLACEHOLDERS = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)
_NAME = re.compile(r"[.\-_A-Za-z0-9]+")
_ARN = re.compile(r"arn:[^:\s]+:[^:\s]+:[^:\s]*:[^:\s]*:\S.*", re.S)
_PATHS_MAP_KEY = re.compile(r"[A-Za-z0-9_\-]+")
# EventBridge reads every <...> in an InputTemplate as a placeholder (AWS-observed via LocalStack).
_PLACEHOLDER = re.compile(r"<(.*?)>")
TARGET_KEYS = (
    "Id",
    "Arn",
    "RoleArn",
    "Input",
    "InputPath",
    "InputTransformer",
    "DeadLetterConfig",
    "RetryPolicy",
    "HttpParameters",
    "SqsParameters",
    "KinesisParameters",
    "EcsParameters",
    "BatchParameters",
    "RunCommandParameters",
    "RedshiftDataParameters",
    "SageMakerPipelineParameters",
    "AppSyncParameters",
)


@dataclass(frozen=True)
class Where:
    """Where an element is defined: file, line and the rule name or logical id."""

    file: str
    line: int | None = None
    name: str | None = None

    def error(
        self,
        message: str,
        *,
        line: int | None = None,
        hint: str | None = None,
        path: str | None = None,
        reason: str | None = None,
        position: int | None = None,
    ) -> RulesError:
        """A :class:`RulesError` here (at ``line`` if given)."""
        return RulesError(
            message,
            file=self.file,
            line=line if line is not None else self.line,
            name=self.name,
            hint=hint,
            path=path,
            reason=reason,
            position=position,
        )

    def warning(self, message: str, *, line: int | None = None) -> str:
        """A warning text ``file:line (name): message``."""
        return str(model.Location(self.file, line if line is not None else self.line, self.name)) + f": {message}"

    def location(self) -> model.Location:
        """This place as a :class:`trailmatch.model.Location`."""
        return model.Location(self.file, self.line, self.name)

    def at(self, line: int | None, name: str | None = None) -> Where:
        """The same file at another line (and name)."""
        return Where(self.file, line if line is not None else self.line, name if name is not None else self.name)


def type_name(value: Any) -> str:
    """How to call ``value`` in a message ("a mapping", "a list", ...)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {getattr(value, 'text', value)}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"a {type(value).__name__}"


def text_of(value: Any, what: str, where: Where, *, line: int | None = None, hint: str | None = None) -> str:
    """``value`` as a string, as CloudFormation and the AWS CLI read scalars (``1`` is ``"1"``,
    ``true`` is ``"true"``).

    Raises:
        RulesError: ``value`` is a list, a mapping or null.
    """
    if isinstance(value, str):
        return str(value)  # a plain str, never a positions subclass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (IntText, FloatText)):
        return value.text
    if isinstance(value, (int, float)):
        return str(value)
    raise where.error(f"{what} must be a string, found {type_name(value)}", line=line, hint=hint)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the choice closest to ``word``, if one is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f"did you mean {close[0]!r}?" if close else None


def check_state(value: Any, where: Where, *, line: int | None = None) -> str:
    """The rule state, one of :data:`trailmatch.model.RULE_STATES`."""
    state = text_of(value, "State", where, line=line)
    if state not in model.RULE_STATES:
        hint = did_you_mean(state, model.RULE_STATES) or "read-only API calls (Get*, List*, Describe*) reach a rule "
        if not hint.startswith("did"):
            hint += "only in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
        raise where.error(
            f"State must be one of {', '.join(model.RULE_STATES)}, found {state!r}",
            line=line,
            hint=hint,
        )
    return state


def check_rule_name(name: str, where: Where, *, line: int | None = None) -> str:
    """EventBridge's constraint on rule names: 1-64 of ``[.-_A-Za-z0-9]``."""
    if not 1 <= len(name) <= 64 or not _NAME.fullmatch(name):
        raise where.error(
            f"rule name {name!r} is not valid: 1 to 64 characters among letters, digits, '.', '-' and '_'",
            line=line,
        )
    return name


class PatternValidator:
    """Checks event patterns with the engine that will match them."""

    def __init__(self) -> None:
        self._ruleset = Ruleset()

    def check(
        self, pattern: str, where: Where, *, line: int | None, rule: str, block_line: int | None = None
    ) -> list[str]:
        """Validates ``pattern``; returns the engine's warnings about it as warning texts.

        ``block_line`` is the file line of the pattern text's first line when the text is a
        YAML block scalar, so that an error inside the text can name its own line.

        Raises:
            RulesError: the pattern is invalid; the message has EventBridge's reason, the JSONPath
                in the pattern and the engine's hint.
        """
        try:
            self._ruleset.add("pattern", pattern)
        except PatternError as e:
            inside = ""
            error_line = line
            if e.offset is not None:
                before = pattern.encode("utf-8")[: e.offset].decode("utf-8", errors="replace")
                pattern_line = before.count("\n") + 1
                inside = f", line {pattern_line} of the pattern text"
                if block_line is not None:
                    error_line = block_line + pattern_line - 1
            hint = e.hint
            if hint is None and "${" in pattern:
                hint = "a ${...} left in the pattern text is matched literally; inside !Sub it must name a parameter"
            raise where.error(
                f"EventPattern of rule {rule!r} is not valid at {e.path}{inside}: {e}",
                line=error_line,
                hint=hint,
                path=e.path,
                reason=e.reason,
            ) from e
        warnings = [
            where.warning(f"EventPattern of rule {rule!r}: {w}", line=line) for w in self._ruleset.warnings("pattern")
        ]
        self._ruleset.remove("pattern")
        return warnings


def _int_in(value: Any, what: str, low: int, high: int, where: Where, line: int | None) -> int:
    if (isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip())) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        number = int(value)
    else:
        raise where.error(f"{what} must be an integer from {low} to {high}, found {type_name(value)}", line=line)
    if not low <= number <= high:
        raise where.error(f"{what} must be from {low} to {high}, found {number}", line=line)
    return number


def _mapping(value: Any, what: str, where: Where, line: int | None) -> LineDict:
    if isinstance(value, LineDict):
        return value
    if isinstance(value, dict):
        out = LineDict(line)
        out.update(value)
        return out
    raise where.error(f"{what} must be a mapping, found {type_name(value)}", line=line)


def build_target(
    spec: Any,
    where: Where,
    *,
    strict_keys: bool,
    logical_id: str | None = None,
    destination: model.DestinationSpec | None = None,
    input_hint: str | None = None,
) -> model.Target:
    """A :class:`trailmatch.model.Target` from its AWS shape (``Id``, ``Arn``, ...), with the
    checks ``PutTargets`` makes.

    ``where.line`` is the line of the target. With ``strict_keys`` (CloudFormation), an unknown
    key is an error; the AWS CLI's output may carry keys this version does not know, so there
    they are ignored.

    Raises:
        RulesError: the target would be refused by EventBridge or CloudFormation.
    """
    t = _mapping(spec, "a target", where, where.line)
    if strict_keys:
        for key in t:
            if key not in TARGET_KEYS:
                raise where.error(
                    f"unknown target property {key!r}",
                    line=t.line_of(key),
                    hint=did_you_mean(key, TARGET_KEYS) or f"a target has {', '.join(TARGET_KEYS)}",
                )
    if "Id" not in t:
        raise where.error("a target needs an Id (1 to 64 letters, digits, '.', '-', '_')", line=t.line)
    target_id = text_of(t["Id"], "target Id", where, line=t.line_of("Id"))
    if not 1 <= len(target_id) <= 64 or not _NAME.fullmatch(target_id):
        raise where.error(
            f"target Id {target_id!r} is not valid: 1 to 64 characters among letters, digits, '.', '-' and '_'",
            line=t.line_of("Id"),
        )
    if "Arn" not in t:
        raise where.error(f"target {target_id!r} needs an Arn", line=t.line)
    arn = text_of(t["Arn"], f"Arn of target {target_id!r}", where, line=t.line_of("Arn"))
    if not 1 <= len(arn) <= 1600:
        raise where.error(f"Arn of target {target_id!r} must be 1 to 1600 characters", line=t.line_of("Arn"))
    if not _ARN.fullmatch(arn):
        raise where.error(
            f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format. (target {target_id!r})",
            line=t.line_of("Arn"),
            hint="a target needs an ARN (arn:aws:<service>:<region>:<account>:<resource>); in a template, Ref of a "
            "Lambda function, queue or log group gives its name or URL: use !GetAtt <LogicalId>.Arn "
            "(for an SNS topic, !Ref gives the ARN)",
        )
    present = [k for k in ("Input", "InputPath", "InputTransformer") if t.get(k) is not None]
    if len(present) > 1:
        raise where.error(
            f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}.",
            line=t.line_of(present[1]),
            hint=f"this target sets {' and '.join(present)}; keep one",
        )
    input_text = None
    if t.get("Input") is not None:
        input_text = text_of(
            t["Input"], f"Input of target {target_id!r}", where, line=t.line_of("Input"), hint=input_hint
        )
        if len(input_text) > 8192:
            raise where.error(f"Input of target {target_id!r} exceeds 8192 characters", line=t.line_of("Input"))
        try:
            json.loads(input_text)
        except ValueError as e:
            raise where.error(
                f"Input of target {target_id!r} is not valid JSON text: {e}",
                line=t.line_of("Input"),
                hint='Input replaces the event with this JSON text, e.g. \'{"alert": "x"}\' or \'"a string"\'',
            ) from None
    input_path = None
    if t.get("InputPath") is not None:
        input_path = text_of(t["InputPath"], f"InputPath of target {target_id!r}", where, line=t.line_of("InputPath"))
        if len(input_path) > 256:
            raise where.error(f"InputPath of target {target_id!r} exceeds 256 characters", line=t.line_of("InputPath"))
    transformer = None
    if t.get("InputTransformer") is not None:
        transformer = _input_transformer(t["InputTransformer"], target_id, where, t.line_of("InputTransformer"))
    retry = model.RetryPolicy()
    if t.get("RetryPolicy") is not None:
        rp = _mapping(t["RetryPolicy"], f"RetryPolicy of target {target_id!r}", where, t.line_of("RetryPolicy"))
        attempts = retry.maximum_retry_attempts
        age = retry.maximum_event_age_seconds
        if rp.get("MaximumRetryAttempts") is not None:
            attempts = _int_in(
                rp["MaximumRetryAttempts"], "MaximumRetryAttempts", 0, 185, where, rp.line_of("MaximumRetryAttempts")
            )
        if rp.get("MaximumEventAgeInSeconds") is not None:
            age = _int_in(
                rp["MaximumEventAgeInSeconds"],
                "MaximumEventAgeInSeconds",
                60,
                86_400,
                where,
                rp.line_of("MaximumEventAgeInSeconds"),
            )
        if strict_keys:
            for key in rp:
                if key not in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                    raise where.error(f"unknown RetryPolicy property {key!r}", line=rp.line_of(key))
        retry = model.RetryPolicy(attempts, age)
    dead_letter = None
    if t.get("DeadLetterConfig") is not None:
        dl = _mapping(
            t["DeadLetterConfig"], f"DeadLetterConfig of target {target_id!r}", where, t.line_of("DeadLetterConfig")
        )
        if dl.get("Arn") is not None:
            dead_letter = text_of(dl["Arn"], "DeadLetterConfig Arn", where, line=dl.line_of("Arn"))
    role = None
    if t.get("RoleArn") is not None:
        role = text_of(t["RoleArn"], f"RoleArn of target {target_id!r}", where, line=t.line_of("RoleArn"))
    return model.Target(
        id=target_id,
        arn=arn,
        input=input_text,
        input_path=input_path,
        input_transformer=transformer,
        retry_policy=retry,
        dead_letter_arn=dead_letter,
        role_arn=role,
        logical_id=logical_id,
        destination=destination,
    )


def _input_transformer(value: Any, target_id: str, where: Where, line: int | None) -> model.InputTransformer:
    it = _mapping(value, f"InputTransformer of target {target_id!r}", where, line)
    for key in it:
        if key not in ("InputPathsMap", "InputTemplate"):
            raise where.error(
                f"unknown InputTransformer property {key!r}",
                line=it.line_of(key),
                hint=did_you_mean(key, ("InputPathsMap", "InputTemplate")),
            )
    if it.get("InputTemplate") is None:
        raise where.error(f"InputTransformer of target {target_id!r} needs an InputTemplate", line=it.line)
    template = text_of(it["InputTemplate"], "InputTemplate", where, line=it.line_of("InputTemplate"))
    if not 1 <= len(template) <= 8192:
        raise where.error("InputTemplate must be 1 to 8192 characters", line=it.line_of("InputTemplate"))
    paths: dict[str, str] = {}
    if it.get("InputPathsMap") is not None:
        raw = it["InputPathsMap"]
        if isinstance(raw, str):
            # The console and some tools hand over the map as JSON text.
            with contextlib.suppress(ValueError):
                raw = json.loads(raw)
        pm = _mapping(raw, "InputPathsMap", where, it.line_of("InputPathsMap"))
        if len(pm) > 100:
            raise where.error("InputPathsMap may have at most 100 entries", line=pm.line)
        for key, path in pm.items():
            key_line = pm.line_of(key)
            if not 1 <= len(key) <= 256 or not _PATHS_MAP_KEY.fullmatch(key) or key.startswith("AWS."):
                raise where.error(
                    f"InputPathsMap key {key!r} is not valid: letters, digits, '_' and '-' only, "
                    "not starting with 'AWS.'",
                    line=key_line,
                )
            text = text_of(path, f"InputPathsMap value of {key!r}", where, line=key_line)
            if len(text) > 256:
                raise where.error(f"InputPathsMap value of {key!r} exceeds 256 characters", line=key_line)
            paths[key] = text
    for placeholder in _PLACEHOLDER.findall(template):
        if placeholder not in paths and placeholder not in RESERVED_PLACEHOLDERS:
            raise where.error(
                f"InputTemplate for target {target_id} contains invalid placeholder {placeholder}.",
                line=it.line_of("InputTemplate"),
                hint=f"every <name> must be a key of InputPathsMap ({', '.join(paths) or 'empty'}) "
                "or one of aws.events.rule-arn, aws.events.rule-name, aws.events.event.ingestion-time, "
                "aws.events.event, aws.events.event.json",
            )
    return model.InputTransformer(input_template=template, input_paths_map=paths)


def as_list(value: Any) -> LineList:
    """``value`` if it is a list, else a one-item list."""
    if isinstance(value, LineList):
        return value
    out = LineList(getattr(value, "line", None))
    if isinstance(value, list):
        for v in value:
            out.add(v, None)
    else:
        out.add(value, None)
    return out
