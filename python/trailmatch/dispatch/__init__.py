"""Delivery: destinations, retries, dead letters and dedup for what rule targets receive.

:class:`Dispatcher` is the entry point (resolution order, retries, dead letters, dedup and
secret handling are described in :mod:`trailmatch.dispatch.dispatcher`). Destination kinds:
``stdout``, ``file``, ``webhook`` (:mod:`.destinations`), ``slack`` (:mod:`.slack`), ``sns``
and emulated topics (:mod:`.sns`), ``email`` (:mod:`.email`).

Example:
    >>> import io
    >>> from trailmatch import model
    >>> from trailmatch.dispatch import Dispatcher
    >>> target = model.Target(id="to-file", arn="arn:aws:sqs:us-east-1:1:q",
    ...                       destination=model.DestinationSpec("stdout", {"prefix": False}))
    >>> rule = model.Rule(name="r", region="us-east-1", account="1", event_pattern="{}", targets=(target,))
    >>> out = io.StringIO()
    >>> with Dispatcher(model.Deployment(rules=[rule]), stdout=out) as d:
    ...     d.deliver(rule, target, {"id": "1", "detail": {}}, event_id="1").status
    'delivered'
    >>> out.getvalue()
    '{"id":"1","detail":{}}\\n'
"""

from __future__ import annotations

from trailmatch.dispatch.base import Delivery, DeliveryError, Destination, scrub
from trailmatch.dispatch.destinations import (
    DESTINATION_TYPES,
    FileDestination,
    InvalidDestination,
    StdoutDestination,
    WebhookDestination,
    build_destination,
)
from trailmatch.dispatch.dispatcher import Dispatcher, Outcome, SummaryKey, glob_match, is_bus_arn
from trailmatch.dispatch.dlq import DeadLetterSpool
from trailmatch.dispatch.email import EmailDestination, SmtpConfig, smtp_config
from trailmatch.dispatch.retry import Backoff
from trailmatch.dispatch.slack import SlackDestination, slack_message
from trailmatch.dispatch.sns import SnsDestination, TopicDestination, notification, sns_settings

__all__ = [
    "DESTINATION_TYPES",
    "Backoff",
    "DeadLetterSpool",
    "Delivery",
    "DeliveryError",
    "Destination",
    "Dispatcher",
    "EmailDestination",
    "FileDestination",
    "InvalidDestination",
    "Outcome",
    "SlackDestination",
    "SmtpConfig",
    "SnsDestination",
    "StdoutDestination",
    "SummaryKey",
    "TopicDestination",
    "WebhookDestination",
    "build_destination",
    "glob_match",
    "is_bus_arn",
    "notification",
    "scrub",
    "slack_message",
    "smtp_config",
    "sns_settings",
]
