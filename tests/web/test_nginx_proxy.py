"""The shipped `deploy/nginx.conf`, run by Debian's nginx on loopback ports in front of a real
`accel web`: slow clients, the per-client limit, the client address, HSTS, redacted logs."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from accel.database import create_schema, make_engine
from accel.feed_source import feed_source_from_inputs, store_feed_source
from accel.feed_tokens import FeedSubject, issue_token
from accel.inputs import load_inputs
from tasks.operations import apply_cohort
from tests.conftest import REPO, SMALL_COHORT
from tests.web.web_process import WebProcess, accel_web, open_once_settled

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    NGINX is None or OPENSSL is None,
    reason="nginx (or openssl) is not installed: `apt-get install -y nginx-light` (.ci/run does)",
)
SITE = REPO / "deploy" / "nginx.conf"
HOST = "calendar.example.org"
SLOW_CLIENTS = 300
PER_CLIENT_LIMIT = 32  # limit_conn in deploy/nginx.conf
HEADER_TIMEOUT = 10  # client_header_timeout in deploy/nginx.conf
PASSWORD = "correct horse battery staple"
TOMAS = "t.herrera@santiago.example.org"


@dataclass(frozen=True)
class Proxied:
    web: WebProcess
    https_port: int
    http_port: int
    tls: ssl.SSLContext  # trusts the test certificate
    folder: Path
    token: str  # Tomás's feed and page token

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.tls, timeout=10)

    def access_log(self) -> str:
        return (self.folder / "accel.access.log").read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    key_type = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    names = ["-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [str(OPENSSL), "req", "-x509", *key_type, *names, *files], check=True, capture_output=True
    )
    return cert, key


def _site(folder: Path, *, http_port: int, https_port: int, app_port: int) -> str:
    """The shipped site with only its addresses, certificate and log paths changed."""
    text = SITE.read_text()
    cert, key = _certificate(folder)
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen [::]:80;\n": "",
        "    listen 443 ssl;\n": f"    listen 127.0.0.1:{https_port} ssl;\n",
        "    listen [::]:443 ssl;\n": "",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{app_port};",
        f"/etc/letsencrypt/live/{HOST}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{HOST}/privkey.pem": str(key),
        "/var/log/nginx/": f"{folder}/",
    }
    for old, new in replacements.items():
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def _main_config(folder: Path, site: Path) -> str:
    """What /etc/nginx/nginx.conf holds around the site, with every path under `folder`."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    return f"""daemon off;
