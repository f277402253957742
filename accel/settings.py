"""The one settings object: environment variables prefixed ACCEL_, or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mail.dispatcher import DispatchOptions
from mail.senders import SmtpOptions

REPOSITORY = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Defaults are the embedded setup: a SQLite file here, no SMTP server (mail goes to files)."""

    model_config = SettingsConfigDict(env_prefix="ACCEL_", env_file=".env", extra="ignore")

    database_url: SecretStr = Field(default=SecretStr("sqlite:///accel.db"))
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False  # implicit TLS from the first byte (port 465)
    smtp_ca_file: Path | None = None  # PEM certificates to trust besides the system's
    smtp_timeout_seconds: float = 30.0
    mail_from: str | None = None  # defaults to the cohort organizer's address
    outbox_dir: Path = Path("outbox")
    send_rate_per_second: float = 50.0
    send_concurrency: int = 4
    public_base_url: str = "http://127.0.0.1:8000"
    # The operations dashboard (/ops/): disabled until both are set; there is no default password.
    operator_username: str | None = None
    operator_password: SecretStr | None = None
    # Signs operator session cookies; unset means a random one per process (sessions end at restart).
    session_secret: SecretStr | None = None
    # Failed operator logins allowed per client address in any window of this many seconds;
    # more are answered 429 until the oldest failure leaves the window (kept in memory).
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: float = Field(default=900.0, gt=0)


def default_cohort_file() -> Path:
    """The shipped cohort: ./cohorts/cda-2024.yaml, or the one beside this package."""
    local = Path("cohorts/cda-2024.yaml")
    return local if local.exists() else REPOSITORY / "cohorts" / "cda-2024.yaml"


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
    )


def dispatch_options(settings: Settings) -> DispatchOptions:
    """How the dispatcher sends: as many at once as the sender takes, from `mail_from`."""
    return DispatchOptions(concurrency=settings.send_concurrency, mail_from=settings.mail_from)
