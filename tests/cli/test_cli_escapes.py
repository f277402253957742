"""Text from outside (file keys, a mail server's reply) reaches the terminal escaped, one line each."""

from __future__ import annotations

import doctest

import sqlalchemy as sa
from typer.testing import CliRunner

from cli.main import app
from models import printable as printable_module
from models.printable import printable
from tests.conftest import SMALL_COHORT

runner = CliRunner()
HOSTILE_REPLY = "550 5.7.1 refused\r\nforged: line\x1b[2J\x1b]0;pwned\x07\u202eevil\x9b31m"


def test_outbox_list_shows_a_hostile_server_reply_escaped_on_one_line(sqlite_url: str) -> None:
    env = {"ACCEL_DATABASE_URL": sqlite_url}
    applied = runner.invoke(
        app, ["apply", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"], env=env
    )
    assert applied.exit_code == 0, applied.output
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        message_id = connection.execute(sa.text("SELECT min(id) FROM outbox_message")).scalar_one()
        connection.execute(
            sa.text(
                "UPDATE outbox_message SET status = 'failed', last_error = :error WHERE id = :id"
            ),
            {"error": HOSTILE_REPLY, "id": message_id},
        )
    engine.dispose()
    result = runner.invoke(app, ["outbox", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert printable(result.stdout.replace("\n", "")) == result.stdout.replace("\n", "")
    [row] = [line for line in result.stdout.splitlines() if line.startswith(str(message_id))]
    assert "550 5.7.1 refused forged: line\\x1b[2J\\x1b]0;pwned\\x07\\u202e" in row
    assert len(result.stdout.splitlines()) == 2  # the header and that one message


def test_printable_doctests() -> None:
    result = doctest.testmod(printable_module)
    assert result.attempted and not result.failed


def test_printable_escapes_every_control_and_nothing_else() -> None:
    escaped = [
        chr(c) for c in range(0x110000) if c < 0xD800 or c > 0xDFFF if printable(chr(c)) != chr(c)
    ]
    controls = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, 0x61C, 0x200E, 0x200F]
    bidi = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    assert sorted(map(ord, escaped)) == sorted(controls + bidi)
    assert all(
        "\n" not in printable(ch) and printable(printable(ch)) == printable(ch) for ch in escaped
    )
