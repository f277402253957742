"""Two cohorts in one database: the shipped cda-2024 and cda-2025, each applied with `accel
apply` at its own --now and published with `accel feeds`, then served over real HTTP. Each
cohort's feeds, dashboard pages, CSV and outbox show its own cities only (Ana Torres coaches in
both: she has a feed per cohort), and `accel serve --dry-run` lists one dispatcher and each
cohort's own deployments, without starting a Prefect server.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import icalendar
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from typer.testing import CliRunner

from accel.database import make_engine
from accel.inputs import load_inputs
from accel.settings import Settings
from cli.main import app as accel
from models.outbox import OUTBOX
from web.app import create_app
from web.thread_server import serving

REPO = Path(__file__).resolve().parent.parent
FILES = {c: REPO / "cohorts" / f"{c}.yaml" for c in ("cda-2024", "cda-2025")}
APPLIED_AT = {"cda-2024": "2024-05-01T13:00Z", "cda-2025": "2025-05-01T13:00Z"}
# After both applies: 2024's pending mail is all overdue, 2025's has the week ahead.
NOW = dt.datetime(2025, 6, 10, 13, 0, tzinfo=dt.UTC)
SHARED_COACH = "ana.torres@govex.example.org"
USERNAME, PASSWORD = "operator", "two cohorts, one database"
PER_COHORT = [
    "check_deliverables/check-deliverables",
    "notify_decision_points/notify-decision-points",
    "sync_cohort/sync-cohort",
    "reschedule_session/reschedule-session",
    "cancel_session/cancel-session",
]
_FEED = re.compile(r"^(person|city) (\S+) \(.*\)\n  https?://\S+/calendars/([\w-]+)\.ics$", re.M)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
runner = CliRunner()


@dataclass
class TwoCohorts:
    url: str
    database_url: str
    engine: sa.Engine
    tokens: dict[tuple[str, str, str], str]  # (cohort, "person"|"city", subject) -> token
    cities: dict[str, dict[str, str]]  # cohort -> city id -> name
    failed: dict[str, int]  # cohort -> the id of the one message made to fail

    def login(self, client: httpx.Client) -> None:
        form = client.get("/ops/login")
        csrf = _CSRF.search(form.text)
        assert csrf is not None
        data = {"username": USERNAME, "password": PASSWORD, "csrf_token": csrf.group(1)}
        assert client.post("/ops/login", data=data).status_code == 303


def _cli(database_url: str, *args: str) -> str:
    env = {"ACCEL_DATABASE_URL": database_url, "ACCEL_PUBLIC_BASE_URL": "http://127.0.0.1:8000"}
    result = runner.invoke(accel, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def _fail_first_message(engine: sa.Engine, cohort: str) -> int:
    """A failed message of the cohort, with an error that names it."""
    with engine.begin() as connection:
        first = connection.execute(
            sa.select(sa.func.min(OUTBOX.c.id)).where(OUTBOX.c.cohort_id == cohort)
        ).scalar_one()
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == first)
            .values(status="failed", last_error=f"550 only in {cohort}", attempts=1)
        )
    return int(first)


@pytest.fixture(scope="module")
def two_cohorts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoCohorts]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('two-cohorts') / 'accel.db'}"
    tokens: dict[tuple[str, str, str], str] = {}
    for cohort, path in FILES.items():
        _cli(database_url, "apply", "--cohort", str(path), "--now", APPLIED_AT[cohort])
        printed = _cli(database_url, "feeds", "--cohort", str(path), "--now", APPLIED_AT[cohort])
        tokens |= {
            (cohort, kind, subject): token for kind, subject, token in _FEED.findall(printed)
        }
    cities = {c: {x.id: x.name for x in load_inputs(p).cohort.cities} for c, p in FILES.items()}
    engine = make_engine(database_url)
    failed = {cohort: _fail_first_message(engine, cohort) for cohort in FILES}
    settings = Settings(
        operator_username=USERNAME,
        operator_password=SecretStr(PASSWORD),
        session_secret=SecretStr("two-cohorts-session-secret-" + "x" * 32),
    )
    with serving(create_app(settings, engine=engine, clock=lambda: NOW)) as url:
        yield TwoCohorts(url, database_url, engine, tokens, cities, failed)
    engine.dispose()


def _other(cohort: str) -> str:
    return next(c for c in FILES if c != cohort)


def _uids(body: bytes) -> set[str]:
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


# --- feeds ------------------------------------------------------------------------------


def test_the_shared_coach_has_a_feed_per_cohort_each_with_its_cohorts_sessions(
    two_cohorts: TwoCohorts,
) -> None:
    for cohort in FILES:
        token = two_cohorts.tokens[(cohort, "person", SHARED_COACH)]
        response = httpx.get(f"{two_cohorts.url}/calendars/{token}.ics", timeout=30)
        assert response.status_code == 200
        uids = _uids(response.content)
        assert uids, f"{cohort}: Ana's feed is empty"
        assert all(uid.startswith(f"{cohort}.") for uid in uids), sorted(uids)[:5]


def test_every_city_feed_holds_only_its_cohorts_sessions(two_cohorts: TwoCohorts) -> None:
    with httpx.Client(base_url=two_cohorts.url, timeout=30) as client:
        for cohort, cities in two_cohorts.cities.items():
            for city in cities:
                token = two_cohorts.tokens[(cohort, "city", city)]
                uids = _uids(client.get(f"/calendars/{token}.ics").content)
                assert uids and all(u.startswith(f"{cohort}.") for u in uids), (cohort, city)
    # Ids never repeat across the two example cohorts, so no feed could hide a mix-up.
    assert not set(two_cohorts.cities["cda-2024"]) & set(two_cohorts.cities["cda-2025"])


# --- the dashboard ----------------------------------------------------------------------


def _city_links(page: str, cohort: str) -> set[str]:
    """The cities a page links to, checking every link names `cohort`."""
    links = re.findall(r'href="/ops/cities/([^"?]+)\?cohort=([^"&]+)"', page)
    assert {c for _, c in links} <= {cohort}, f"a link to another cohort: {links}"
    return {city for city, _ in links}


def test_each_cohorts_pages_show_its_cities_and_none_of_the_others(
    two_cohorts: TwoCohorts,
) -> None:
    with httpx.Client(base_url=two_cohorts.url, timeout=30) as client:
        two_cohorts.login(client)
        for cohort, cities in two_cohorts.cities.items():
            others = two_cohorts.cities[_other(cohort)]
            for path in (f"/ops/?cohort={cohort}", f"/ops/cohorts/{cohort}"):
                page = client.get(path).text
                assert _city_links(page, cohort) == set(cities), path
                assert not [n for n in others.values() if f">{n}<" in page], path
            page = client.get(f"/ops/deliverables?cohort={cohort}").text
            assert _city_links(page, cohort) == set(cities)
            rows = csv.DictReader(
                io.StringIO(client.get(f"/ops/deliverables.csv?cohort={cohort}").text)
            )
            assert {row["city"] for row in rows} == set(cities.values())
            other_city = next(iter(others))
            assert client.get(f"/ops/cities/{other_city}?cohort={cohort}").status_code == 404
            assert client.get(f"/ops/cities/{next(iter(cities))}?cohort={cohort}").is_success


def test_each_cohorts_outbox_shows_its_own_failures_and_overdue_count(
    two_cohorts: TwoCohorts,
) -> None:
    with two_cohorts.engine.connect() as connection:
        overdue = dict(
            connection.execute(
                sa.select(OUTBOX.c.cohort_id, sa.func.count())
                .where(OUTBOX.c.status == "pending", OUTBOX.c.send_at < NOW)
                .group_by(OUTBOX.c.cohort_id)
            ).all()
        )
    assert overdue["cda-2024"] != overdue["cda-2025"]
    with httpx.Client(base_url=two_cohorts.url, timeout=30) as client:
        two_cohorts.login(client)
        for cohort, failed in two_cohorts.failed.items():
            page = client.get(f"/ops/outbox?cohort={cohort}").text
            assert f'<tr data-message="{failed}">' in page
            assert f"550 only in {cohort}" in page
            assert f'<tr data-message="{two_cohorts.failed[_other(cohort)]}">' not in page
            assert f"<strong>{overdue[cohort]}</strong> pending message(s) were due" in page


def test_the_cohort_picker_offers_both_and_keeps_the_page(two_cohorts: TwoCohorts) -> None:
    with httpx.Client(base_url=two_cohorts.url, timeout=30) as client:
        two_cohorts.login(client)
        # Without a choice: the latest applied (cda-2025 was applied at the later --now).
        assert "/ops/cities/valparaiso?cohort=cda-2025" in client.get("/ops/").text
        for path, action in (
            ("/ops/?cohort=cda-2024", "/ops/"),
            ("/ops/deliverables?cohort=cda-2024", "/ops/deliverables"),
            ("/ops/outbox?cohort=cda-2024", "/ops/outbox"),
            ("/ops/cities/santiago?cohort=cda-2024", "/ops/"),
        ):
            page = client.get(path).text
            picker = re.search(
                r'<form method="get" action="([^"]+)" class="cohort-picker".*?</form>', page, re.S
            )
            assert picker is not None, path
            assert picker.group(1) == action
            options = re.findall(r'<option value="([^"]+)"( selected)?>', picker.group(0))
            assert sorted(options) == [("cda-2024", " selected"), ("cda-2025", "")]
        assert client.get("/ops/?cohort=cda-1999").status_code == 404


def test_the_root_sends_to_the_dashboard(two_cohorts: TwoCohorts) -> None:
    for method in ("GET", "HEAD"):
        response = httpx.request(method, f"{two_cohorts.url}/", timeout=30)
        assert response.status_code == 307
        assert response.headers["location"] == "/ops/"


# --- accel serve ------------------------------------------------------------------------


def test_accel_serve_deploys_every_applied_cohort_and_one_dispatcher(
    two_cohorts: TwoCohorts,
) -> None:
    """Found by their `cohort:` ids in ./cohorts/ (the tests run in the repository)."""
    printed = _cli(two_cohorts.database_url, "serve", "--dry-run")
    assert "Cohorts (every cohort applied in the database):" in printed
    assert re.search(r"^  cda-2024  cohorts/cda-2024\.yaml$", printed, re.M)
    assert re.search(r"^  cda-2025  cohorts/cda-2025\.yaml$", printed, re.M)
    served = re.findall(r"^  (\w+/[\w-]+) ", printed, re.M)
    expected = ["dispatch_messages/dispatch-messages"]
    expected += [f"{name}-{cohort}" for cohort in FILES for name in PER_COHORT]
    assert served == expected


def test_accel_serve_serves_only_the_cohorts_named(two_cohorts: TwoCohorts) -> None:
    printed = _cli(
        two_cohorts.database_url, "serve", "--dry-run", "--cohort", str(FILES["cda-2025"])
    )
    assert "Cohorts (named with --cohort):" in printed
    served = re.findall(r"^  (\w+/[\w-]+) ", printed, re.M)
    assert served == ["dispatch_messages/dispatch-messages"] + [
        f"{name}-cda-2025" for name in PER_COHORT
    ]
