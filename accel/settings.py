"""The one settings object: environment variables prefixed ACCEL_, or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from accel.shipped import shipped_path
from models.addresses import plaintext_auth_refusal


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
    # A login without TLS is refused, unless this allows it for a relay on 127.0.0.0/8, ::1
    # or localhost (where the password never leaves the machine).
    smtp_allow_plaintext_auth: bool = False
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
    """The shipped cohort: ./cohorts/cda-2024.yaml, or the one installed with the engine."""
    local = Path("cohorts/cda-2024.yaml")
    return local if local.exists() else shipped_path("cohorts", "cda-2024.yaml")


class InvalidSettingsError(Exception):
    """An ACCEL_ setting that cannot be used; the message is one line naming the variable."""


def load_settings() -> Settings:
    """Read the ACCEL_ settings (environment, .env); a bad value raises InvalidSettingsError.

    Never cached: one process (a test) may read them many times with different environments.
    """
    try:
        settings = Settings()
    except ValidationError as error:
        raise InvalidSettingsError(describe_invalid_settings(error)) from None
    except SettingsError as error:  # a value the settings sources cannot even parse
        raise InvalidSettingsError(str(error)) from None
    if settings.smtp_host and (
        refusal := plaintext_auth_refusal(
            settings.smtp_host,
            has_credentials=bool(settings.smtp_username or settings.smtp_password),
            tls=settings.smtp_starttls or settings.smtp_use_tls,
            allow_plaintext=settings.smtp_allow_plaintext_auth,
        )
    ):
        raise InvalidSettingsError(refusal)
    return settings


def describe_invalid_settings(error: ValidationError) -> str:
    """`ACCEL_SMTP_PORT: Input should be a valid integer, ... (got 'x')`; several joined by `; `.

    A secret's value is never repeated.
    """
    parts = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        line = f"ACCEL_{field.upper()}: {problem['msg']}"
        if not _is_secret(field):
            line += f" (got {problem['input']!r})"
        parts.append(line)
    return "; ".join(parts)


def _is_secret(field: str) -> bool:
    info = Settings.model_fields.get(field)
    if info is None:
        return True  # not a field we know: say nothing of its value
    return info.annotation is SecretStr or SecretStr in get_args(info.annotation)
