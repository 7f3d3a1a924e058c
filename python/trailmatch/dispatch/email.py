"""Email over SMTP (``smtplib``), shaped like Amazon SNS email notifications.

SMTP settings come from the deployment's ``settings["smtp"]`` (keys ``host``, ``port``,
``username``/``username_env``, ``password_env`` (or ``password``), ``from``, ``starttls``,
``ssl``, ``timeout``) and, for what they leave unset, from the environment variables
``TRAILMATCH_SMTP_HOST``, ``TRAILMATCH_SMTP_PORT``, ``TRAILMATCH_SMTP_USERNAME``,
``TRAILMATCH_SMTP_PASSWORD``, ``TRAILMATCH_SMTP_FROM``, ``TRAILMATCH_SMTP_STARTTLS``. SMTP is
configured when a host is known. The password is never printed: :class:`SmtpConfig` leaves it
out of its ``repr`` and failures name the server only.

An ``email`` destination (``DestinationSpec(type="email", options={"to": [...]})``) sends the
payload as the body, with SNS's default subject "AWS Notification Message" unless ``subject``
is set; ``from`` overrides the sender and any SMTP key overrides the settings.

A :class:`Publication` (what an SNS ``Publish`` with a ``Subject`` and per-protocol messages
carries: a CloudWatch alarm notification) sends its ``email`` message as the body, under its
subject unless the destination sets one.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from trailmatch.dispatch.base import (
    CONNECTION_FAILURE,
    INVALID_PARAMETER,
    NO_PERMISSIONS,
    NO_RESOURCE,
    SDK_CLIENT_ERROR,
    TIMEOUT,
    Delivery,
    DeliveryError,
    Destination,
)
from trailmatch.dispatch.options import ConfigError, Context, flag, option

__all__ = [
    "DEFAULT_SUBJECT",
    "EmailDestination",
    "Publication",
    "SmtpConfig",
    "build_email",
    "publication_of",
    "send_email",
    "smtp_config",
]

#: The subject SNS gives a notification published without one (EventBridge never sets one).
DEFAULT_SUBJECT = "AWS Notification Message"
_ENV = "TRAILMATCH_SMTP_"


@dataclass
class Publication(Delivery):
    """A delivery published as SNS ``Publish`` would publish it: with a ``subject`` (``Subject``)
    and per-protocol ``messages`` (``MessageStructure=json``: ``{"email": ..., "https": ...}``;
    a protocol without its own message receives :attr:`payload`, the ``default`` message).
    CloudWatch alarm notifications are publications: JSON by default, text by e-mail.

    Example:
        >>> from trailmatch import model
        >>> p = Publication(rule=model.Rule(name="r", region="us-east-1", account="1", event_pattern="{}"),
        ...                 target=model.Target(id="t", arn="arn:aws:sns:us-east-1:1:t"), event={}, event_id="e",
        ...                 payload='{"AlarmName":"a"}', subject='ALARM: "a" in US East (N. Virginia)',
        ...                 messages={"email": "You are receiving this email because ..."})
        >>> p.message_for("email"), p.message_for("https")
        ('You are receiving this email because ...', '{"AlarmName":"a"}')
    """

    subject: str | None = None
    messages: dict[str, str] = field(default_factory=dict)

    def message_for(self, protocol: str) -> str:
        """The message a subscription or destination of ``protocol`` receives."""
        return self.messages.get(protocol.lower(), self.payload)


def publication_of(delivery: Delivery) -> Publication | None:
    """``delivery`` when it is a :class:`Publication`, else ``None``."""
    return delivery if isinstance(delivery, Publication) else None


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server. ``password`` is not part of ``repr``.

    Example:
        >>> config = SmtpConfig(host="mail.example", port=587, username="u", password="s3cret", starttls=True)
        >>> "s3cret" in repr(config), config.description
        (False, 'smtp://mail.example:587')
    """

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "trailmatch@localhost"
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0

    @property
    def description(self) -> str:
        return f"smtp://{self.host}:{self.port}"


def _smtp_from(values: Mapping[str, Any], environ: Mapping[str, str], base: SmtpConfig | None) -> SmtpConfig | None:
    host = option(values, "host", environ) or (base.host if base else None)
    if not host:
        return None
    use_ssl = flag(option(values, "ssl", environ), default=base.ssl if base else False)
    starttls = flag(option(values, "starttls", environ), default=base.starttls if base else False)
    port_value = option(values, "port", environ)
    if port_value is not None:
        try:
            port = int(port_value)
        except (TypeError, ValueError):
            raise ConfigError(f"SMTP port is not a number: {port_value!r}") from None
    elif base is not None:
        port = base.port
    else:
        port = 465 if use_ssl else 587 if starttls else 25
    password = option(values, "password", environ)
    return SmtpConfig(
        host=str(host),
        port=port,
        username=option(values, "username", environ) or (base.username if base else None),
        password=str(password) if password else (base.password if base else None),
        sender=str(option(values, "from", environ) or (base.sender if base else "trailmatch@localhost")),
        starttls=starttls,
        ssl=use_ssl,
        timeout=float(option(values, "timeout", environ) or (base.timeout if base else 30.0)),
    )


