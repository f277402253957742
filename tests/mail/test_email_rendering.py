"""Every email kind renders in every language, escapes data, and falls back to English."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest
import re
from typing import Any

import jinja2
import pytest

from calendars.timeline_types import Person
from mail import templates as email_rendering
from mail.templates import (
    CONTEXT_KEYS,
    KINDS,
    PARTS,
    TEMPLATES,
    DecisionDeliverableState,
    render_email,
    resolve_language,
)
from models.enums import Language

UTC = dt.UTC
LANGUAGES = ("en", "es", "pt")

# One recipient per language, each in a zone of their own; a Person works as `recipient`.
RECIPIENTS = {
    "es": Person(
        key="alcaldesa@santiago.example.org",
        name="Valentina Fuentes",
        email="alcaldesa@santiago.example.org",
        language=Language.ES,
        timezone="America/Santiago",
        role="mayor",
        city_id="santiago",
    ),
    "pt": Person(
        key="t.barros@saopaulo.example.org",
        name="Thiago Barros",
        email="t.barros@saopaulo.example.org",
        language=Language.PT,
        timezone="America/Sao_Paulo",
        role="chief_data_officer",
        city_id="sao-paulo",
    ),
    "en": Person(
        key="ana.torres@govex.example.org",
        name="Ana Torres",
        email="ana.torres@govex.example.org",
        language=Language.EN,
        timezone="America/New_York",
        role="coach",
    ),
}
# What each recipient's zone label looks like, to check times are shown in their own zone.
ZONE_LABELS = {"es": "hora de Santiago", "pt": "horário de São Paulo", "en": "New York time"}
GREETINGS = {"es": "Hola, ", "pt": "Olá, ", "en": "Dear "}

SENDER = {
    "name": "GovEx City Data Alliance",
    "email": "accelerator@govex.example.org",
    "reply_to": "help@govex.example.org",
}
PROGRAM_NAMES = {
    "en": "City Data Alliance Accelerator",
    "es": "Acelerador City Data Alliance",
    "pt": "Acelerador City Data Alliance",
}


def session(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "coaching",
        "title": "Sesión de coaching",
        "description": "Reunión periódica de su ciudad con su coach de GovEx.",
        "starts_at": dt.datetime(2024, 9, 10, 13, tzinfo=UTC),
        "ends_at": dt.datetime(2024, 9, 10, 14, tzinfo=UTC),
        "location": "Sala virtual del Acelerador",
        "meeting_url": "https://meet.example.org/cda-2024/santiago",
        "interpreted": False,
        "venue_timezone": None,
    }
    return values | changes


def deliverable() -> dict[str, Any]:
    return {
        "title": "Declaración de prioridades",
        "due_at": dt.datetime(2024, 7, 17, 21, tzinfo=UTC),  # 17:00 in Santiago (UTC−4)
        "owners": [
            {"name": "Tomás Herrera", "email": "t.herrera@santiago.example.org"},
            {"name": "Camila Soto", "email": "c.soto@santiago.example.org"},
        ],
    }


COACH = {"name": "Carla Rojas", "email": "carla.rojas@govex.example.org"}
CITY = {"name": "Santiago"}


def context(kind: str, language: str) -> dict[str, Any]:
    """A realistic context for `kind`, addressed to the recipient who reads `language`."""
    common = {
        "recipient": RECIPIENTS[language],
        "sender": SENDER,
        "program": {"name": PROGRAM_NAMES[language]},
    }
    extra: dict[str, dict[str, Any]] = {
        "invitation": {"session": session(interpreted=True)},
        "update": {
            "session": session(),
            "previous": {
                "starts_at": dt.datetime(2024, 9, 3, 14, tzinfo=UTC),
                "ends_at": dt.datetime(2024, 9, 3, 15, tzinfo=UTC),
                "location": "Sala virtual del Acelerador",
            },
        },
        "cancellation": {"session": session()},
        "removal": {"session": session()},
        "session_reminder": {"session": session()},
        "deliverable_due": {"city": CITY, "deliverable": deliverable(), "coach": COACH},
        "deliverable_overdue": {
            "city": CITY,
            "deliverable": deliverable(),
            "coach": COACH,
            "days_overdue": 1,
        },
        "overdue_escalation_coach": {"city": CITY, "deliverable": deliverable(), "days_overdue": 4},
        "overdue_escalation_mayor": {
            "city": CITY,
            "deliverable": deliverable(),
            "coach": COACH,
            "days_overdue": 8,
        },
        "decision_point": {
            "city": CITY,
            "decision": {
                "title": "Prioridades y equipo",
                "question": "Confirmar las prioridades de datos de la ciudad y su equipo senior.",
            },
            "checkin": {
                "title": "Reunión con el alcalde: prioridades y equipo",
                "starts_at": dt.datetime(2024, 7, 22, 14, tzinfo=UTC),
                "ends_at": dt.datetime(2024, 7, 22, 14, 45, tzinfo=UTC),
                "meeting_url": "https://meet.example.org/cda-2024/santiago-checkin",
            },
            "deliverables": [
                {
                    "title": "Equipo senior confirmado",
                    "due_at": dt.datetime(2024, 6, 12, 21, tzinfo=UTC),
                    "status": DecisionDeliverableState.COMPLETED,
                    "link": "https://docs.example.org/santiago/roster",
                },
                {
                    "title": "Declaración de prioridades",
                    "due_at": dt.datetime(2024, 7, 17, 21, tzinfo=UTC),
                    "status": DecisionDeliverableState.OVERDUE,
                    "link": None,
                },
                {
                    "title": "Autoevaluación de madurez de datos",
                    "due_at": dt.datetime(2024, 8, 14, 21, tzinfo=UTC),
                    "status": "pending",
                    "link": None,
                },
            ],
        },
    }
    assert set(extra) == set(KINDS)
    return common | extra[kind]


def test_doctests() -> None:
    result = doctest.testmod(email_rendering)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_kind_has_every_template_in_every_language() -> None:
    for language in LANGUAGES:
        for kind in KINDS:
            for part in PARTS:
                assert (TEMPLATES / language / f"{kind}.{part}").is_file(), (language, kind)


def test_context_keys_name_every_kind_of_the_brief() -> None:
    assert set(CONTEXT_KEYS) == {
        "invitation",
        "update",
        "cancellation",
        "removal",
        "session_reminder",
        "deliverable_due",
        "deliverable_overdue",
        "overdue_escalation_coach",
        "overdue_escalation_mayor",
        "decision_point",
    }
    for kind in KINDS:
        assert set(context(kind, "en")) == CONTEXT_KEYS[kind], kind


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language(kind: str, language: str) -> None:
    email = render_email(kind, language, context(kind, language))
    recipient = RECIPIENTS[language]

    assert email.subject and "\n" not in email.subject and "\r" not in email.subject
    assert len(email.subject) < 160
    for body in (email.text, email.html):
        assert GREETINGS[language] + recipient.name in body
        assert ZONE_LABELS[language] in body  # times are in the recipient's own zone
        assert "UTC−" in body
        # The footer: program, sender and where to reply.
        assert PROGRAM_NAMES[language] in body
        assert SENDER["name"] in body
        assert SENDER["reply_to"] in body
    assert f'<html lang="{language}">' in email.html
    assert email.text.endswith("\n")
    assert "{{" not in email.text + email.html and "{%" not in email.text + email.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_has_no_external_resources(language: str) -> None:
    for kind in KINDS:
        html = render_email(kind, language, context(kind, language)).html
        for forbidden in ("<img", "<link", "<style", "<script", "src=", "url(", "@import"):
            assert forbidden not in html.lower(), (kind, forbidden)


def test_rendering_is_deterministic() -> None:
    first = render_email("decision_point", "pt", context("decision_point", "pt"))
    assert render_email("decision_point", "pt", context("decision_point", "pt")) == first


def test_same_instant_in_three_languages() -> None:
    texts = {
        language: render_email("invitation", language, context("invitation", language)).text
        for language in LANGUAGES
    }
    assert "martes 10 de septiembre de 2024, 10:00–11:00 (hora de Santiago, UTC−3)" in texts["es"]
    assert (
        "terça-feira, 10 de setembro de 2024, 10:00–11:00 (horário de São Paulo, UTC−3)"
        in texts["pt"]
    )
    assert "Tuesday, 10 September 2024, 09:00–10:00 (New York time, UTC−4)" in texts["en"]
    assert "inglés, con interpretación simultánea" in texts["es"]


def test_in_person_sessions_also_give_the_venues_clock() -> None:
    """The convening in Baltimore: a mayor from Santiago reads her own time and Baltimore's."""
    convening = session(
        starts_at=dt.datetime(2024, 6, 26, 22, tzinfo=UTC),  # 18:00 in Baltimore (UTC−4)
        ends_at=dt.datetime(2024, 6, 28, 19, tzinfo=UTC),
        location="Johns Hopkins University, Baltimore",
        meeting_url=None,
        venue_timezone="America/New_York",
    )
    labels = {"es": "Hora local del lugar", "pt": "Horário local do evento", "en": "At the venue"}
    for language in LANGUAGES:
        values = context("invitation", language) | {"session": convening}
        email = render_email("invitation", language, values)
        shown = [line for line in email.text.splitlines() if line.startswith(labels[language])]
        assert len(shown) == 1 and labels[language] in email.html, email.text
        without = render_email("invitation", language, context("invitation", language))
        assert labels[language] not in without.text + without.html  # online: no venue clock
    spanish = render_email("invitation", "es", context("invitation", "es") | {"session": convening})
    assert (
        "Hora local del lugar: miércoles 26 de junio de 2024, 18:00 – viernes 28 de junio de 2024, "
        "15:00 (hora de Nueva York, UTC−4)"
    ) in spanish.text


