"""Issue 16, item 8: a password is never sent over SMTP without TLS, unless to a loopback relay.

A real aiosmtpd server on 127.0.0.1 that offers AUTH without TLS (as a careless relay would)
is the peer: without ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH no command reaches it; with it, the
login and delivery work; the setting is refused for any host that is not this machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from typer.testing import CliRunner

from cli.main import app
from mail.senders import PlaintextAuthError, SmtpOptions

USER, PASSWORD = "accel", "relay-password-7f3a"
NOW = "2024-05-01T12:00Z"
runner = CliRunner()
# aiosmtpd warns about the relay below: taking a password in clear is what it is here to do.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def plain_server(helpers: Any) -> Iterator[Any]:
    handler = helpers.handler()
    port = helpers.free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # a relay that takes a password in clear
    )
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def env_for(database: Path, port: int, **more: str) -> dict[str, str | None]:
    return {
        "ACCEL_DATABASE_URL": f"sqlite:///{database}",
        "ACCEL_SMTP_HOST": "127.0.0.1",
        "ACCEL_SMTP_PORT": str(port),
        "ACCEL_SMTP_USERNAME": USER,
        "ACCEL_SMTP_PASSWORD": PASSWORD,
        "ACCEL_SEND_RATE_PER_SECOND": "0",
    } | more


def test_a_login_without_tls_is_refused_before_anything_is_sent(
    tmp_path: Path, tiny_workspace: Path, plain_server: Any
) -> None:
    env = env_for(tmp_path / "accel.db", plain_server.port)
    for args in (["apply", "--cohort", str(tiny_workspace), "--now", NOW], ["dispatch"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and PASSWORD not in result.output
        (line,) = result.stderr.splitlines()
        assert line.startswith("accel: ACCEL_SMTP_USERNAME and ACCEL_SMTP_PASSWORD are set")
        assert "in clear" in line
    assert not plain_server.sessions and not plain_server.received


def test_the_loopback_relay_may_be_allowed_explicitly(
    tmp_path: Path, tiny_workspace: Path, plain_server: Any
) -> None:
    env = env_for(tmp_path / "accel.db", plain_server.port, ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH="true")
    applied = runner.invoke(app, ["apply", "--cohort", str(tiny_workspace), "--now", NOW], env=env)
    assert applied.exit_code == 0, applied.output
    sent = runner.invoke(app, ["dispatch", "--now", NOW, "--limit", "3"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "3 sent" in sent.stdout
    assert [r.login for r in plain_server.received] == [USER] * 3
    assert not any(r.tls for r in plain_server.received)


@pytest.mark.parametrize("host", ["mail.example.org", "192.0.2.25", "localhost.example.org"])
def test_the_allowance_is_not_honoured_beyond_this_machine(tmp_path: Path, host: str) -> None:
    env = env_for(tmp_path / "accel.db", 25, ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH="true")
    env["ACCEL_SMTP_HOST"] = host
    result = runner.invoke(app, ["dispatch", "--now", NOW], env=env)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert "only honoured for a relay on this machine" in line and repr(host) in line


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_the_sender_refuses_too_whatever_builds_its_options(host: str) -> None:
    with pytest.raises(PlaintextAuthError, match="in clear"):
        SmtpOptions(host=host, username=USER, password=PASSWORD)
    allowed = SmtpOptions(host=host, username=USER, password=PASSWORD, allow_plaintext_auth=True)
    assert allowed.allow_plaintext_auth
    assert SmtpOptions(host=host, username=USER, password=PASSWORD, starttls=True).starttls