def smtp_config(settings: Mapping[str, Any], environ: Mapping[str, str]) -> SmtpConfig | None:
    """The SMTP configuration of a deployment, or ``None`` when SMTP is not configured.

    ``settings["smtp"]`` wins; the ``TRAILMATCH_SMTP_*`` environment variables fill what it
    leaves unset.

    Example:
        >>> smtp_config({}, {"TRAILMATCH_SMTP_HOST": "127.0.0.1", "TRAILMATCH_SMTP_PORT": "2525"}).description
        'smtp://127.0.0.1:2525'
        >>> smtp_config({"smtp": {"host": "mail", "password_env": "PW"}}, {"PW": "x"}).password
        'x'
        >>> smtp_config({}, {}) is None
        True
    """
    configured = settings.get("smtp") or {}
    if not isinstance(configured, Mapping):
        raise ConfigError("settings.smtp must be a mapping")
    from_env = {
        key: environ[_ENV + key.upper()]
        for key in ("host", "port", "username", "password", "from", "starttls")
        if environ.get(_ENV + key.upper())
    }
    merged: dict[str, Any] = dict(from_env)
    for key, value in configured.items():
        if value is None:
            continue
        merged[key] = value
        if key.endswith("_env"):
            merged.pop(key[: -len("_env")], None)
    return _smtp_from(merged, environ, None)


def build_email(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    display_name: str = "",
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A plain-text UTF-8 message.

    Example:
        >>> m = build_email(sender="a@x", recipients=["b@y"], subject="S", body="hi", display_name="Alerts")
        >>> m["From"], m["To"], m["Subject"], m.get_content().strip()
        ('Alerts <a@x>', 'b@y', 'S', 'hi')
    """
    message = EmailMessage()
    message["From"] = formataddr((display_name, sender)) if display_name else sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body, subtype="plain", charset="utf-8")
    return message


def send_email(config: SmtpConfig, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Sends ``message`` to ``recipients``.

    Raises:
        DeliveryError: with ``NO_PERMISSIONS`` (authentication), ``NO_RESOURCE`` (recipients
            refused), ``CONNECTION_FAILURE``/``TIMEOUT``/``SDK_CLIENT_ERROR`` (retriable) or
            ``INVALID_PARAMETER``; the message names the server, never the password.
    """
    where = config.description
    try:
        smtp: smtplib.SMTP
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with smtp:
            if config.starttls and not config.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message, from_addr=config.sender, to_addrs=list(recipients))
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(NO_PERMISSIONS, f"{where} refused the login ({e.smtp_code})", retriable=False) from None
    except smtplib.SMTPNotSupportedError as e:
        raise DeliveryError(INVALID_PARAMETER, f"{where}: {_first_line(e)}", retriable=False) from None
    except smtplib.SMTPRecipientsRefused as e:
        codes = sorted({str(code) for code, _ in e.recipients.values()})
        raise DeliveryError(
            NO_RESOURCE, f"{where} refused the recipients {sorted(e.recipients)} ({', '.join(codes)})", retriable=False
        ) from None
    except smtplib.SMTPResponseException as e:
        transient = 400 <= e.smtp_code < 500
        code = SDK_CLIENT_ERROR if transient else INVALID_PARAMETER
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        raise DeliveryError(code, f"{where} answered {e.smtp_code} {text[:200]}", retriable=transient) from None
    except TimeoutError:
        raise DeliveryError(TIMEOUT, f"{where} did not answer within {config.timeout:g} s", retriable=True) from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError(CONNECTION_FAILURE, f"{where} closed the connection", retriable=True) from None
    except smtplib.SMTPException as e:
        raise DeliveryError(SDK_CLIENT_ERROR, f"{where}: {type(e).__name__}", retriable=True) from None
    except ssl.SSLError as e:
        raise DeliveryError(CONNECTION_FAILURE, f"{where}: TLS failed ({e.reason})", retriable=False) from None
    except OSError as e:
        raise DeliveryError(CONNECTION_FAILURE, f"{where}: {e.strerror or type(e).__name__}", retriable=True) from None


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, Sequence):
        items = [str(v).strip() for v in value]
    else:
        items = []
    items = [v for v in items if v]
    if not items:
        raise ConfigError("email: option to (a list of addresses) is required")
    return items


class EmailDestination(Destination):
    """Sends each payload as an email (SNS-like: subject "AWS Notification Message").

    Options: ``to`` (address or list), ``from``, ``subject``, ``display_name`` and any SMTP
    key (``host``, ``port``, ``username``, ``password_env``, ``starttls``, ``ssl``) to override
    the deployment's SMTP settings.
    """

    kind = "email"

    def __init__(self, options: Mapping[str, Any], context: Context) -> None:
        self.recipients = _recipients(option(options, "to", context.environ))
        base = smtp_config(context.settings, context.environ)
        config = _smtp_from(options, context.environ, base)
        if config is None:
            raise ConfigError(
                "email: SMTP is not configured (settings.smtp.host, TRAILMATCH_SMTP_HOST or the destination's host)"
            )
        sender = option(options, "from", context.environ)
        self.config = replace(config, sender=str(sender)) if sender else config
        configured_subject = option(options, "subject", context.environ)
        #: Whether ``subject`` was set: it then wins over a publication's own subject.
        self.subject_configured = bool(configured_subject)
        self.subject = str(configured_subject or DEFAULT_SUBJECT)
        self.display_name = str(option(options, "display_name", context.environ) or "")

    @property
    def description(self) -> str:
        return f"email to {', '.join(self.recipients)} via {self.config.description}"

    def secrets(self) -> tuple[str, ...]:
        return (self.config.password,) if self.config.password else ()

    def send(self, delivery: Delivery) -> None:
        publication = publication_of(delivery)
        subject = self.subject
        body = delivery.payload
        if publication is not None:
            if publication.subject and not self.subject_configured:
                subject = publication.subject
            body = publication.message_for("email")
        message = build_email(
            sender=self.config.sender,
            recipients=self.recipients,
            subject=subject,
            body=body,
            display_name=self.display_name,
            headers={"X-Trailmatch-Rule": delivery.rule.arn, "X-Trailmatch-Target": delivery.target.id},
        )
        send_email(self.config, message, self.recipients)
