"""Email over SMTP (STARTTLS, implicit TLS or plain) with aiosmtplib; the reply decides retry or failure."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from backend.core.errors import ValidationFailed
from backend.core.settings import NotifySettings
from backend.notify.render import Message
from backend.notify.schemas import SendResult
from backend.notify.tls import client_context

REPLY_CHARS = 300


def normalize_address(address: str) -> str:
    """The address in canonical form, or ValidationFailed naming the problem."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(f"invalid email address {address!r}: {exc}") from None


def build(to: str, message: Message, settings: NotifySettings) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.smtp_from or settings.smtp_username
    mail["To"] = to
    mail["Date"] = formatdate(localtime=False)
    domain = (settings.smtp_from or "tft-trader.invalid").rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def _reply(code: int | None, text: str) -> str:
    return (f"{code} {text}" if code else text).strip()[:REPLY_CHARS]


def _by_code(code: int, text: str) -> SendResult:
    # 4xx is the server saying "not now" (greylisting, mailbox busy); 5xx is a permanent refusal.
    outcome: Literal["retry", "failed"] = "retry" if 400 <= code < 500 else "failed"
    return SendResult(outcome, code=code, reply=_reply(code, text), error=f"SMTP server replied {code}")


async def send(to: str, message: Message, settings: NotifySettings) -> SendResult:
    """One attempt to mail `message` to `to`."""
    if not settings.smtp_host or not (settings.smtp_from or settings.smtp_username):
        # Kept pending: the user can still configure the server within the retry window.
        return SendResult(
            "retry", error="SMTP is not configured: set NOTIFY__SMTP_HOST and NOTIFY__SMTP_FROM"
        )
    mail = build(to, message, settings)
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        # True: STARTTLS or nothing (no silent downgrade to plain text); False: never.
        start_tls=settings.smtp_security == "starttls",
        tls_context=client_context("smtp"),
        timeout=settings.smtp_timeout_seconds,
    )
    try:
        async with client:
            if settings.smtp_username:
                await client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            _refused, response = await client.send_message(mail)
    except aiosmtplib.SMTPAuthenticationError as exc:
        # Retrying a wrong password only gets the account locked: fail now with the server's words.
        return SendResult(
            "failed", code=exc.code, reply=_reply(exc.code, exc.message), error="SMTP login refused"
        )
    except aiosmtplib.SMTPNotSupported as exc:  # e.g. AUTH offered only after STARTTLS
        return SendResult(
            "failed", reply=_reply(None, exc.message), error=f"SMTP login impossible: {exc.message}"
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        return _by_code(first.code, first.message)
    except aiosmtplib.SMTPResponseException as exc:
        return _by_code(exc.code, exc.message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return SendResult("retry", error=f"SMTP connection failed: {type(exc).__name__}: {exc}"[:500])
    return SendResult("sent", code=250, reply=_reply(250, response))
