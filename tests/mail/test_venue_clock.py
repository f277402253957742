"""In-person sessions also show the venue's clock, to those whose own clock differs."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from mail.render import venue_timezone

# The convening in Baltimore: 18:00 on 26 June to 15:00 on 28 June 2024, New York time (UTC−4).
STARTS = dt.datetime(2024, 6, 26, 22, tzinfo=dt.UTC)
ENDS = dt.datetime(2024, 6, 28, 19, tzinfo=dt.UTC)
IN_PERSON = SimpleNamespace(timezone="America/New_York", meeting_url=None)
ONLINE = SimpleNamespace(timezone="America/New_York", meeting_url="https://meet.example.org/x")


@pytest.mark.parametrize(
    ("recipient_zone", "expected"),
    [
        ("America/Mexico_City", "America/New_York"),  # UTC−6: 16:00 at home, 18:00 there
        ("America/Sao_Paulo", "America/New_York"),  # UTC−3
        ("America/Santiago", None),  # UTC−4 in June too: the same wall clock, said once
        ("America/Toronto", None),
        ("America/New_York", None),
    ],
)
def test_the_venue_clock_is_shown_only_where_it_differs(
    recipient_zone: str, expected: str | None
) -> None:
    assert venue_timezone(IN_PERSON, STARTS, ENDS, recipient_zone) == expected


def test_online_sessions_have_no_venue_clock() -> None:
    assert venue_timezone(ONLINE, STARTS, ENDS, "America/Mexico_City") is None
