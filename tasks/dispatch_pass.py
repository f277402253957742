"""One dispatcher pass with the configured sender: what `accel dispatch` and the flow both run."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from accel.settings import Settings
from mail.dispatcher import DispatchReport, send_due_messages
from mail.senders import make_sender
from tasks.mail_settings import dispatch_options, smtp_options


def mail_destination(settings: Settings) -> str:
    """Where this configuration sends: `SMTP host:port`, or the folder of `.eml` files."""
    if settings.smtp_host:
        return f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    return f"{settings.outbox_dir}/ (.eml files)"


async def dispatch_due(
    settings: Settings,
    engine: sa.Engine,
    *,
    now: dt.datetime,
    limit: int | None = None,
    cancel_stale: bool = False,
) -> DispatchReport:
    """Send what is due at `now` through the sender the settings name, then close it."""
    sender = make_sender(smtp_options(settings), outbox_dir=settings.outbox_dir)
    try:
        return await send_due_messages(
            engine,
            now=now,
            sender=sender,
            options=dispatch_options(settings),
            limit=limit,
            cancel_stale=cancel_stale,
        )
    finally:
        await sender.aclose()
