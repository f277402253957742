"""STARTTLS and AUTH against a server that insists on both, with a certificate made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tasks.mail_settings import smtp_options

USER, PASSWORD = "accel-dispatcher", "correct horse battery staple"


@dataclass
class TlsServer:
    handler: Any
    port: int
    certificate: Path


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def tls_server(tmp_path: Path, helpers: Any) -> Iterator[TlsServer]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = helpers.handler()
    port = helpers.free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",  # the default asks DNS for this host's name
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    yield TlsServer(handler, port, cert)
    controller.stop()


def test_starttls_and_login_then_delivery(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    tls_server: TlsServer,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    settings = settings_for(
        tls_server.port,
        smtp_starttls=True,
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_ca_file=tls_server.certificate,
    )
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert PASSWORD not in repr(smtp_options(settings))  # the sender's own options keep it too
    report = helpers.dispatch(sqlite_engine, settings, now=helpers.before_program, limit=5)
    assert report.sent == 5
    received = tls_server.handler.received
    assert len(received) == 5 and all(r.tls and r.login == USER for r in received)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"smtp_password": "wrong"}, "cannot connect to the SMTP server"),
        # Neither: the server wants STARTTLS before MAIL FROM.
        (
            {"smtp_starttls": False, "smtp_username": None, "smtp_password": None},
            "MAIL FROM refused: 530",
        ),
    ],
)
def test_a_refused_session_defers_everything_and_spends_nothing(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    tls_server: TlsServer,
    settings_for: Any,
    changes: dict[str, Any],
    error: str,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    values: dict[str, Any] = {
        "smtp_starttls": True,
        "smtp_username": USER,
        "smtp_password": PASSWORD,
        "smtp_ca_file": tls_server.certificate,
    }
    settings = settings_for(tls_server.port, **(values | changes))
    report = helpers.dispatch(sqlite_engine, settings, now=helpers.before_program)
    assert report.sent == report.failed == report.retried == 0 and report.deferred > 0
    assert all(reply.startswith(error) for reply in report.errors), report.errors
    assert all(PASSWORD not in reply for reply in report.errors)
    rows = helpers.outbox_rows(sqlite_engine, kind="invitation")
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    assert not tls_server.handler.received
