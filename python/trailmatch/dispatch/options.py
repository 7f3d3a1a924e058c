"""Reading destination options: plain values, secrets named by environment variable, flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

__all__ = ["ConfigError", "Context", "describe_url", "flag", "option", "secret_option"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A destination cannot be built from its configuration (the message names no secret)."""


@dataclass
class Context:
    """What destinations are built from: deployment settings, environment, standard output."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    stdout: TextIO | None = None


def option(options: Mapping[str, Any], name: str, environ: Mapping[str, str], default: Any = None) -> Any:
    """``options[name]``, or the environment variable named by ``options[name + "_env"]``.

    Example:
        >>> option({"region_env": "R"}, "region", {"R": "eu-west-1"}), option({}, "region", {}, "us-east-1")
        ('eu-west-1', 'us-east-1')
    """
    env_name = options.get(f"{name}_env")
    if env_name:
        value = environ.get(str(env_name))
        if value is not None and value != "":
            return value
        if name in options:
            return options[name]
        return default
    return options.get(name, default)


def secret_option(options: Mapping[str, Any], name: str, environ: Mapping[str, str], *, what: str) -> str:
    """A required secret: ``options[name]`` or the environment variable ``options[name + "_env"]``.

    Raises:
        ConfigError: neither is set (the message names the variable, never a value).

    Example:
        >>> secret_option({"url_env": "HOOK"}, "url", {"HOOK": "https://h/x"}, what="webhook")
        'https://h/x'
        >>> secret_option({"url_env": "HOOK"}, "url", {}, what="webhook")
        Traceback (most recent call last):
        ...
        trailmatch.dispatch.options.ConfigError: webhook: environment variable HOOK (url_env) is not set
    """
    env_name = options.get(f"{name}_env")
    if env_name:
        value = environ.get(str(env_name))
        if not value:
            raise ConfigError(f"{what}: environment variable {env_name} ({name}_env) is not set")
        return value
    value = options.get(name)
    if value is None or value == "":
        raise ConfigError(f"{what}: option {name} (or {name}_env) is required")
    return str(value)


def flag(value: Any, *, default: bool = False) -> bool:
    """A boolean option given as a bool or as text (``true``/``1``/``yes``/``on``).

    Example:
        >>> flag("yes"), flag("0"), flag(None, default=True)
        (True, False, True)
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def describe_url(options: Mapping[str, Any], name: str = "url") -> str:
    """How to name a URL option in messages without revealing it: the variable it comes from,
    or only its scheme and host.

    Example:
        >>> describe_url({"url_env": "SLACK_WEBHOOK_URL"}), describe_url({"url": "https://hooks.slack.com/services/T/B/x"})
        ('url from $SLACK_WEBHOOK_URL', 'https://hooks.slack.com/…')
    """
    env_name = options.get(f"{name}_env")
    if env_name:
        return f"{name} from ${env_name}"
    value = options.get(name)
    if not value:
        return f"no {name}"
    parts = urlsplit(str(value))
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}/…"
