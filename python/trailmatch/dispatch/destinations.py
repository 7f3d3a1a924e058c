"""Destinations that need no other module: ``stdout``, ``file``, ``webhook``; and the factory that
builds any destination from a :class:`~trailmatch.model.DestinationSpec`.

=========== ===============================================================================
``type``    options
=========== ===============================================================================
``stdout``  ``prefix`` (default true: ``<rule> -> <target>: `` before each payload)
``file``    ``path`` (JSON Lines: ``time``, ``rule``, ``rule_arn``, ``target``, ``event_id``,
            ``payload`` — the payload text exactly as the target would receive it)
``webhook`` ``url`` or ``url_env``; ``method`` (POST); ``headers`` (a header whose name ends
            in ``_env``, or whose value is ``{"env": NAME}``, takes its value from the
            environment); ``timeout`` (5 s, as EventBridge API destinations); the body is the
            payload, ``Content-Type: application/json`` when it is JSON, else ``text/plain``
``slack``   see :mod:`trailmatch.dispatch.slack`
``sns``     see :mod:`trailmatch.dispatch.sns`
``email``   see :mod:`trailmatch.dispatch.email`
=========== ===============================================================================
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from trailmatch import model
from trailmatch.dispatch import http
from trailmatch.dispatch.base import (
    NO_PERMISSIONS,
    NO_RESOURCE,
    SDK_CLIENT_ERROR,
    Delivery,
    DeliveryError,
    Destination,
)
from trailmatch.dispatch.options import ConfigError, Context, describe_url, flag, option, secret_option

__all__ = [
    "DESTINATION_TYPES",
    "FileDestination",
    "InvalidDestination",
    "StdoutDestination",
    "WebhookDestination",
    "build_destination",
]

#: The destination ``type`` values :func:`build_destination` knows.
DESTINATION_TYPES = ("stdout", "file", "webhook", "slack", "sns", "email")


class StdoutDestination(Destination):
    """Prints each payload on its own line, after ``<rule> -> <target>: `` unless ``prefix`` is off."""

    kind = "stdout"

    def __init__(self, stream: TextIO | None = None, *, prefix: bool = True, unbound: bool = False) -> None:
        self.stream = stream
        self.prefix = prefix
        self.unbound = unbound

    @property
    def description(self) -> str:
        return "stdout (unbound target)" if self.unbound else "stdout"

    def send(self, delivery: Delivery) -> None:
        stream = self.stream if self.stream is not None else sys.stdout
        head = f"{delivery.rule.name} -> {delivery.target.id}: " if self.prefix else ""
        try:
            stream.write(f"{head}{delivery.payload}\n")
            stream.flush()
        except (OSError, ValueError) as e:
            # a closed or broken standard output does not come back: no retries
            text = getattr(e, "strerror", None) or type(e).__name__
            raise DeliveryError(SDK_CLIENT_ERROR, f"stdout: {text}", retriable=False) from None


class FileDestination(Destination):
    """Appends one JSON line per delivery to ``path`` (created with its directories)."""

    kind = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stream: TextIO | None = None

    @property
    def description(self) -> str:
        return f"file {self.path}"

    def send(self, delivery: Delivery) -> None:
        line = json.dumps(
            {
                "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "rule": delivery.rule.name,
                "rule_arn": delivery.rule.arn,
                "target": delivery.target.id,
                "event_id": delivery.event_id,
                "payload": delivery.payload,
            },
            ensure_ascii=False,
        )
        try:
            if self._stream is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = self.path.open("a", encoding="utf-8")
            self._stream.write(line + "\n")
            self._stream.flush()
        except PermissionError:
            raise DeliveryError(NO_PERMISSIONS, f"file {self.path}: permission denied", retriable=False) from None
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise DeliveryError(NO_RESOURCE, f"file {self.path}: {e.strerror}", retriable=False) from None
        except OSError as e:
            raise DeliveryError(SDK_CLIENT_ERROR, f"file {self.path}: {e.strerror}", retriable=True) from None

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class WebhookDestination(Destination):
    """POSTs each payload to a URL (see the module docs for the options)."""

    kind = "webhook"

    def __init__(self, options: Mapping[str, Any], context: Context) -> None:
        environ = context.environ
        self.url = secret_option(options, "url", environ, what="webhook")
        self._where = f"webhook ({describe_url(options)})"
        self.method = str(option(options, "method", environ, "POST")).upper()
        self.timeout = float(option(options, "timeout", environ, 5.0))
        self.headers: dict[str, str] = {}
        self._secret_headers: list[str] = []
        raw_headers = options.get("headers") or {}
        if not isinstance(raw_headers, Mapping):
            raise ConfigError("webhook: headers must be a mapping")
        for name, value in raw_headers.items():
            header, env_name = str(name), None
            if header.endswith("_env"):
                header, env_name = header[: -len("_env")], str(value)
            elif isinstance(value, Mapping) and "env" in value:
                env_name = str(value["env"])
            if env_name is not None:
                resolved = environ.get(env_name)
                if not resolved:
                    raise ConfigError(f"webhook: environment variable {env_name} (header {header}) is not set")
                self.headers[header] = resolved
                self._secret_headers.append(resolved)
            else:
                self.headers[header] = str(value)

    @property
    def description(self) -> str:
        return self._where

    def secrets(self) -> tuple[str, ...]:
        return (self.url, *self._secret_headers)

    def send(self, delivery: Delivery) -> None:
        headers = dict(self.headers)
        if not any(h.lower() == "content-type" for h in headers):
            headers["Content-Type"] = (
                "application/json; charset=utf-8" if _is_json(delivery.payload) else "text/plain; charset=utf-8"
            )
        http.post(
            self.url,
            delivery.payload.encode("utf-8"),
            headers,
            timeout=self.timeout,
            what=self._where,
            method=self.method,
        )


class InvalidDestination(Destination):
    """A destination that cannot be used (unknown type, missing setting): every delivery fails
    at once, without retries, with ``NO_RESOURCE``."""

    kind = "invalid"

    def __init__(self, reason: str, *, kind: str = "invalid") -> None:
        self.reason = reason
        self.declared_kind = kind

    @property
    def description(self) -> str:
        return f"{self.declared_kind} (unusable: {self.reason})"

    def send(self, delivery: Delivery) -> None:
        raise DeliveryError(NO_RESOURCE, self.reason, retriable=False)


def build_destination(spec: model.DestinationSpec, context: Context, *, target: model.Target) -> Destination:
    """The destination ``spec`` describes; an :class:`InvalidDestination` when it cannot be built
    (the reason names the setting, never a secret).

    Example:
        >>> spec = model.DestinationSpec("webhook", {"url_env": "HOOK"})
        >>> t = model.Target(id="t", arn="arn:aws:sns:us-east-1:1:x")
        >>> build_destination(spec, Context(environ={"HOOK": "https://example.com/h"}), target=t).description
        'webhook (url from $HOOK)'
        >>> build_destination(spec, Context(environ={}), target=t).description
        'webhook (unusable: webhook: environment variable HOOK (url_env) is not set)'
        >>> build_destination(model.DestinationSpec("pager"), Context(), target=t).description
        "pager (unusable: unknown destination type 'pager' (known: stdout, file, webhook, slack, sns, email))"
    """
    from trailmatch.dispatch.email import EmailDestination
    from trailmatch.dispatch.slack import SlackDestination
    from trailmatch.dispatch.sns import SnsDestination

    kind = spec.type
    options = spec.options or {}
    where = f" ({spec.location})" if spec.location else ""
    try:
        if kind == "stdout":
            return StdoutDestination(context.stdout, prefix=flag(options.get("prefix"), default=True))
        if kind == "file":
            path = option(options, "path", context.environ)
            if not path:
                raise ConfigError("file: option path is required")
            return FileDestination(str(path))
        if kind == "webhook":
            return WebhookDestination(options, context)
        if kind == "slack":
            return SlackDestination(options, context)
        if kind == "sns":
            return SnsDestination(options, context, default_topic=target.arn)
        if kind == "email":
            return EmailDestination(options, context)
    except (ConfigError, TypeError, ValueError) as e:
        return InvalidDestination(f"{e}{where}", kind=kind)
    known = ", ".join(DESTINATION_TYPES)
    return InvalidDestination(f"unknown destination type {kind!r} (known: {known}){where}", kind=kind)
