"""A replay of the shipped cohort through June-December 2024, checked for what people notice."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from accel.inputs import load_inputs
from calendars.business_days import DaysOff
from calendars.timeline_types import LoadedInputs
from models.file_loading import load_scenario
from models.timezones import load_zone
from tasks.simulation import SimulationResult, simulate

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "cda-2024-rehearsal.yaml"
START = dt.datetime(2024, 5, 1, 13, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2024, 12, 31, 23, 59, tzinfo=dt.UTC)

# The budget the README states: what one person may receive over the whole program.
BUDGET_TEAM_MEMBER = 80
BUDGET_MAYOR = 20
BUDGET_PER_DAY = 6  # anyone but the organizer's own address and the coaches


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedInputs, SimulationResult]:
    inputs = load_inputs(REPO / "cohorts" / "cda-2024.yaml")
    scenario = load_scenario(SCENARIO.read_bytes(), str(SCENARIO))
    out = tmp_path_factory.mktemp("replay")
    result = simulate(
        inputs, out, start=START, until=UNTIL, scenario=scenario, scenario_dir=SCENARIO.parent
    )
    return inputs, result


def _rows(result: SimulationResult, sql: str) -> list[sa.Row]:  # type: ignore[type-arg]
    engine = sa.create_engine(f"sqlite:///{result.out / 'simulation.db'}")
    with engine.connect() as connection:
        rows = list(connection.execute(sa.text(sql)))
    engine.dispose()
    return rows


def test_every_message_is_an_eml_dated_at_its_simulated_send_time(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    files = sorted((result.out / "outbox").glob("*.eml"))
    assert len(files) == len(result.messages) > 1000
    sent = {m.id: m.sent_at for m in result.messages}
    for path in files[:: max(1, len(files) // 50)]:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        row_id = int(path.name.split("-", 1)[0])
        date = message["Date"].datetime
        assert abs(date - sent[row_id]) < dt.timedelta(minutes=1), path.name


def test_no_reminder_after_its_session_started(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    late = _rows(
        result,
        """
        SELECT o.id FROM outbox_message o JOIN session s ON s.key = o.subject_key
        WHERE o.kind = 'session_reminder' AND o.status = 'sent' AND o.sent_at >= s.starts_at""",
    )
    assert late == []
    assert (
        _rows(
            result,
            "SELECT count(*) FROM outbox_message WHERE kind='session_reminder' AND status='sent'",
        )[0][0]
        > 500
    )


def test_nothing_arrives_in_the_recipients_night(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    night = [
        (m.kind, m.email, m.sent_at.astimezone(load_zone(m.timezone)))
        for m in result.messages
        if not dt.time(7) <= m.sent_at.astimezone(load_zone(m.timezone)).time() < dt.time(22)
    ]
    assert night == []


def test_every_mayors_first_email_is_the_convening_invitation(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    inputs, result = replay
    mayors = {c.mayor.email for c in inputs.cohort.cities}
    first = {}
    for message in result.messages:  # ordered by sent_at
        if message.email in mayors and message.email not in first:
            first[message.email] = message
    assert set(first) == mayors
    rows = {r.id: r for r in _rows(result, "SELECT id, kind, subject_key FROM outbox_message")}
    for message in first.values():
        row = rows[message.id]
        assert (row.kind, row.subject_key) == ("invitation", "cda-2024/convening"), message.email


def test_per_person_budget(replay: tuple[LoadedInputs, SimulationResult]) -> None:
    inputs, result = replay
    mayors = {c.mayor.email for c in inputs.cohort.cities}
    staff = {c.email for c in inputs.cohort.coaches} | {inputs.cohort.organizer.email}
    totals = Counter(m.email for m in result.messages)
    per_day: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for m in result.messages:
        per_day[m.email][m.sent_at.astimezone(load_zone(m.timezone)).date()] += 1
    for email, total in totals.items():
        if email in staff:
            continue
        limit = BUDGET_MAYOR if email in mayors else BUDGET_TEAM_MEMBER
        assert total <= limit, (email, total)
        assert max(per_day[email].values()) <= BUDGET_PER_DAY, (
            email,
            per_day[email].most_common(1),
        )


def test_scenario_actions_are_felt(replay: tuple[LoadedInputs, SimulationResult]) -> None:
    _, result = replay
    kinds = Counter(
        (r.kind, r.email)
        for r in _rows(result, "SELECT kind, email FROM outbox_message WHERE status='sent'")
    )
    # Santiago's replaced member: the old one gets cancellations, the new one invitations.
    assert kinds[("cancellation", "i.vera@santiago.example.org")] > 0
    assert kinds[("invitation", "i.vidal@santiago.example.org")] > 0
    # Kingston never sent its draft strategy: its mayor hears of it exactly once.
    mayor = _rows(
        result,
        """SELECT count(*) FROM outbox_message WHERE kind='overdue_escalation_mayor'
                             AND status='sent' AND subject_key LIKE 'cda-2024/deliverable/kingston/%'""",
    )
    assert mayor[0][0] == 1
    # Santiago's late outline reached the coach, and stopped there.
    chain = [
        r.kind
        for r in _rows(
            result,
            """SELECT kind FROM outbox_message WHERE status='sent'
             AND subject_key='cda-2024/deliverable/santiago/strategy-outline' ORDER BY sent_at""",
        )
    ]
    assert chain[-1] == "overdue_escalation_coach" and "overdue_escalation_mayor" not in chain
    feeds = list((result.out / "calendars" / "people").glob("*.ics"))
    assert len(feeds) >= 70


def _days_off_by_city(inputs: LoadedInputs) -> dict[str | None, tuple[str | None, str | None]]:
    """(country, subdivision) per city id, read from the cohort file; None: staff (no country)."""
    out: dict[str | None, tuple[str | None, str | None]] = {None: (None, None)}
    for city in inputs.cohort.cities:
        out[city.id] = (city.country, city.subdivision)
    return out


def weekend_and_holiday_sends(
    inputs: LoadedInputs, result: SimulationResult
) -> list[tuple[str, str, dt.date, str]]:
    """(kind, email, local day, why) of every message sent on its recipient's day off."""
    places = _days_off_by_city(inputs)
    coaches = {c.email: (c.country, c.subdivision) for c in inputs.cohort.coaches}
    found = []
    for m in result.messages:
        country, subdivision = coaches.get(m.email) or places.get(m.city_id, (None, None))
        if m.email == inputs.cohort.organizer.email:
            country, subdivision = None, None
        off = DaysOff.of(m.timezone, country, subdivision, (2024, 2025))
        day = m.sent_at.astimezone(load_zone(m.timezone)).date()
        if (why := off.why_off(day)) is not None:
            found.append((m.kind, m.email, day, why))
    return found


def test_nothing_arrives_on_the_recipients_weekend_or_public_holiday(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    inputs, result = replay
    assert weekend_and_holiday_sends(inputs, result) == []


def test_decision_point_emails_link_the_documents_the_team_submitted(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    sent = _rows(
        result,
        """SELECT o.id, o.sent_at, d.deliverables FROM outbox_message o
           JOIN decision_point d ON d.key = o.subject_key
           WHERE o.kind = 'decision_point' AND o.status = 'sent'""",
    )
    submitted = {
        r.key: (r.link, r.submitted_at)
        for r in _rows(result, "SELECT key, link, submitted_at FROM deliverable")
    }
    linked = 0
    for row in sent:
        path = result.out / "outbox" / f"{row.id}-decision_point.eml"
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        for key in json.loads(row.deliverables):
            link, at = submitted[key]
            if link is not None and at is not None and str(at) <= str(row.sent_at):
                assert link in text and f'href="{link}"' in html, (path.name, key)
                linked += 1
    assert len(sent) >= 30 and linked >= 30