def test_update_shows_the_previous_time_across_chiles_clock_change() -> None:
    email = render_email("update", "es", context("update", "es"))
    assert "martes 3 de septiembre de 2024, 10:00–11:00 (hora de Santiago, UTC−4)" in email.text
    assert "martes 10 de septiembre de 2024, 10:00–11:00 (hora de Santiago, UTC−3)" in email.text
    assert "Fecha y hora anterior" in email.html
    assert "Lugar anterior" not in email.html  # the place did not change


def test_update_without_a_move_does_not_claim_one() -> None:
    values = context("update", "en")
    values["previous"] = {
        "starts_at": values["session"]["starts_at"],
        "ends_at": values["session"]["ends_at"],
        "location": "Johns Hopkins University",
    }
    email = render_email("update", "en", values)
    assert "Previous time" not in email.html
    assert "Previous place" in email.html and "Johns Hopkins University" in email.html


def test_decision_point_lists_each_deliverable_status() -> None:
    es = render_email("decision_point", "es", context("decision_point", "es")).text
    # The status names the delivery ("entrega", feminine), so it agrees whatever the title's
    # gender: "Equipo senior confirmado: Completada" read as a wrongly agreed adjective.
    assert "- Equipo senior confirmado: entrega completada" in es
    assert "Completada" not in es
    assert "- Declaración de prioridades: entrega atrasada, venció el miércoles 17 de julio" in es
    assert "- Autoevaluación de madurez de datos: entrega pendiente, vence el miércoles 14" in es
    assert "Confirmar las prioridades de datos" in es
    assert "lunes 22 de julio de 2024, 10:00–10:45 (hora de Santiago, UTC−4)" in es
    pt = render_email("decision_point", "pt", context("decision_point", "pt")).text
    assert "entrega concluída" in pt
    assert "entrega atrasada (prazo: quarta-feira, 17 de julho de 2024)" in pt
    en = render_email("decision_point", "en", context("decision_point", "en")).text
    assert "Completed" in en and "Overdue since Wednesday, 17 July 2024" in en


