"""The mail room's own options, built from the application's settings (mail never reads them)."""

from __future__ import annotations

from accel.settings import Settings
from mail.dispatcher import DispatchOptions
from mail.senders import SmtpOptions


def smtp_options(settings: Settings) -> SmtpOptions | None:
    """The SMTP server the settings name; None when mail goes to `.eml` files instead."""
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpOptions(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout_seconds,
        rate=settings.send_rate_per_second,
        concurrency=settings.send_concurrency,
        allow_plaintext_auth=settings.smtp_allow_plaintext_auth,
    )


def dispatch_options(settings: Settings) -> DispatchOptions:
    """How the dispatcher sends: as many at once as the sender takes, from `mail_from`."""
    return DispatchOptions(concurrency=settings.send_concurrency, mail_from=settings.mail_from)
