"""Email fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1 that records and can misbehave."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.policy
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from accel.inputs import load_inputs
from accel.settings import Settings
from mail.dispatcher import DispatchReport, send_due_messages
from mail.senders import SmtpSender
from models.outbox import OUTBOX
from tasks.mail_settings import dispatch_options, smtp_options
from tasks.operations import apply_cohort

BEFORE_PROGRAM = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
DROP = "drop"  # a scripted reply: close the connection instead of answering


def free_port() -> int:
    """aiosmtpd 1.4.6 cannot take port 0 (its start-up check connects to the given port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def parse(content: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(content)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message_id: str
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return parse(self.content)


@dataclass
class RecordingHandler:
    """Keeps every accepted message; replies can be scripted per recipient or per Message-ID."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply, every time
    data_replies: dict[str, list[str]] = field(default_factory=dict)  # Message-ID -> next replies
    delay: float = 0.0  # seconds before accepting DATA: a slow server
    # Hold every DATA until this many connections have been opened (bounded: 60 s), so that
    # several dispatcher processes are certain to overlap.
    gate_connections: int = 0
    sessions: set[int] = field(default_factory=set)
    data_seen: Counter[str] = field(default_factory=Counter)  # DATA received, accepted or not
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.sessions.add(id(session))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        deadline = time.monotonic() + 60
        while len(self.sessions) < self.gate_connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        content: bytes = envelope.content
        found = _MESSAGE_ID.search(content)
        message_id = found.group(1).decode() if found else ""
        with self.lock:
            self.data_seen[message_id] += 1
            script = self.data_replies.get(message_id)
            reply = script.pop(0) if script else None
        if reply == DROP:
            server.transport.close()  # the connection dies after the whole message arrived
            return "421 closing"  # never reaches the client
        if reply is not None:
            return reply
        if self.delay:
            await asyncio.sleep(self.delay)
        login = getattr(session.auth_data, "login", None)  # LoginPassword after AUTH
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    content,
                    message_id,
                    tls=session.ssl is not None,
                    login=login.decode() if login else None,
                )
            )
        return "250 2.0.0 queued"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r.message_id for r in self.received)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]


@dataclass
class MailServer:
    handler: RecordingHandler
    port: int


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    yield MailServer(handler, port)
    controller.stop()


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., Settings]:
    """Settings aimed at a test server; no rate limit unless a test sets one."""

    def make(port: int, **changes: Any) -> Settings:
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "send_rate_per_second": 0,
            "smtp_timeout_seconds": 10,
        }
        return Settings(**(values | changes))

    return make


def dispatch(
    engine: sa.Engine, settings: Settings, *, now: dt.datetime, **options: Any
) -> DispatchReport:
    """One dispatcher pass through a fresh SMTP sender, seeded backoff."""

    async def run() -> DispatchReport:
        smtp = smtp_options(settings)
        assert smtp is not None
        sender = SmtpSender(smtp)
        try:
            return await send_due_messages(
                engine,
                now=now,
                sender=sender,
                options=dispatch_options(settings),
                rng=random.Random(7),
                **options,
            )
        finally:
            await sender.aclose()

    return asyncio.run(run())


def immediate_invitations(program: str) -> str:
    """The program with every invitation due at `apply`: the general lead and the mayor
    check-ins' (which go out with their decision point) both longer than the program."""
    paced = program.replace("invitation_lead: P21D", "invitation_lead: P52W")
    return paced.replace("notify_before: P7D", "notify_before: P52W")


@pytest.fixture
def workspace(workspace: Path) -> Path:
    """These tests are about delivery, not pacing: every first invitation is due at `apply`.

    (The shipped program sends invitations three weeks ahead; tests/replay checks that.)
    """
    program = workspace / "programs" / "cda-accelerator.yaml"
    program.write_text(immediate_invitations(program.read_text()))
    return workspace


@pytest.fixture
def small_workspace(workspace: Path) -> Path:
    """The editable small cohort's path (its program beside it in `workspace`)."""
    return workspace / "cohorts" / "small.yaml"


TINY_COHORT = """\
# One city: few messages, for tests that send everything several times.
cohort: test-tiny
program: cda-accelerator
organizer: {name: GovEx Test, email: accelerator@govex.example.org}
virtual_meeting: {base_url: "https://meet.example.org/test"}
coaches:
  - {id: ana, name: Ana Torres, email: ana@govex.example.org, timezone: America/New_York,
     languages: [en, es]}
cities:
  - id: santiago
    name: Santiago
    country: CL
    timezone: America/Santiago
    language: es
    coach: ana
    mayor: {name: Valentina Fuentes, email: mayor@santiago.example.org}
    team:
      - {name: Tomás Herrera, email: t.herrera@santiago.example.org, role: chief_of_staff}
      - {name: Camila Soto, email: c.soto@santiago.example.org, role: chief_data_officer}
      - {name: Ignacio Vera, email: i.vera@santiago.example.org, role: equity_accountability}
"""


@pytest.fixture
def tiny_workspace(workspace: Path) -> Path:
    """An editable one-city cohort (137 invitations) beside the program copy in `workspace`."""
    path = workspace / "cohorts" / "tiny.yaml"
    path.write_text(TINY_COHORT)
    return path


def apply(engine: sa.Engine, cohort: Path, now: dt.datetime = BEFORE_PROGRAM) -> Any:
    return apply_cohort(engine, load_inputs(cohort), now=now)


def outbox_rows(engine: sa.Engine, **where: Any) -> list[Any]:
    query = sa.select(OUTBOX).order_by(OUTBOX.c.id)
    for name, value in where.items():
        query = query.where(OUTBOX.c[name] == value)
    with engine.connect() as connection:
        return list(connection.execute(query))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="session")
def helpers() -> Any:
    """The module's helpers for tests (the test folder is not a package)."""

    class Helpers:
        apply = staticmethod(apply)
        dispatch = staticmethod(dispatch)
        outbox_rows = staticmethod(outbox_rows)
        edit = staticmethod(edit)
        immediate_invitations = staticmethod(immediate_invitations)
        parse = staticmethod(parse)
        free_port = staticmethod(free_port)
        before_program = BEFORE_PROGRAM
        drop = DROP
        handler = RecordingHandler

    return Helpers
