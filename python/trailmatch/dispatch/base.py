"""What every destination shares: the delivery being sent, the error it raises, secret scrubbing.

Error codes are EventBridge's ``ERROR_CODE`` values (dead-letter attribute). trailmatch maps
failures onto them as follows (*decision* where EventBridge documents only the names):

================================  =====================  =========
failure                           ``ERROR_CODE``         retried
================================  =====================  =========
HTTP 401 / 403, SMTP auth, AWS    ``NO_PERMISSIONS``     no
access denied, no credentials
HTTP 404 / 410, unknown topic,    ``NO_RESOURCE``        no
unknown or unconfigured
destination, refused recipient
HTTP 429, SNS throttling          ``THROTTLING``         yes
HTTP 408, socket timeouts         ``TIMEOUT``            yes
connection refused / reset, DNS   ``CONNECTION_FAILURE`` yes
other HTTP 4xx, redirects,        ``INVALID_PARAMETER``  no
SMTP 5xx, invalid AWS parameters
HTTP 5xx, SMTP 4xx, AWS 5xx       ``SDK_CLIENT_ERROR``   yes
transformed input is not valid    ``INVALID_JSON``       no
anything unexpected               ``UNKNOWN``            no
================================  =====================  =========
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, urlsplit

from trailmatch import model

__all__ = [
    "CONNECTION_FAILURE",
    "INVALID_JSON",
    "INVALID_PARAMETER",
    "NO_PERMISSIONS",
    "NO_RESOURCE",
    "SDK_CLIENT_ERROR",
    "THROTTLING",
    "TIMEOUT",
    "UNKNOWN",
    "Delivery",
    "DeliveryError",
    "Destination",
    "scrub",
    "secret_variants",
]

NO_PERMISSIONS: Final = "NO_PERMISSIONS"
NO_RESOURCE: Final = "NO_RESOURCE"
THROTTLING: Final = "THROTTLING"
TIMEOUT: Final = "TIMEOUT"
CONNECTION_FAILURE: Final = "CONNECTION_FAILURE"
INVALID_PARAMETER: Final = "INVALID_PARAMETER"
SDK_CLIENT_ERROR: Final = "SDK_CLIENT_ERROR"
INVALID_JSON: Final = "INVALID_JSON"
UNKNOWN: Final = "UNKNOWN"

#: Secrets shorter than this are not scrubbed (they would mangle ordinary text).
_MIN_SECRET_LENGTH: Final = 4


class DeliveryError(Exception):
    """One failed attempt to deliver.

    Attributes:
        code: EventBridge's ``ERROR_CODE`` (see the module docs).
        message: what went wrong, without secrets (``ERROR_MESSAGE``).
        retriable: whether trying again may succeed.

    Example:
        >>> e = DeliveryError(THROTTLING, "HTTP 429 from webhook", retriable=True)
        >>> str(e), e.retriable
        ('THROTTLING: HTTP 429 from webhook', True)
    """

    def __init__(self, code: str, message: str, *, retriable: bool) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.retriable = retriable

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass
class Delivery:
    """One payload on its way to one destination.

    ``progress`` is scratch space a destination may use across the attempts of this delivery
    (a topic remembers which subscriptions already got the message, so a retry sends only to
    the others).
    """

    rule: model.Rule
    target: model.Target
    event: Mapping[str, Any]
    event_id: str
    payload: str
    progress: dict[str, Any] = field(default_factory=dict)


class Destination(ABC):
    """Where payloads go. Subclasses set :attr:`kind` and implement :meth:`send`.

    :meth:`send` raises :class:`DeliveryError` on failure and must never put a secret in it;
    :meth:`secrets` lists the secret values the destination holds so that the dispatcher can
    scrub any message that might still contain one.
    """

    kind: ClassVar[str] = "destination"

    @property
    def description(self) -> str:
        """Where this destination sends, for people and the state file (never a secret)."""
        return self.kind

    @abstractmethod
    def send(self, delivery: Delivery) -> None:
        """Delivers once; raises :class:`DeliveryError` on failure."""

    def secrets(self) -> tuple[str, ...]:
        """Secret values this destination knows (URLs, passwords, keys)."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases resources (files, connections)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def secret_variants(secret: str) -> set[str]:
    """``secret`` and, for a URL, the parts that carry its secret: the path and query, and each
    path segment or query value that looks like a token (mixed letters and digits, 8+
    characters, or any 16+ characters). A server that echoes part of a webhook path back is
    scrubbed too.

    Example:
        >>> sorted(secret_variants("https://hooks.slack.com/services/T0AB1CD2/B0XYZ/AbCdEf123456"))
        ['/services/T0AB1CD2/B0XYZ/AbCdEf123456', 'AbCdEf123456', 'T0AB1CD2', 'https://hooks.slack.com/services/T0AB1CD2/B0XYZ/AbCdEf123456']
    """
    found = {secret}
    parts = urlsplit(secret)
    if parts.scheme and parts.netloc:
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) > 1:
            found.add(tail)
        pieces = [p for p in parts.path.split("/") if p]
        pieces += [value for _, value in parse_qsl(parts.query)]
        if parts.password:
            pieces.append(parts.password)
        for piece in pieces:
            mixed = any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece)
            if (mixed and len(piece) >= 8) or len(piece) >= 16:
                found.add(piece)
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    Example:
        >>> scrub("POST https://hooks.example/T0/B1/abcd failed", ["https://hooks.example/T0/B1/abcd"])
        'POST *** failed'
    """
    expanded: set[str] = set()
    for secret in secrets:
        if secret:
            expanded |= secret_variants(secret)
    for secret in sorted({s for s in expanded if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
