"""Slack incoming webhooks: a readable message per delivery.

For a CloudTrail event (the whole EventBridge event, or its ``detail`` selected with
``InputPath``) the message says who did what, where and when: rule name, ``eventName``,
``eventSource``, region, account, ``userIdentity`` (ARN and type), source IP, time and the error
code if the call failed, as Block Kit ``mrkdwn`` fields. For transformer output the text itself
is the message (a JSON string is shown unquoted). Either way the raw JSON follows in a code
block (cut at Slack's 3,000-character limit of a text block), and ``text`` carries a one-line
summary for notifications.

Options of a ``slack`` destination: ``url`` or ``url_env`` (the webhook URL: a secret, prefer
``url_env``), optional ``channel``, ``username``, ``icon_emoji`` (legacy webhooks honour them),
``timeout`` (seconds, default 5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trailmatch import model
from trailmatch.dispatch import http
from trailmatch.dispatch.base import Delivery, Destination
from trailmatch.dispatch.options import Context, describe_url, option, secret_option

__all__ = ["SlackDestination", "slack_message"]

_TEXT_LIMIT = 3000
_HEADER_LIMIT = 150
_FIELD_LIMIT = 2000


def _escape(text: str) -> str:
    """Slack's three control characters in ``mrkdwn`` / ``plain_text``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code_block(raw: str) -> dict[str, Any]:
    body = _escape(raw)
    fence = "```"
    room = _TEXT_LIMIT - 2 * len(fence) - 2
    if len(body) > room:
        body = body[: room - len("\n… (truncated)")] + "\n… (truncated)"
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"{fence}\n{body}\n{fence}"}}


def _cloudtrail_record(value: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(record, envelope) when ``value`` is a CloudTrail event or record."""
    if not isinstance(value, Mapping):
        return None
    detail = value.get("detail")
    if isinstance(detail, Mapping) and ("eventName" in detail or "eventSource" in detail):
        return detail, value
    if "eventName" in value and "eventSource" in value:
        return value, {}
    return None


def _who(record: Mapping[str, Any]) -> str:
    identity = record.get("userIdentity")
    if not isinstance(identity, Mapping):
        return "unknown"
    name = identity.get("arn") or identity.get("principalId") or identity.get("invokedBy") or "unknown"
    kind = identity.get("type")
    session = identity.get("sessionContext")
    issuer = session.get("sessionIssuer") if isinstance(session, Mapping) else None
    if isinstance(issuer, Mapping) and issuer.get("arn") and issuer.get("arn") != name:
        name = f"{name} (role {issuer['arn']})"
    return f"{name} ({kind})" if kind else str(name)


def slack_message(rule: model.Rule, target: model.Target, payload: str) -> dict[str, Any]:
    """The Slack webhook body for ``payload`` delivered by ``target`` of ``rule``.

    Example:
        >>> rule = model.Rule(name="console-login", region="us-east-1", account="1", event_pattern="{}")
        >>> target = model.Target(id="slack", arn="arn:aws:sns:us-east-1:1:t")
        >>> event = {"detail-type": "AWS Console Sign In via CloudTrail", "region": "us-east-1", "detail": {
        ...     "eventName": "ConsoleLogin", "eventSource": "signin.amazonaws.com", "sourceIPAddress": "203.0.113.9",
        ...     "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}, "eventTime": "2024-05-01T00:00:00Z"}}
        >>> m = slack_message(rule, target, json.dumps(event))
        >>> m["text"]
        'console-login: ConsoleLogin by arn:aws:iam::1:root (Root) from 203.0.113.9 in us-east-1'
        >>> [f["text"].split("\\n")[0] for f in m["blocks"][2]["fields"]][:4]
        ['*Event*', '*Service*', '*Who*', '*Source IP*']
        >>> slack_message(rule, target, '"Instance i-1 is RUNNING"')["text"]
        'console-login: Instance i-1 is RUNNING'
    """
    try:
        parsed: Any = json.loads(payload)
        is_json = True
    except ValueError:
        parsed, is_json = None, False
    context = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _escape(f"rule {rule.arn} · target {target.id}")}],
    }
    header = {"type": "header", "text": {"type": "plain_text", "text": _cut(f"trailmatch: {rule.name}", _HEADER_LIMIT)}}
    found = _cloudtrail_record(parsed) if is_json else None
    if found is not None:
        record, envelope = found
        name = str(record.get("eventName", "?"))
        source = str(record.get("eventSource", envelope.get("source", "?")))
        region = str(record.get("awsRegion") or envelope.get("region") or "?")
        account = str(record.get("recipientAccountId") or envelope.get("account") or "")
        who = _who(record)
        ip = str(record.get("sourceIPAddress", "?"))
        when = str(record.get("eventTime") or envelope.get("time") or "?")
        error = record.get("errorCode")
        summary = f"{rule.name}: {name} by {who} from {ip} in {region}"
        headline = f"*{_escape(name)}* on `{_escape(source)}`"
        if error:
            message = record.get("errorMessage")
            summary += f" failed: {error}"
            headline += f"  :x: *{_escape(str(error))}*" + (f" {_escape(str(message))}" if message else "")
        fields = [
            ("Event", name),
            ("Service", source),
            ("Who", who),
            ("Source IP", ip),
            ("Region", region),
            ("Time", when),
        ]
        if account:
            fields.append(("Account", account))
        if error:
            fields.append(("Error", str(error)))
        detail_type = envelope.get("detail-type")
        if detail_type:
            fields.append(("Detail type", str(detail_type)))
        blocks: list[dict[str, Any]] = [
            header,
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(headline, _TEXT_LIMIT)}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f"*{label}*\n{_escape(value)}", _FIELD_LIMIT)}
                    for label, value in fields[:10]
                ],
            },
            _code_block(json.dumps(parsed, indent=2, ensure_ascii=False)),
            context,
        ]
        return {"text": _cut(summary, _TEXT_LIMIT), "blocks": blocks}

    if is_json and isinstance(parsed, str):
        text = parsed
    elif is_json and parsed is not None and not isinstance(parsed, (dict, list)):
        text = payload
    elif is_json:
        text = payload if len(payload) <= 200 else payload[:199] + "…"
    else:
        text = payload
    blocks = [header, {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_escape(text) or " ", _TEXT_LIMIT)}}]
    if is_json and isinstance(parsed, (dict, list)):
        blocks.append(_code_block(json.dumps(parsed, indent=2, ensure_ascii=False)))
    blocks.append(context)
    return {"text": _cut(f"{rule.name}: {text}", _TEXT_LIMIT), "blocks": blocks}


class SlackDestination(Destination):
    """Posts :func:`slack_message` to a Slack incoming webhook."""

    kind = "slack"

    def __init__(self, options: Mapping[str, Any], context: Context) -> None:
        self.url = secret_option(options, "url", context.environ, what="slack")
        self._where = f"slack ({describe_url(options)})"
        self.timeout = float(option(options, "timeout", context.environ, 5.0))
        self.extra = {k: options[k] for k in ("channel", "username", "icon_emoji", "icon_url") if options.get(k)}

    @property
    def description(self) -> str:
        return self._where

    def secrets(self) -> tuple[str, ...]:
        return (self.url,)

    def send(self, delivery: Delivery) -> None:
        body = slack_message(delivery.rule, delivery.target, delivery.payload)
        body.update(self.extra)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        http.post(
            self.url,
            data,
            {"Content-Type": "application/json; charset=utf-8"},
            timeout=self.timeout,
            what=self._where,
        )
