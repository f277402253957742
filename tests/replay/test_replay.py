"""A replay of the shipped cohort through June-December 2024, checked for what people notice."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import icalendar
import pytest
import sqlalchemy as sa

from accel.inputs import load_inputs
from calendars.business_days import DaysOff
from calendars.timeline_types import LoadedInputs
from models.enums import Language
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
    # Santiago's replaced member: the old one gets removal notices, the new one invitations.
    assert kinds[("removal", "i.vera@santiago.example.org")] > 0
    assert kinds[("cancellation", "i.vera@santiago.example.org")] == 0
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


# --- Messages people can trust (issue 12): read as their recipients read them. ---


def _emails(result: SimulationResult) -> list[tuple[str, EmailMessage]]:
    """Every .eml of the replay, parsed with the standard library: (kind, message)."""
    parsed = []
    for path in sorted((result.out / "outbox").glob("*.eml")):
        kind = path.stem.split("-", 1)[1]
        parsed.append((kind, BytesParser(policy=policy.default).parsebytes(path.read_bytes())))
    return parsed


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _event(message: EmailMessage) -> tuple[str, Any]:
    """The METHOD and the one VEVENT of a message's calendar part."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload: Any = part.get_payload(decode=True)
            calendar = icalendar.Calendar.from_ical(payload)
            (event,) = calendar.walk("VEVENT")
            return str(calendar["METHOD"]), event
    raise AssertionError("no calendar part")


def _view(event: Any) -> tuple[str, ...]:
    """What an attendee sees of their own copy: time, place, title, details, their role."""
    role = event["ATTENDEE"].params.get("ROLE")
    return tuple(
        str(x)
        for x in (
            event.start,
            event.end,
            event.get("LOCATION", ""),
            event["SUMMARY"],
            event.get("DESCRIPTION", ""),
            role,
        )
    )


def test_updates_only_where_the_recipients_own_invitation_changed(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    last_seen: dict[tuple[str, str], tuple[str, ...]] = {}
    updates = 0
    for kind, message in sorted(_emails(result), key=lambda e: e[1]["Date"].datetime):
        if kind not in ("invitation", "update"):
            continue
        _, event = _event(message)
        copy = (str(event["UID"]), message["To"].addresses[0].addr_spec)
        if kind == "update":
            updates += 1
            assert last_seen.get(copy) != _view(event), ("nothing changed for them", copy)
        last_seen[copy] = _view(event)
    # The 2 Sep replacement of one Santiago member sends nobody an update (it sent 79).
    replaced_at = dt.datetime(2024, 9, 2, 13, tzinfo=dt.UTC)
    later = _rows(
        result,
        "SELECT count(*) FROM outbox_message WHERE kind='update' AND created_at = "
        f"'{replaced_at.replace(tzinfo=None)}'",
    )
    assert later[0][0] == 0, updates


def test_the_replaced_member_is_told_of_removal_not_cancellation(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    removed = [
        (kind, m)
        for kind, m in _emails(result)
        if m["To"].addresses[0].addr_spec == "i.vera@santiago.example.org"
        and m["Date"].datetime >= dt.datetime(2024, 9, 2, tzinfo=dt.UTC)
    ]
    removals = [m for kind, m in removed if kind == "removal"]
    assert removals and all(kind != "cancellation" for kind, _ in removed)
    for message in removals:
        method, event = _event(message)
        assert method == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        text = _text(message)
        assert "ya no figura entre los participantes" in text, text
        assert "cancelada" not in text and "reprograma" not in text, text
        assert str(message["Subject"]).startswith("Ya no figura en: ")


def test_every_mayor_email_uses_the_title_and_copies_the_assistant(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    inputs, result = replay
    mayors = {c.mayor.email: c for c in inputs.cohort.cities}
    seen = 0
    for _, message in _emails(result):
        to = message["To"].addresses[0].addr_spec
        if to not in mayors:
            continue
        seen += 1
        city = mayors[to]
        language = city.mayor.language or city.language
        assert city.mayor.title is not None
        title = city.mayor.title[language]
        first_line = _text(message).lstrip().splitlines()[0]
        assert title.lower() in first_line.lower(), first_line
        assert "Hola," not in first_line and "Olá," not in first_line
        if city.mayor.assistant:
            assert [a.addr_spec for a in message["Cc"].addresses] == [city.mayor.assistant]
        else:
            assert message["Cc"] is None
    assert seen > 100


def test_wording_a_mayors_office_would_send(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    _, result = replay
    emails = _emails(result)
    rendered = dict(_rows(result, "SELECT message_id, subject FROM outbox_message"))
    for kind, message in emails:
        subject = str(message["Subject"])
        assert "  " not in subject, subject
        assert subject == rendered[message["Message-ID"]], subject  # read back as rendered
        text = _text(message)
        assert not re.search(r": 0 (days|días|dias)\b", text), (kind, subject)
        assert "Completada" not in text and "Concluída" not in text
        if kind in ("invitation", "update", "session_reminder", "cancellation", "removal"):
            lines = text.splitlines()
            urls = {w for line in lines for w in line.split() if w.startswith("https://meet.")}
            for url in urls:
                assert text.count(url) == 1, (subject, url)
        if kind in ("invitation", "update", "cancellation", "removal"):
            _, event = _event(message)
            assert message["Date"].datetime == event.DTSTAMP, subject  # stamped when sent
            if "convening" in str(event["UID"]):
                assert "sesión" not in text.lower() and "sessão" not in text.lower(), text
                assert " session " not in text, text


def test_masterclasses_have_topics_and_check_ins_descriptions(
    replay: tuple[LoadedInputs, SimulationResult],
) -> None:
    inputs, _ = replay
    masterclasses = [s for s in inputs.timeline.sessions if s.series == "masterclass"]
    titles = {s.title[Language.EN] for s in masterclasses}
    assert len(titles) == len(masterclasses) == 5
    assert all(": " in t for t in titles), titles
    for session in inputs.timeline.sessions:
        if session.kind.value == "mayor_checkin":
            assert session.description and "alcaldía" not in session.title[Language.ES]
            roles = {inputs.timeline.people[a.person].role for a in session.attendees}
            assert {"mayor", "coach"} < roles and len(roles) > 2, roles


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
