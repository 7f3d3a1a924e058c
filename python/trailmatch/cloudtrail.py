"""CloudTrail records as EventBridge events.

CloudTrail delivers each record to EventBridge wrapped in an envelope (``version``, ``id``,
``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``); see
docs/SEMANTICS.md for every field and the decisions where AWS documents nothing.

Example:
    >>> from trailmatch import cloudtrail_to_eventbridge
    >>> event = cloudtrail_to_eventbridge({
    ...     "eventVersion": "1.09", "eventSource": "secretsmanager.amazonaws.com",
    ...     "eventName": "GetSecretValue", "eventType": "AwsApiCall", "awsRegion": "ap-northeast-1",
    ...     "eventTime": "2026-11-22T01:02:03Z", "eventID": "3f1c0a3e-0000-4000-8000-000000000000",
    ...     "recipientAccountId": "111122223333", "readOnly": True, "managementEvent": True})
    >>> event["detail-type"], event["source"], event["region"], event["account"]
    ('AWS API Call via CloudTrail', 'aws.secretsmanager', 'ap-northeast-1', '111122223333')
    >>> event["detail"]["eventName"], event["resources"]
    ('GetSecretValue', [])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from trailmatch import _core

__all__ = ["DEFAULT_SOURCE_OVERRIDES", "cloudtrail_to_eventbridge"]

#: ``eventSource`` → ``source`` overrides applied by default: none. The general rule gives
#: ``monitoring.amazonaws.com`` → ``aws.monitoring``, as AWS's reference page says; community
#: rules written for ``aws.cloudwatch`` need ``source_overrides={"monitoring.amazonaws.com":
#: "aws.cloudwatch"}`` (``--source-override`` on the command line).
DEFAULT_SOURCE_OVERRIDES: dict[str, str] = {}


def cloudtrail_to_eventbridge(
    record: str | bytes | Mapping[str, Any],
    *,
    read_only: Literal["flag", "name-prefix"] = "flag",
    ids: Literal["deterministic", "random"] = "deterministic",
    source_overrides: Mapping[str, str] | None = None,
    vpce_detail_type: str | None = None,
    default_account: str = "123456789012",
) -> dict[str, Any]:
    """The EventBridge event CloudTrail delivers for ``record`` (a record, or an EventBridge
    event, which is returned as it is).

    ``id`` is a UUIDv5 of the record's ``eventID`` (the same on every call) unless
    ``ids="random"``. ``account`` is ``recipientAccountId``, else ``default_account``.

    Raises:
        EventError: ``record`` is not a JSON object, or CloudTrail does not deliver it to
            EventBridge (no ``eventSource``, a network-activity record, an unknown
            ``eventType``, larger than 256 KB); the message says which.
    """
    overrides = dict(DEFAULT_SOURCE_OVERRIDES)
    overrides.update(source_overrides or {})
    if isinstance(record, Mapping) and not isinstance(record, dict):
        record = dict(record)
    text = _core.cloudtrail_to_eventbridge(
        record,
        read_only=read_only,
        ids=ids,
        source_overrides=sorted(overrides.items()),
        vpce_detail_type=vpce_detail_type,
        default_account=default_account,
    )
    event: dict[str, Any] = json.loads(text)
    return event