def test_decision_point_links_the_submitted_document() -> None:
    link = "https://docs.example.org/santiago/roster"
    labels = {"es": "Documento entregado", "pt": "Documento entregue", "en": "Submitted document"}
    for language, label in labels.items():
        email = render_email("decision_point", language, context("decision_point", language))
        assert f"  {label}: {link}" in email.text.splitlines()
        assert email.text.count("https://docs.example.org/") == 1  # only the submitted one
        assert f'href="{link}"' in email.html and label in email.html


def test_decision_point_with_no_deliverables() -> None:
    values = context("decision_point", "en") | {"deliverables": []}
    email = render_email("decision_point", "en", values)
    assert "No deliverables are linked to this decision." in email.text


def test_an_unknown_deliverable_status_is_an_error_not_a_blank() -> None:
    values = context("decision_point", "es")
    values["deliverables"] = [values["deliverables"][0] | {"status": "lost"}]
    with pytest.raises(jinja2.UndefinedError):
        render_email("decision_point", "es", values)


def test_overdue_counts_days_in_the_singular_and_plural() -> None:
    one = render_email("deliverable_overdue", "pt", context("deliverable_overdue", "pt")).text
    assert "Atraso: 1 dia\n" in one
    eight = render_email(
        "overdue_escalation_mayor", "es", context("overdue_escalation_mayor", "es")
    ).text
    assert "Retraso: 8 días" in eight
    assert "Tomás Herrera <t.herrera@santiago.example.org>" in eight


