"""Amazon SNS: publishing with boto3, or emulating a topic's email and HTTP(S) subscriptions.

**Publishing** (:class:`SnsDestination`, kind ``sns``): ``Publish`` to the topic through boto3
(imported only when needed), to AWS or to any SNS-compatible endpoint (``endpoint_url``).
Credentials follow boto3's usual chain; ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN`` / ``AWS_PROFILE`` of the dispatcher's environment are passed explicitly.
boto3's own retries are off: the target's ``RetryPolicy`` governs.

**Emulating** (:class:`TopicDestination`, kind ``topic``): when a rule targets a topic that
the deployment defines and no SNS endpoint is configured, trailmatch delivers to the topic's
subscriptions itself, as SNS would:

* ``email``: an email whose body is the message and a footer as SNS writes it; subject "AWS
  Notification Message" (or the publication's subject); sender name the topic's
  ``DisplayName`` (else "AWS Notifications").
* ``email-json``: an email whose body is the notification JSON below.
* ``http`` / ``https``: a POST of the notification JSON (``Content-Type: text/plain;
  charset=UTF-8``, headers ``x-amz-sns-message-type``, ``x-amz-sns-message-id``,
  ``x-amz-sns-topic-arn``, ``x-amz-sns-subscription-arn``), or of the bare message with
  ``RawMessageDelivery``.
* other protocols (``sqs``, ``lambda``, ``firehose``, ``sms``, ``application``): not delivered
  (listed as unbound); a topic with no deliverable subscription is not bound at all.

The notification JSON has SNS's fields and layout (``Type``, ``MessageId``, ``TopicArn``,
``Message``, ``Timestamp``, ``SignatureVersion``, ``Signature``, ``SigningCertURL``,
``UnsubscribeURL``; ``Subject`` only when set, which EventBridge never does and CloudWatch
alarms always do). A :class:`~trailmatch.dispatch.email.Publication` (an alarm notification)
gives each protocol its own message when it has one (``MessageStructure=json``: alarms send
e-mail subscriptions a text, everything else JSON) and its subject. **Not real**:
``Signature`` is empty (nothing is signed: receivers that verify signatures reject it),
``SigningCertURL`` is empty, the subscription ARNs are made up (a UUID derived from the
topic and endpoint) and the unsubscribe links lead nowhere. ``MessageId`` is a UUID derived
from the rule, target, event id and topic, so a re-run sends the same id.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from trailmatch import model
from trailmatch.dispatch import http
from trailmatch.dispatch.base import (
    CONNECTION_FAILURE,
    INVALID_PARAMETER,
    NO_PERMISSIONS,
    NO_RESOURCE,
    SDK_CLIENT_ERROR,
    THROTTLING,
    TIMEOUT,
    Delivery,
    DeliveryError,
    Destination,
)
from trailmatch.dispatch.email import DEFAULT_SUBJECT, SmtpConfig, build_email, publication_of, send_email
from trailmatch.dispatch.options import Context, option

__all__ = [
    "EMULATED_PROTOCOLS",
    "SnsDestination",
    "TopicDestination",
    "notification",
    "sns_settings",
    "subscription_arn",
]

#: Subscription protocols trailmatch delivers itself.
EMULATED_PROTOCOLS = ("email", "email-json", "http", "https")
_NAMESPACE = uuid.UUID("5b4e3b0e-52a4-4a55-9d0e-1f0c3a8e6d11")

_PERMISSION_CODES = frozenset(
    {
        "AuthorizationError",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSecurity",
        "KMSAccessDenied",
        "KMSAccessDeniedException",
    }
)
_NOT_FOUND_CODES = frozenset({"NotFound", "NotFoundException", "ResourceNotFoundException"})
_THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException"}
)


def sns_settings(settings: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str] | None:
    """The SNS endpoint of a deployment (``settings["sns"]`` or ``TRAILMATCH_SNS_ENDPOINT_URL`` /
    ``TRAILMATCH_SNS_REGION``): ``{"endpoint_url", "region"?}``, or ``None`` when not configured.

    Example:
        >>> sns_settings({"sns": {"endpoint_url": "http://127.0.0.1:5000", "region": "eu-west-1"}}, {})
        {'endpoint_url': 'http://127.0.0.1:5000', 'region': 'eu-west-1'}
        >>> sns_settings({}, {}) is None
        True
    """
    configured = settings.get("sns") or {}
    endpoint = option(configured, "endpoint_url", environ) or environ.get("TRAILMATCH_SNS_ENDPOINT_URL")
    if not endpoint:
        return None
    result = {"endpoint_url": str(endpoint)}
    region = option(configured, "region", environ) or environ.get("TRAILMATCH_SNS_REGION")
    if region:
        result["region"] = str(region)
    return result


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def subscription_arn(topic_arn: str, subscription: model.Subscription) -> str:
    """A made-up but stable subscription ARN (``<topic ARN>:<uuid>``).

    Example:
        >>> subscription_arn("arn:aws:sns:us-east-1:1:t", model.Subscription("email", "a@example.com"))
        'arn:aws:sns:us-east-1:1:t:...'
    """
    return f"{topic_arn}:{uuid.uuid5(_NAMESPACE, f'{topic_arn}|{subscription.protocol}|{subscription.endpoint}')}"


def _timestamp() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def notification(
    topic_arn: str,
    message: str,
    *,
    message_id: str,
    subscription: str,
    subject: str | None = None,
    timestamp: str | None = None,
) -> str:
    """The JSON body SNS sends to HTTP(S) and ``email-json`` subscribers, in SNS's layout.

    Example:
        >>> print(notification("arn:aws:sns:us-east-1:1:t", "hi", message_id="m-1",
        ...                    subscription="arn:aws:sns:us-east-1:1:t:s", timestamp="2024-01-01T00:00:00.000Z"))
        {
          "Type" : "Notification",
          "MessageId" : "m-1",
          "TopicArn" : "arn:aws:sns:us-east-1:1:t",
          "Message" : "hi",
          "Timestamp" : "2024-01-01T00:00:00.000Z",
          "SignatureVersion" : "1",
          "Signature" : "",
          "SigningCertURL" : "",
          "UnsubscribeURL" : "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:1:t:s"
        }
    """
    region = _region_of(topic_arn) or "us-east-1"
    body: dict[str, str] = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn}
    if subject is not None:
        body["Subject"] = subject
    body.update(
        {
            "Message": message,
            "Timestamp": timestamp or _timestamp(),
            "SignatureVersion": "1",
            "Signature": "",
            "SigningCertURL": "",
            "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
        }
    )
    return json.dumps(body, indent=2, separators=(",", " : "), ensure_ascii=False)


def _message_id(delivery: Delivery, topic_arn: str) -> str:
    key = f"{delivery.rule.arn}|{delivery.target.id}|{delivery.event_id}|{topic_arn}"
    return str(uuid.uuid5(_NAMESPACE, key))


# --- publishing with boto3 ----------------------------------------------------------------------


class SnsDestination(Destination):
    """``Publish`` to an SNS topic with boto3.

    Options: ``topic_arn`` (default: the target's ARN), ``endpoint_url``/``endpoint_url_env``,
    ``region`` (default: the topic's), ``subject``, ``timeout`` (seconds, default 10).
    """

    kind = "sns"

    def __init__(self, options: Mapping[str, Any], context: Context, *, default_topic: str) -> None:
        environ = context.environ
        configured = sns_settings(context.settings, environ) or {}
        self.topic_arn = str(option(options, "topic_arn", environ) or default_topic)
        self.endpoint_url: str | None = option(options, "endpoint_url", environ) or configured.get("endpoint_url")
        self.region = str(
            option(options, "region", environ) or configured.get("region") or _region_of(self.topic_arn) or "us-east-1"
        )
        subject = option(options, "subject", environ)
        self.subject: str | None = str(subject) if subject else None
        self.timeout = float(option(options, "timeout", environ, 10.0))
        self._credentials = {
            "aws_access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": environ.get("AWS_SESSION_TOKEN"),
        }
        self._profile = environ.get("AWS_PROFILE")
        self._client: Any = None

    @property
    def description(self) -> str:
        where = f" via {self.endpoint_url}" if self.endpoint_url else ""
        return f"sns {self.topic_arn}{where}"

    def secrets(self) -> tuple[str, ...]:
        return tuple(v for k, v in self._credentials.items() if v and k != "aws_access_key_id")

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            boto3 = importlib.import_module("boto3")
            botocore_config = importlib.import_module("botocore.config")
        except ImportError:
            raise DeliveryError(
                SDK_CLIENT_ERROR,
                "boto3 is not installed: `pip install boto3` to publish to SNS",
                retriable=False,
            ) from None
        if self._credentials["aws_access_key_id"] and self._credentials["aws_secret_access_key"]:
            session = boto3.session.Session(region_name=self.region, **self._credentials)
        else:
            session = boto3.session.Session(region_name=self.region, profile_name=self._profile)
        self._client = session.client(
            "sns",
            endpoint_url=self.endpoint_url,
            config=botocore_config.Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
            ),
        )
        return self._client

    def send(self, delivery: Delivery) -> None:
        client = self._get_client()
        bx = importlib.import_module("botocore.exceptions")

        kwargs: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": delivery.payload}
        publication = publication_of(delivery)
        subject = self.subject or (publication.subject if publication is not None else None)
        if subject:
            kwargs["Subject"] = subject
        if publication is not None and publication.messages:
            # per-protocol messages: SNS picks each subscription's own, "default" for the rest
            kwargs["Message"] = json.dumps({"default": delivery.payload, **publication.messages}, ensure_ascii=False)
            kwargs["MessageStructure"] = "json"
        what = f"SNS Publish to {self.topic_arn}"
        try:
            client.publish(**kwargs)
        except bx.ClientError as e:
            error = e.response.get("Error", {})
            code = str(error.get("Code", "?"))
            text = str(error.get("Message", ""))[:200]
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            message = f"{what}: {code}" + (f": {text}" if text else "")
            if code in _PERMISSION_CODES or status in (401, 403):
                raise DeliveryError(NO_PERMISSIONS, message, retriable=False) from None
            if code in _NOT_FOUND_CODES or status == 404:
                raise DeliveryError(NO_RESOURCE, message, retriable=False) from None
            if code in _THROTTLE_CODES or status == 429:
                raise DeliveryError(THROTTLING, message, retriable=True) from None
            if status >= 500:
                raise DeliveryError(SDK_CLIENT_ERROR, message, retriable=True) from None
            raise DeliveryError(INVALID_PARAMETER, message, retriable=False) from None
        except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound):
            raise DeliveryError(NO_PERMISSIONS, f"{what}: no AWS credentials", retriable=False) from None
        except (bx.ConnectTimeoutError, bx.ReadTimeoutError):
            raise DeliveryError(TIMEOUT, f"{what}: no answer within {self.timeout:g} s", retriable=True) from None
        except bx.EndpointConnectionError:
            raise DeliveryError(CONNECTION_FAILURE, f"{what}: cannot connect to the endpoint", retriable=True) from None
        except bx.ParamValidationError:
            raise DeliveryError(INVALID_PARAMETER, f"{what}: invalid parameters", retriable=False) from None
        except bx.BotoCoreError as e:
            raise DeliveryError(SDK_CLIENT_ERROR, f"{what}: {type(e).__name__}", retriable=True) from None


# --- emulating a topic's subscriptions ----------------------------------------------------------


def _email_footer(topic: model.Topic, sub_arn: str, endpoint: str) -> str:
    return (
        "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link "
        "below to unsubscribe:\n"
        f"https://sns.{topic.region}.amazonaws.com/unsubscribe.html?SubscriptionArn={sub_arn}"
        f"&Endpoint={quote(endpoint, safe='@')}\n\n"
        "Please do not reply directly to this email. If you have any questions or comments regarding this email, "
        "please contact us at https://aws.amazon.com/support\n"
    )


class TopicDestination(Destination):
    """Delivers to the email and HTTP(S) subscriptions of a topic of the deployment (see the
    module docs). Each subscription is tried once per attempt until it succeeds; a retry sends
    only to the subscriptions that have not received the message yet."""

    kind = "topic"

    def __init__(self, topic: model.Topic, *, smtp: SmtpConfig | None, timeout: float = 15.0) -> None:
        self.topic = topic
        self.smtp = smtp
        self.timeout = timeout
        self.bound: list[model.Subscription] = []
        self.unbound: list[model.Subscription] = []
        for sub in topic.subscriptions:
            protocol = sub.protocol.lower()
            if protocol in ("http", "https") or (protocol in ("email", "email-json") and smtp is not None):
                self.bound.append(sub)
            else:
                self.unbound.append(sub)

    @property
    def description(self) -> str:
        parts = [f"{s.protocol}" for s in self.bound]
        return f"topic {self.topic.name} ({', '.join(parts) or 'no deliverable subscription'})"

    def secrets(self) -> tuple[str, ...]:
        # HTTP(S) endpoints may carry tokens in their URL: scrub them too.
        found = [s.endpoint for s in self.bound if s.protocol.lower() in ("http", "https")]
        if self.smtp is not None and self.smtp.password:
            found.append(self.smtp.password)
        return tuple(found)

    def send(self, delivery: Delivery) -> None:
        done: set[int] = delivery.progress.setdefault("topic_done", set())
        failed_for_good: dict[int, DeliveryError] = delivery.progress.setdefault("topic_failed", {})
        message_id = _message_id(delivery, self.topic.arn)
        retriable: list[tuple[model.Subscription, DeliveryError]] = []
        for index, sub in enumerate(self.bound):
            if index in done or index in failed_for_good:
                continue
            try:
                self._send_one(sub, delivery, message_id)
            except DeliveryError as e:
                if e.retriable:
                    retriable.append((sub, e))
                else:
                    failed_for_good[index] = e
            else:
                done.add(index)
        if retriable:
            first = retriable[0][1]
            raise DeliveryError(first.code, self._summary(retriable, failed_for_good), retriable=True)
        if failed_for_good:
            first = next(iter(failed_for_good.values()))
            raise DeliveryError(first.code, self._summary([], failed_for_good), retriable=False)

    def _summary(
        self, retriable: Sequence[tuple[model.Subscription, DeliveryError]], permanent: Mapping[int, DeliveryError]
    ) -> str:
        texts = [
            f"{sub.protocol} {sub.endpoint if 'email' in sub.protocol else ''}".rstrip() + f": {e}"
            for sub, e in retriable
        ]
        texts += [f"{self.bound[i].protocol}: {e}" for i, e in permanent.items()]
        return f"topic {self.topic.name}: " + "; ".join(texts)

    def _send_one(self, sub: model.Subscription, delivery: Delivery, message_id: str) -> None:
        protocol = sub.protocol.lower()
        sub_arn = subscription_arn(self.topic.arn, sub)
        publication = publication_of(delivery)
        message = publication.message_for(protocol) if publication is not None else delivery.payload
        subject = publication.subject if publication is not None else None
        if protocol in ("http", "https"):
            raw = sub.raw_message_delivery
            body = (
                message
                if raw
                else notification(self.topic.arn, message, message_id=message_id, subscription=sub_arn, subject=subject)
            )
            headers = {
                "Content-Type": "text/plain; charset=UTF-8",
                "x-amz-sns-message-type": "Notification",
                "x-amz-sns-message-id": message_id,
                "x-amz-sns-topic-arn": self.topic.arn,
                "x-amz-sns-subscription-arn": sub_arn,
                "User-Agent": "Amazon Simple Notification Service Agent",
            }
            if raw:
                headers["x-amz-sns-rawdelivery"] = "true"
            http.post(
                sub.endpoint,
                body.encode("utf-8"),
                headers,
                timeout=self.timeout,
                what=f"topic {self.topic.name} {protocol} subscription",
            )
            return
        assert self.smtp is not None
        if protocol == "email-json":
            body = notification(self.topic.arn, message, message_id=message_id, subscription=sub_arn, subject=subject)
        else:
            body = message + _email_footer(self.topic, sub_arn, sub.endpoint)
        email = build_email(
            sender=self.smtp.sender,
            recipients=[sub.endpoint],
            subject=subject or DEFAULT_SUBJECT,
            body=body,
            display_name=self.topic.display_name or "AWS Notifications",
            headers={"X-Trailmatch-Topic": self.topic.arn, "X-Trailmatch-Message-Id": message_id},
        )
        send_email(self.smtp, email, [sub.endpoint])
