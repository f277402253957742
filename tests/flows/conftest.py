"""One Prefect test harness (a real local API) for the whole session, with its own PREFECT_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Cache and transaction records would otherwise leak between test sessions.
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def engine_env(prefect_api: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Flows read their settings from the environment: a fresh SQLite file and outbox folder."""
    monkeypatch.setenv("ACCEL_DATABASE_URL", f"sqlite:///{tmp_path / 'accel.db'}")
    monkeypatch.setenv("ACCEL_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("ACCEL_SMTP_HOST", raising=False)
    return tmp_path