user root root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx.error.log info;
events {{ worker_connections 2048; }}
http {{
    access_log {folder}/nginx.access.log;
{temp}
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {site};
}}
"""


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp("nginx")
    engine = make_engine(f"sqlite:///{folder / 'web.db'}")
    create_schema(engine)
    inputs = load_inputs(SMALL_COHORT)
    applied_at = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    apply_cohort(engine, inputs, now=applied_at)
    with engine.begin() as connection:
        store_feed_source(connection, source=feed_source_from_inputs(inputs), now=applied_at)
        token = issue_token(
            connection, subject=FeedSubject(inputs.cohort.id, "person", TOMAS), now=applied_at
        )
    engine.dispose()
    settings = {
        "ACCEL_PUBLIC_BASE_URL": f"https://{HOST}",
        "ACCEL_OPERATOR_USERNAME": "operator",
        "ACCEL_OPERATOR_PASSWORD": PASSWORD,
        "ACCEL_SESSION_SECRET": "nginx-test-" + "s" * 40,
        "ACCEL_LOGIN_MAX_FAILURES": "2",
    }
    with accel_web(folder, env=settings) as web:
        http_port, https_port = _free_port(), _free_port()
        site = folder / "accel.conf"
        site.write_text(
            _site(folder, http_port=http_port, https_port=https_port, app_port=web.port)
        )
        config = folder / "nginx.conf"
        config.write_text(_main_config(folder, site))
        checked = subprocess.run(
            [str(NGINX), "-t", "-c", str(config), "-p", str(folder)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
        with (folder / "nginx.stderr").open("wb") as stderr:
            nginx = subprocess.Popen(
                [str(NGINX), "-c", str(config), "-p", str(folder)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            _wait_until_listening(https_port, nginx, folder)
            tls = ssl.create_default_context(cafile=str(folder / "cert.pem"))
            yield Proxied(web, https_port, http_port, tls, folder, token)
        finally:
            nginx.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                nginx.wait(timeout=20)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(timeout=20)


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # polling until nginx listens, bounded
        if process.poll() is not None:
            logs = [folder / "nginx.stderr", folder / "nginx.error.log"]
            errors = "".join(log.read_text() for log in logs if log.exists())
            raise RuntimeError(f"nginx exited at start-up: {errors}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def _half_requests_over_tls(proxied: Proxied, count: int) -> list[socket.socket]:
    """`count` TLS connections that each send half a request head, then nothing."""
    held = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", proxied.https_port), timeout=10)
        connection = proxied.tls.wrap_socket(raw, server_hostname=HOST)
        connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode())
        held.append(connection)
    return held


def _close_all(connections: list[socket.socket]) -> None:
    for connection in connections:
        connection.close()


def test_healthz_answers_through_the_proxy_while_300_slow_clients_wait(proxied: Proxied) -> None:
    before = proxied.web.log_text()
    held = _half_requests_over_tls(proxied, SLOW_CLIENTS)
    try:
        with proxied.client() as client:
            started = time.monotonic()
            for _ in range(5):
                response = client.get("/healthz")
                assert response.status_code == 200 and response.text == "ok\n"
            assert time.monotonic() - started < 2
        # nginx closes each of them at its client_header_timeout, all within a few seconds more.
        left = open_once_settled(held, at_most=0, within=HEADER_TIMEOUT + 10)
        assert left == 0
    finally:
        _close_all(held)
    # None of the half requests reached accel web: only the five health checks did.
    deadline = time.monotonic() + 5  # each line is written just after its response
    while proxied.web.log_text()[len(before) :].count("GET /healthz") < 5:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    added = proxied.web.log_text()[len(before) :]
    assert added.count("GET /healthz 200") == 5
    assert len(added.splitlines()) == 5, added


def test_one_client_gets_at_most_32_requests_answered_at_once(proxied: Proxied) -> None:
    # Whole heads with bodies that never come: each is a request in progress at nginx.
    held = []
    try:
        for _ in range(PER_CLIENT_LIMIT):
            raw = socket.create_connection(("127.0.0.1", proxied.https_port), timeout=10)
            connection = proxied.tls.wrap_socket(raw, server_hostname=HOST)
            connection.sendall(
                f"POST /ops/outbox/1/retry HTTP/1.1\r\nHost: {HOST}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n".encode()
            )
            held.append(connection)
        with proxied.client() as client:
            deadline = time.monotonic() + 5  # nginx reads the heads at its own pace
            while (refused := client.get("/healthz")).status_code == 200:
                assert time.monotonic() < deadline, "the per-client limit never applied"
                time.sleep(0.05)
            assert refused.status_code == 429
            assert refused.headers["strict-transport-security"] == "max-age=31536000"
    finally:
        _close_all(held)
    with proxied.client() as client:
        deadline = time.monotonic() + 5
        while (status := client.get("/healthz").status_code) == 429:
            assert time.monotonic() < deadline, "the limit did not free up"
            time.sleep(0.05)
        assert status == 200


def test_the_client_cannot_choose_the_address_the_login_limit_counts(proxied: Proxied) -> None:
    with proxied.client() as client:
        statuses = []
        for n in range(3):
            form = client.get("/ops/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            response = client.post(
                "/ops/login",
                data={"username": "operator", "password": "wrong", "csrf_token": token.group(1)},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},  # a new address each time
            )
            statuses.append(response.status_code)
    # Two failures from 127.0.0.1 (the address nginx sets), then the limit: not three guesses.
    assert statuses == [401, 401, 429]
    assert "from 127.0.0.1 " in proxied.web.log_text()


def test_https_answers_carry_hsts_and_nosniff_once_and_http_only_redirects(
    proxied: Proxied,
) -> None:
    with proxied.client() as client:
        answers = [
            client.get("/healthz"),
            client.get(f"/calendars/{proxied.token}.ics"),
            client.get("/calendars/unknown.ics"),
            client.get("/static/dashboard.css"),
            client.get("/ops/"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 200, 303]
    for answer in answers:
        assert answer.headers.get_list("strict-transport-security") == ["max-age=31536000"]
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
        assert "nginx/" not in answer.headers.get("server", "")
    plain = httpx.get(f"http://127.0.0.1:{proxied.http_port}/calendars/x.ics", timeout=10)
    assert plain.status_code == 301
    assert plain.headers["location"] == "https://127.0.0.1/calendars/x.ics"
    assert "BEGIN:VCALENDAR" not in plain.text


def test_the_proxys_log_never_holds_a_token(proxied: Proxied) -> None:
    with proxied.client() as client:
        assert client.get(f"/calendars/{proxied.token}.ics").status_code == 200
        assert client.get(f"/me/{proxied.token}").status_code == 200
        assert client.get(f"/me/{proxied.token}?x=%0aforged").status_code == 200
    deadline = time.monotonic() + 5
    while proxied.access_log().count("/me/<redacted>") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # nginx writes its log line after the response
    log = proxied.access_log()
    assert '"GET /calendars/<redacted>" 200' in log
    assert log.count('"GET /me/<redacted>" 200') >= 2
    assert proxied.token not in log and "forged" not in log
    assert proxied.token not in proxied.web.log_text()
