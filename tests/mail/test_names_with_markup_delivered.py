"""From file to mailbox: names with HTML and template syntax pass validation and arrive escaped.

The hostile-but-valid cohort `tests/data/cohorts/markup-in-names.yaml` is replayed for two and
a half months (invitations, reminders, deliverable notices, escalations, a decision point) and
every `.eml` written is read back with the standard library's parser.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from cli.main import app

REPO = Path(__file__).resolve().parents[2]
MARKUP_COHORT = "tests/data/cohorts/markup-in-names.yaml"
NAMES = (
    '<b>GovEx</b> & "Partners"',  # the organizer: every sender's display name
    "<img src=x onerror=alert(1)>",  # the venue
    "Ana {{ 7*7 }} Torres",
    "<script>alert('city')</script>",
    "{{ 7*7 }} {% raw %}Valentina{% endraw %}",
    "{% include '/etc/passwd' %}",
    "Camila ${7*7} #{7*7}",
    "Ignacio <i>Vera</i>",
    "São Paulo {{ config.items() }}",
    "</title><script>alert(2)</script>",
    "Thiago {{ self.__init__.__globals__ }}",
    "Ana & Beatriz",
    'Rafael "Rafa" O\'Neil',
)
runner = CliRunner()


def test_validate_accepts_markup_in_names() -> None:
    result = runner.invoke(app, ["validate", "--cohort", MARKUP_COHORT])
    assert result.exit_code == 0, result.output
    assert "are valid" in result.stdout


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> list[EmailMessage]:
    out = tmp_path_factory.mktemp("markup")
    result = runner.invoke(
        app,
        [
            "simulate",
            "--cohort",
            str(REPO / MARKUP_COHORT),
            "--from",
            "2024-05-01T13:00Z",
            "--until",
            "2024-07-20T00:00Z",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    parser = BytesParser(policy=email.policy.default)
    parsed = []
    for path in sorted((out / "outbox").glob("*.eml")):
        message = parser.parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def _parts(messages: list[EmailMessage], subtype: str) -> str:
    return "\n".join(
        part.get_content()
        for message in messages
        for part in message.walk()
        if part.get_content_type() == f"text/{subtype}"
    )


def test_many_kinds_of_email_were_sent(messages: list[EmailMessage]) -> None:
    subjects = " ".join(str(m["Subject"]) for m in messages)
    assert len(messages) > 50
    for word in ("Invitation", "Invitación", "Convite", "<script>alert('city')</script>"):
        assert word in subjects


def test_every_name_arrives_escaped_in_html_and_as_written_in_text(
    messages: list[EmailMessage],
) -> None:
    html, text = _parts(messages, "html"), _parts(messages, "plain")
    for name in NAMES:
        assert str(escape(name)) in html, name
        if str(escape(name)) != name:
            assert name not in html, f"{name!r} reached an HTML part unescaped"
        assert name in text, name
    # Never evaluated: no 7*7 became 49, no include pulled in a file, no object was printed.
    for evaluated in ("Ana 49 Torres", "49 Valentina", "root:x:0", "<bound method", "<function"):
        assert evaluated not in html and evaluated not in text


def test_headers_keep_names_on_one_line(messages: list[EmailMessage]) -> None:
    for message in messages:
        for header in ("From", "To", "Subject"):
            value = str(message[header])
            assert "\n" not in value and "\r" not in value
        assert message["From"].addresses[0].display_name == '<b>GovEx</b> & "Partners"'
