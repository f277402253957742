"""Where outgoing email goes: an SMTP server (aiosmtplib) or a folder of `.eml` files.

A `Sender` delivers one envelope and says how it went: it returns the server's reply, or raises
`TemporarySendError` (4xx, a dropped connection, a timeout: try again later) or
`PermanentSendError` (5xx: the server will never take it). Tests and other transports swap the
sender; nothing patches an import path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from models.addresses import plaintext_auth_refusal


@dataclass(frozen=True)
class SmtpOptions:
    """How to reach the SMTP server and how fast to send to it."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    starttls: bool = False
    use_tls: bool = False  # implicit TLS from the first byte (port 465)
    ca_file: Path | None = None  # PEM certificates to trust besides the system's
    timeout: float = 30.0  # seconds for any one SMTP command
    rate: float = 0.0  # messages started per second; 0 or less means no limit
    concurrency: int = 4  # connections at most
    allow_plaintext_auth: bool = False  # honoured only for a loopback host

    def __post_init__(self) -> None:
        refusal = plaintext_auth_refusal(
            self.host,
            has_credentials=self.username is not None or self.password is not None,
            tls=self.starttls or self.use_tls,
            allow_plaintext=self.allow_plaintext_auth,
        )
        if refusal is not None:
            raise PlaintextAuthError(refusal)


class PlaintextAuthError(ValueError):
    """A login would send the password in clear: refused before any connection."""


@dataclass(frozen=True)
class Envelope:
    id: int  # the outbox row
    kind: str
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    data: bytes  # the RFC 5322 message
    copies: tuple[str, ...] = ()  # RCPT TO as well: the Cc addresses


class TemporarySendError(Exception):
    """Not delivered this time; the same message may be tried again later."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class SenderUnavailableError(TemporarySendError):
    """The server cannot be reached or refuses us (connect, TLS, login): no message's fault."""


class PermanentSendError(Exception):
    """Refused for good (an SMTP 5xx reply); trying again would get the same answer."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class Sender(Protocol):
    async def send(self, envelope: Envelope) -> str:
        """Deliver one message; the server's reply on success."""
        ...

    async def aclose(self) -> None: ...


class FileSender:
    """Writes `<folder>/<id>-<kind>.eml`: the embedded default when no SMTP server is configured.

    Writing the same row again replaces its file, so a re-sent message is still one file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, envelope: Envelope) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{envelope.id}-{envelope.kind}.eml"
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(envelope.data)
        os.replace(partial, path)  # atomic: a reader never sees half a message
        return f"written to {path}"

    async def aclose(self) -> None:
        return None


class RateLimiter:
    """At most `rate` starts per second, evenly spaced; a rate of 0 or less means no limit."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await self._sleep(start - now)


class SmtpSender:
    """aiosmtplib over at most `concurrency` reused connections, STARTTLS and AUTH if configured."""

    def __init__(self, options: SmtpOptions) -> None:
        self._smtp = options
        # A private CA (or a self-signed test server) is trusted explicitly, never by turning
        # certificate checks off.
        ca_file = options.ca_file
        self._tls_context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        self._limiter = RateLimiter(options.rate)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, envelope: Envelope) -> str:
        async with self._slots:
            await self._limiter.wait()
            client = self._idle.pop() if self._idle else None
            if client is not None:
                try:
                    await self._mail(client, envelope)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError, TimeoutError):
                    # An idle connection the server closed; nothing was sent on it: reconnect.
                    client.close()
                    client = None
            if client is None:
                client = await self._connect()
                try:
                    await self._mail(client, envelope)
                except (aiosmtplib.SMTPException, OSError) as error:
                    client.close()
                    raise SenderUnavailableError(
                        f"connection lost before sending: {error}"
                    ) from None
            return await self._rcpt_and_data(client, envelope)

    async def _mail(self, client: aiosmtplib.SMTP, envelope: Envelope) -> None:
        try:
            await client.mail(envelope.sender)
        except aiosmtplib.SMTPResponseException as error:
            await self._release(client, error.code)
            if 500 <= error.code < 600:
                # The sender is the same for every message ("530 Must issue STARTTLS", "553
                # sender rejected"): a setup problem, not this message's; nothing is spent.
                raise SenderUnavailableError(
                    f"MAIL FROM refused: {error.code} {error.message}"
                ) from None
            raise TemporarySendError(f"{error.code} {error.message}") from None

    async def _rcpt_and_data(self, client: aiosmtplib.SMTP, envelope: Envelope) -> str:
        try:
            await client.rcpt(envelope.recipient)
            for copy in envelope.copies:
                # A refused copy must not stop the recipient's own message.
                with contextlib.suppress(aiosmtplib.SMTPRecipientRefused):
                    await client.rcpt(copy)
            response = await client.data(envelope.data)
        except aiosmtplib.SMTPResponseException as error:
            await self._release(client, error.code)
            raise _failure(error.code, error.message) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            # Dropped during the transaction: whether the server kept the message is unknown.
            client.close()
            raise TemporarySendError(f"connection lost: {error}") from None
        self._idle.append(client)
        return f"{response.code} {response.message}"

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = self._smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            timeout=smtp.timeout,
            username=smtp.username,
            password=smtp.password,
            start_tls=smtp.starttls,
            use_tls=smtp.use_tls,
            tls_context=self._tls_context,
            # The default asks DNS for this host's FQDN; the plain host name needs no network.
            local_hostname=socket.gethostname(),
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as error:
            client.close()
            raise SenderUnavailableError(f"cannot connect to the SMTP server: {error}") from None
        return client

    async def _release(self, client: aiosmtplib.SMTP, code: int) -> None:
        """After a refused command: keep the connection unless the server is closing it."""
        if code == 421 or not client.is_connected:
            client.close()
            return
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
            return
        self._idle.append(client)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def make_sender(smtp: SmtpOptions | None, *, outbox_dir: Path) -> Sender:
    """SMTP when a server is configured, else `.eml` files in `outbox_dir`."""
    if smtp is not None:
        return SmtpSender(smtp)
    return FileSender(outbox_dir)


def _failure(code: int, message: str) -> TemporarySendError | PermanentSendError:
    reply = f"{code} {message}"
    return PermanentSendError(reply) if 500 <= code < 600 else TemporarySendError(reply)
