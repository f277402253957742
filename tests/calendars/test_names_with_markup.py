"""Names full of HTML and template syntax are valid input: escaped in HTML, verbatim in text.

`tests/data/cohorts/markup-in-names.yaml` gives every person, city, the organizer and the venue
a name with `<script>`, `{{ 7*7 }}`, `{% raw %}` or `{% include %}`. They are rendered here in
every email kind, in each recipient's language, through `render_email`: data fills templates,
data never becomes a template, so `{{ 7*7 }}` stays as written and never turns into 49.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from accel.inputs import load_inputs
from calendars.timeline_types import LoadedInputs, Person
from mail.templates import KINDS, DecisionDeliverableState, render_email
from models.file_types import localized

REPO = Path(__file__).resolve().parents[2]
MARKUP_COHORT = REPO / "tests" / "data" / "cohorts" / "markup-in-names.yaml"
UTC = dt.UTC


@pytest.fixture(scope="module")
def markup() -> LoadedInputs:
    return load_inputs(MARKUP_COHORT)


def hostile_names(inputs: LoadedInputs) -> list[str]:
    cohort = inputs.cohort
    names = [cohort.organizer.name, *(c.name for c in cohort.coaches)]
    for city in cohort.cities:
        names += [city.name, city.mayor.name, *(m.name for m in city.team)]
    assert cohort.convening is not None
    return [*names, cohort.convening.venue.name, cohort.convening.venue.address]


def context(kind: str, inputs: LoadedInputs, recipient: Person) -> dict[str, Any]:
    """Every value a template shows, taken from the hostile cohort."""
    cohort = inputs.cohort
    city = next(c for c in cohort.cities if c.id == recipient.city_id)
    coach = cohort.coach(city.coach)
    session = next(s for s in inputs.timeline.sessions if s.kind.value == "convening")
    shown = {
        "kind": session.kind.value,
        "title": localized(session.title, recipient.language),
        "description": None,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "location": session.location,
        "meeting_url": session.meeting_url,
        "interpreted": True,
        "venue_timezone": None,
    }
    due = dt.datetime(2024, 6, 12, 21, tzinfo=UTC)
    deliverable = {
        "title": "Roster",
        "due_at": due,
        "owners": [{"name": m.name, "email": m.email} for m in city.team],
    }
    values: dict[str, Any] = {
        "recipient": recipient,
        "sender": {
            "name": cohort.organizer.name,
            "email": cohort.organizer.email,
            "reply_to": None,
        },
        "program": {"name": localized(inputs.program.name, recipient.language)},
        "session": shown,
        "previous": {"starts_at": due, "ends_at": due, "location": cohort.organizer.name},
        "city": {"name": city.name},
        "deliverable": deliverable,
        "coach": {"name": coach.name, "email": coach.email},
        "days_overdue": 2,
        "decision": {"title": city.name, "question": city.mayor.name},
        "checkin": {
            "title": city.name,
            "starts_at": due,
            "ends_at": due,
            "meeting_url": session.meeting_url,
        },
        "deliverables": [
            {
                "title": m.name,
                "due_at": due,
                "status": DecisionDeliverableState.PENDING,
                "link": None,
            }
            for m in city.team
        ],
    }
    return values


def test_the_file_is_valid_without_warnings(markup: LoadedInputs) -> None:
    assert markup.warnings == []
    assert any("<script>" in name for name in hostile_names(markup))
    assert any("{{ 7*7 }}" in name for name in hostile_names(markup))
    assert any("{% raw %}" in name for name in hostile_names(markup))


@pytest.mark.parametrize("kind", KINDS)
def test_names_are_escaped_in_html_and_verbatim_in_text(kind: str, markup: LoadedInputs) -> None:
    recipients = [p for p in markup.timeline.people.values() if p.city_id is not None]
    names = hostile_names(markup)
    seen_in_html: set[str] = set()
    for recipient in recipients:
        rendered = render_email(kind, recipient.language.value, context(kind, markup, recipient))
        html, text = rendered.html, rendered.text
        for name in names:
            if str(escape(name)) in html:
                seen_in_html.add(name)
            if name != str(escape(name)):
                assert name not in html, f"{name!r} reached the HTML unescaped"
        # Nothing of the data was evaluated as a template.
        for part in (html, text, rendered.subject):
            assert " 49 " not in part and "root:" not in part
        assert recipient.name in text
        assert "\n" not in rendered.subject and "\r" not in rendered.subject
    # Each recipient's own name is in their email; raw HTML in names never reaches the HTML.
    assert {p.name for p in recipients} <= seen_in_html


def test_template_syntax_in_a_name_is_printed_as_written(markup: LoadedInputs) -> None:
    mayor = next(p for p in markup.timeline.people.values() if p.name.startswith("{{"))
    rendered = render_email(
        "invitation", mayor.language.value, context("invitation", markup, mayor)
    )
    assert "{{ 7*7 }} {% raw %}Valentina{% endraw %}" in rendered.text
    assert "{{ 7*7 }} {% raw %}Valentina{% endraw %}" in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html  # the venue