def test_reply_to_falls_back_to_the_sender() -> None:
    values = context("session_reminder", "en") | {"sender": SENDER | {"reply_to": None}}
    email = render_email("session_reminder", "en", values)
    assert "write to accelerator@govex.example.org." in email.text
    assert "None" not in email.text + email.html


def test_missing_top_level_keys_are_named() -> None:
    values = context("deliverable_due", "es")
    del values["coach"]
    with pytest.raises(ValueError, match="coach"):
        render_email("deliverable_due", "es", values)


def test_missing_nested_values_are_errors_under_strict_undefined() -> None:
    values = context("invitation", "pt")
    del values["session"]["meeting_url"]
    with pytest.raises(jinja2.UndefinedError):
        render_email("invitation", "pt", values)
    recipient = dataclasses.replace(RECIPIENTS["pt"])
    values = context("invitation", "pt") | {"recipient": {"name": recipient.name}}
    with pytest.raises(jinja2.UndefinedError):
        render_email("invitation", "pt", values)


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown email kind"):
        render_email("newsletter", "en", context("invitation", "en"))
    with pytest.raises(ValueError, match="unknown email kind"):
        render_email("../_shared/layout", "en", context("invitation", "en"))


@pytest.mark.parametrize("language", ["fr", "de", "", "../es", "_shared", "es/../en"])
def test_unknown_languages_fall_back_to_english(language: str) -> None:
    assert resolve_language("invitation", language) == "en"
    email = render_email("invitation", language, context("invitation", "es"))
    assert email.subject.startswith("Invitation: ")
    assert "Dear Valentina Fuentes," in email.text
    assert '<html lang="en">' in email.html
    # Dates follow the template's language, still in the recipient's zone.
    assert "Tuesday, 10 September 2024, 10:00–11:00 (Santiago time, UTC−3)" in email.text


def test_regional_language_tags_use_their_language() -> None:
    assert resolve_language("invitation", "es-CL") == "es"
    assert resolve_language("invitation", "pt_BR") == "pt"
    assert resolve_language("invitation", Language.PT) == "pt"


def test_context_language_is_replaced_by_the_language_used() -> None:
    values = context("invitation", "es") | {"language": "pt"}
    email = render_email("invitation", "es", values)
    assert "martes 10 de septiembre" in email.text
    assert values["language"] == "pt"  # the caller's mapping is left alone


HOSTILE_CITY = "<script>alert('x')</script> Ciudad"
HOSTILE_NAME = "Eve {{ 7*7 }} {% raw %}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_escapes_data_and_never_evaluates_it(language: str) -> None:
    for kind in KINDS:
        values = context(kind, language)
        values["recipient"] = {"name": HOSTILE_NAME, "timezone": "America/Santiago"}
        if "city" in values:
            values["city"] = {"name": HOSTILE_CITY}
        if "session" in values:
            values["session"] = values["session"] | {"title": HOSTILE_CITY}
        email = render_email(kind, language, values)

        assert "<script>" not in email.html, kind
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in email.html, kind
        # Data is printed, never read as a template.
        assert "Eve {{ 7*7 }} {% raw %}" in email.html
        assert "Eve 49" not in email.html + email.text + email.subject
        # Plain text is not HTML: it keeps the characters as they are.
        assert "Eve {{ 7*7 }} {% raw %}" in email.text
        if "city" in values or "session" in values:
            assert HOSTILE_CITY in email.text + email.subject


def test_only_http_links_become_links() -> None:
    for url in ("javascript:alert(1)", 'https://x.example.org/" onmouseover="alert(1)', "ftp://x"):
        values = context("session_reminder", "en")
        values["session"] = values["session"] | {"meeting_url": url}
        email = render_email("session_reminder", "en", values)
        assert "javascript:" not in email.html
        assert "onmouseover" not in email.html
        assert "Join online" not in email.text
    email = render_email("session_reminder", "en", context("session_reminder", "en"))
    assert 'href="https://meet.example.org/cda-2024/santiago"' in email.html
    assert "Join the meeting" in email.html


def test_subject_is_one_line_even_when_data_has_line_breaks() -> None:
    values = context("invitation", "en")
    values["session"] = values["session"] | {"title": "Coaching\r\nBcc: victim@example.org\n"}
    subject = render_email("invitation", "en", values).subject
    assert subject == "Invitation: Coaching Bcc: victim@example.org — Tuesday, 10 September 2024"
    assert not re.search(r"[\r\n]", subject)
