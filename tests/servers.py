"""Real local servers for delivery tests: SMTP (aiosmtpd), HTTP (standard library), AWS (moto).

Each server listens on 127.0.0.1 on a free port, records what it receives and is stopped when
the test ends; nothing leaves the machine. Use them as pytest fixtures by naming this module
as a plugin in the test module::

    pytest_plugins = ["servers"]

    def test_webhook(http_server):
        http_server.fail_first(2, status=500)        # then 200
        ...
        assert [r.method for r in http_server.requests] == ["POST"] * 3

Import the classes for annotations only (``if TYPE_CHECKING:``): importing this module before
pytest loads it as a plugin keeps pytest from rewriting its asserts (and it warns).

Fixtures: ``closed_port`` (a port where nothing listens), ``smtp_server`` (:class:`SmtpServer`),
``http_server`` (:class:`HttpServer`), ``moto_server`` (the endpoint URL of a moto server;
fake AWS credentials are set in the environment for the test). The classes are context
managers too, for tests that need a particular setup (``SmtpServer(auth=("user",
"password"))``). The servers' packages (aiosmtpd, moto, boto3) are test requirements
(``pip install '.[test]'``): a missing one fails the test rather than skipping it, so a run
never passes without exercising them.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import importlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "HttpServer",
    "ReceivedMail",
    "RecordedRequest",
    "SmtpServer",
    "closed_port",
    "free_port",
    "http_server",
    "moto_server",
    "smtp_server",
]

_LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_LOOPBACK, 0))
        return int(s.getsockname()[1])


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    return free_port()


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The text body, with the line breaks of SMTP (CRLF) as ``\\n``."""
        part = self.message.get_body(preferencelist=("plain",))
        return str(part.get_content()).replace("\r\n", "\n") if part is not None else ""


class SmtpServer:
    """An aiosmtpd SMTP server recording every message (``messages``); optionally requiring
    AUTH PLAIN/LOGIN with ``auth=(username, password)`` (over plain text: test only)."""

    def __init__(self, *, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.host = _LOOPBACK
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def __enter__(self) -> SmtpServer:
        controller_mod = importlib.import_module("aiosmtpd.controller")
        smtp_mod = importlib.import_module("aiosmtpd.smtp")
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
                data = envelope.original_content or envelope.content
                raw = data if isinstance(data, bytes) else str(data).encode()
                message = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                with server._lock:
                    server.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), raw, message))
                return "250 Message accepted for delivery"

        kwargs: dict[str, Any] = {}
        if self.auth is not None:
            expected_user, expected_password = self.auth

            def authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> Any:
                ok = (
                    isinstance(data, smtp_mod.LoginPassword)
                    and data.login.decode() == expected_user
                    and data.password.decode() == expected_password
                )
                if ok:
                    server.logins.append(expected_user)
                return smtp_mod.AuthResult(success=ok, handled=False)

            kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
            # AUTH over plain text is what this test server is for (pytest restores the filters).
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        self.port = free_port()
        self._controller = controller_mod.Controller(Handler(), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The first ``count`` messages, waiting for them to arrive."""
        _wait_until(lambda: len(self.messages) >= count, timeout, f"{count} message(s)")
        return self.messages[:count]

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``settings["smtp"]`` for a deployment that sends here."""
        return {"host": self.host, "port": self.port, **extra}


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running :class:`SmtpServer` without authentication."""
    with SmtpServer() as server:
        yield server


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as the HTTP server received it (header names as sent)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header, by case-insensitive name."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HttpServer:
    """A threaded HTTP server that records every request (``requests``) and answers from a
    script: queued responses first (:meth:`respond`, :meth:`fail_first`), then the default
    (``200 ok`` unless changed with :meth:`always`)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Response] = deque()
        self._default = _Response(200, b"ok")
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return f"http://{_LOOPBACK}:{self.port}"

    def respond(
        self,
        status: int = 200,
        body: bytes | str = b"ok",
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> HttpServer:
        """Queues ``times`` answers (``delay`` seconds late: at most 5)."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            for _ in range(times):
                self._script.append(_Response(status, data, dict(headers or {}), min(delay, 5.0)))
        return self

    def fail_first(self, count: int, status: int = 500, body: bytes | str = b"failure") -> HttpServer:
        """The next ``count`` requests get ``status``; later ones the default."""
        return self.respond(status, body, times=count)

    def always(self, status: int, body: bytes | str = b"") -> HttpServer:
        """Changes the default answer (after the queued ones)."""
        with self._lock:
            self._default = _Response(status, body.encode() if isinstance(body, str) else body)
        return self

    def _next(self) -> _Response:
        with self._lock:
            return self._script.popleft() if self._script else self._default

    def __enter__(self) -> HttpServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.requests.append(RecordedRequest(self.command, self.path, dict(self.headers.items()), body))
                answer = server._next()
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(answer.body)

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((_LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-server", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpServer]:
    """A running :class:`HttpServer` (proxy variables cleared so requests stay local)."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with HttpServer() as server:
        yield server


# --- AWS (moto) ---------------------------------------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free port: yields its endpoint URL. Sets fake AWS credentials and
    region in the environment and isolates the test from the user's AWS configuration."""
    server_mod = importlib.import_module("moto.server")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "AWS_PROFILE", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing-session-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address=_LOOPBACK, port=port, verbose=False)
    server.start()
    url = f"http://{_LOOPBACK}:{port}"
    try:
        _wait_until(lambda: _reachable(url), 10.0, "the moto server")
        reset = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(reset, timeout=10):
            pass
        yield url
    finally:
        server.stop()


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
