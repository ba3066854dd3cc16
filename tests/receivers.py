"""Real servers for the notification tests: an HTTP(S) webhook receiver and an SMTP server (aiosmtpd).

Both run on 127.0.0.1 on free ports, in threads, and record what they received.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "trader", "s3cret-pass"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """`responses[path]`: a list of status codes answered in turn (the last one repeats), or "hang:S"
    (sleep S seconds first), or "redirect" (302 to /ok)."""

    port: int = 0
    scheme: str = "http"
    responses: dict[str, list[Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def hits(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> Any:
        queue = self.responses.get(path, [200])
        return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def webhook_receiver(tls: ssl.SSLContext | None = None) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(scheme="https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            receiver.received.append(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            answer = receiver.answer(self.path)
            if isinstance(answer, str) and answer.startswith("hang:"):
                time.sleep(float(answer.split(":")[1]))
                answer = 200
            if answer == "redirect":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(int(answer))
            payload = b"secret internal detail from the receiver"
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (the timeout test) breaks the pipe: expected

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Certificates:
    ca_file: Path
    server: ssl.SSLContext


def certificates(tmp: Path, *hosts: str) -> Certificates:
    """A throwaway CA (trustme) and a server certificate for `hosts`; the CA as a PEM file for clients."""
    ca = trustme.CA()
    ca_file = tmp / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*hosts).configure_cert(context)
    return Certificates(ca_file, context)


class MailHandler:
    """Collects messages; recipients starting with "busy" get a 450, "nouser" a 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("busy"):
            return "450 4.2.1 mailbox busy, try later"
        if address.startswith("nouser"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 2.0.0 queued"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers the refusal itself (535); True would leave the client waiting.
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(tls: ssl.SSLContext) -> Iterator[tuple[int, MailHandler]]:
    """aiosmtpd with STARTTLS required before AUTH (its default `auth_require_tls`), login required."""
    handler = MailHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def free_port() -> int:
    # aiosmtpd's controller needs the number up front (it connects to itself to check it is up).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
