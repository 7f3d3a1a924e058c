"""HTTP POST with the standard library, failures classified as EventBridge error codes.

Redirects are not followed (a redirected POST would lose its body); error messages name the
destination by its description only, never by its URL (webhook URLs are secrets).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from trailmatch.dispatch.base import (
    CONNECTION_FAILURE,
    INVALID_PARAMETER,
    NO_PERMISSIONS,
    NO_RESOURCE,
    SDK_CLIENT_ERROR,
    THROTTLING,
    TIMEOUT,
    DeliveryError,
)

__all__ = ["classify_status", "post"]

_USER_AGENT = "trailmatch"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def classify_status(status: int) -> tuple[str, bool]:
    """EventBridge ``ERROR_CODE`` and retriability of a non-2xx HTTP status.

    Example:
        >>> classify_status(429), classify_status(403), classify_status(503), classify_status(400)
        (('THROTTLING', True), ('NO_PERMISSIONS', False), ('SDK_CLIENT_ERROR', True), ('INVALID_PARAMETER', False))
    """
    if status == 429:
        return THROTTLING, True
    if status == 408:
        return TIMEOUT, True
    if status in (401, 403):
        return NO_PERMISSIONS, False
    if status in (404, 410):
        return NO_RESOURCE, False
    if status >= 500:
        return SDK_CLIENT_ERROR, True
    return INVALID_PARAMETER, False


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    what: str,
    method: str = "POST",
) -> tuple[int, bytes]:
    """Sends ``body``; returns (status, response body) for a 2xx answer.

    ``what`` names the destination in error messages (for example ``"webhook (url from
    $HOOK_URL)"``): the URL itself never appears in them.

    Raises:
        DeliveryError: non-2xx status, timeout, connection failure.
    """
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("User-Agent", _USER_AGENT)
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as e:
        status = int(e.code)
        try:
            detail = e.read(300).decode("utf-8", "replace").strip()
        except Exception:
            detail = ""
        finally:
            e.close()
        code, retriable = classify_status(status)
        label = "redirect not followed" if 300 <= status < 400 else str(e.reason or "")
        message = f"{what} answered HTTP {status} {label}".rstrip()
        if detail:
            message += f": {detail[:200]}"
        raise DeliveryError(code, message, retriable=retriable) from None
    except TimeoutError:
        raise DeliveryError(TIMEOUT, f"{what} did not answer within {timeout:g} s", retriable=True) from None
    except urllib.error.URLError as e:
        reason: str | BaseException = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise DeliveryError(TIMEOUT, f"{what} did not answer within {timeout:g} s", retriable=True) from None
        if isinstance(reason, socket.gaierror):
            raise DeliveryError(CONNECTION_FAILURE, f"{what}: host name not resolved", retriable=True) from None
        if isinstance(reason, str):
            text = reason
        elif isinstance(reason, OSError) and reason.strerror:
            text = reason.strerror
        else:
            text = type(reason).__name__
        raise DeliveryError(CONNECTION_FAILURE, f"{what}: {text}", retriable=True) from None
    except http.client.HTTPException as e:
        raise DeliveryError(CONNECTION_FAILURE, f"{what}: {type(e).__name__}", retriable=True) from None
    except (ConnectionError, OSError) as e:
        text = e.strerror or type(e).__name__
        raise DeliveryError(CONNECTION_FAILURE, f"{what}: {text}", retriable=True) from None
    except ValueError:
        # urllib rejects malformed URLs with ValueError("unknown url type: ...") naming the URL.
        raise DeliveryError(NO_RESOURCE, f"{what}: the URL is not a valid http(s) URL", retriable=False) from None
