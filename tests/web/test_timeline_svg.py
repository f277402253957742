"""The timeline SVG, from plain data: well-formed, escaped, placed and coloured as the data says."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from web.timeline_svg import (
    CHART_WIDTH,
    KIND_COLOURS,
    LABEL_WIDTH,
    MIN_MARK_WIDTH,
    STATUS_COLOURS,
    DeadlineMark,
    SessionMark,
    TimelineRow,
    legend_svg,
    month_window,
    timeline_svg,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)


def _at(month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, month, day, hour, tzinfo=dt.UTC)


def _x(moment: dt.datetime) -> float:
    return LABEL_WIDTH + CHART_WIDTH * (moment - START) / (END - START)


def _svg(rows: list[TimelineRow], now: dt.datetime = NOW) -> ET.Element:
    return ET.fromstring(timeline_svg(rows, start=START, end=END, now=now, title="cda-2024"))


def _session(kind: str, start: dt.datetime, hours: float = 1.0) -> SessionMark:
    return SessionMark(kind, start, start + dt.timedelta(hours=hours), f"{kind} at {start}")


SANTIAGO = TimelineRow(
    key="santiago",
    label="Santiago",
    href="/ops/cities/santiago?cohort=cda-2024",
    sessions=[
        _session("convening", _at(6, 26, 22), hours=45),
        _session("masterclass", _at(9, 10, 16), hours=1.5),
        _session("coaching", _at(9, 3, 15)),
    ],
    deadlines=[
        DeadlineMark("overdue", _at(8, 14, 21), "Self-assessment"),
        DeadlineMark("upcoming", _at(9, 18, 20), "Outline"),
        DeadlineMark("submitted", _at(7, 17, 21), "Priorities"),
    ],
)
LIMA = TimelineRow(key="lima", label="Lima", sessions=[_session("workshop", _at(7, 18, 14))])


def test_a_row_per_city_with_its_sessions_coloured_by_kind() -> None:
    svg = _svg([SANTIAGO, LIMA])
    rows = svg.findall("svg:g[@class='row']", NS)
    assert [r.get("data-city") for r in rows] == ["santiago", "lima"]
    marks = rows[0].findall("svg:rect[@class='session']", NS)
    assert [m.get("data-kind") for m in marks] == ["convening", "coaching", "masterclass"]
    assert all(m.get("fill") == KIND_COLOURS[m.get("data-kind", "")] for m in marks)
    tooltips = [m.find("svg:title", NS) for m in marks]
    assert all(t is not None and t.text and " at " in t.text for t in tooltips)
    assert [m.get("data-kind") for m in rows[1].findall("svg:rect[@class='session']", NS)] == [
        "workshop"
    ]


def test_marks_sit_at_their_instants_and_short_ones_stay_visible() -> None:
    row = _svg([SANTIAGO]).find("svg:g[@class='row']", NS)
    assert row is not None
    marks = {m.get("data-kind"): m for m in row.findall("svg:rect[@class='session']", NS)}
    convening = marks["convening"]
    assert float(convening.get("x", "")) == pytest.approx(_x(_at(6, 26, 22)), abs=0.05)
    assert float(convening.get("width", "")) == pytest.approx(
        _x(_at(6, 28, 19)) - _x(_at(6, 26, 22)), abs=0.1
    )
    assert float(marks["coaching"].get("width", "")) == MIN_MARK_WIDTH  # an hour is < 1 px
    assert float(marks["coaching"].get("x", "")) < float(marks["masterclass"].get("x", ""))


def test_deadlines_are_diamonds_coloured_by_status() -> None:
    row = _svg([SANTIAGO]).find("svg:g[@class='row']", NS)
    assert row is not None
    deadlines = row.findall("svg:g[@class='deadline']", NS)
    assert [d.get("data-status") for d in deadlines] == ["submitted", "overdue", "upcoming"]
    for deadline in deadlines:
        polygon = deadline.find("svg:polygon", NS)
        assert polygon is not None
        assert polygon.get("fill") == STATUS_COLOURS[deadline.get("data-status", "")]
        centre = float(polygon.get("points", "").split()[0].split(",")[0])
        due = dt.datetime.fromisoformat(deadline.get("data-due", "").replace("Z", "+00:00"))
        assert centre == pytest.approx(_x(due), abs=0.05)


def test_labels_link_to_the_city_page_only_when_given_a_link() -> None:
    svg = _svg([SANTIAGO, LIMA])
    santiago, lima = svg.findall("svg:g[@class='row']", NS)
    link = santiago.find("svg:a", NS)
    assert link is not None and link.get("href") == "/ops/cities/santiago?cohort=cda-2024"
    assert lima.find("svg:a", NS) is None
    assert "".join(lima.itertext()).startswith("Lima")


def test_text_from_the_data_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & Co'
    row = TimelineRow(
        key='a"b',
        label=hostile,
        href='/ops/cities/x?"><script>',
        sessions=[SessionMark("masterclass", _at(9, 10), _at(9, 11), hostile)],
    )
    text = timeline_svg([row], start=START, end=END, now=NOW, title=hostile)
    svg = ET.fromstring(text)  # still well-formed
    assert "<script" not in text
    assert svg.find(".//svg:script", NS) is None
    group = svg.find("svg:g[@class='row']", NS)
    assert group is not None and group.get("data-city") == 'a"b'
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert hostile in labels


def test_the_today_line_is_drawn_only_inside_the_window() -> None:
    today = _svg([SANTIAGO]).find("svg:g[@class='today']", NS)
    assert today is not None and today.get("data-now") == "2024-09-01T00:00:00Z"
    line = today.find("svg:line", NS)
    assert line is not None and float(line.get("x1", "")) == pytest.approx(_x(NOW), abs=0.05)
    later = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert _svg([SANTIAGO], now=later).find("svg:g[@class='today']", NS) is None


def test_month_labels_cover_the_window() -> None:
    months = _svg([SANTIAGO]).find("svg:g[@class='months']", NS)
    assert months is not None
    labels = [t.text for t in months.findall("svg:text", NS)]
    assert labels == [
        "Jun 2024",
        "Jul 2024",
        "Aug 2024",
        "Sep 2024",
        "Oct 2024",
        "Nov 2024",
        "Dec 2024",
    ]


def test_marks_outside_the_window_are_pinned_to_its_edges() -> None:
    early = TimelineRow(
        "x", "X", sessions=[_session("coaching", dt.datetime(2024, 1, 5, tzinfo=dt.UTC))]
    )
    mark = _svg([early]).find(".//svg:rect[@class='session']", NS)
    assert mark is not None and float(mark.get("x", "")) == LABEL_WIDTH


def test_an_empty_chart_says_so() -> None:
    text = timeline_svg([], start=START, end=END, now=NOW, title="t")
    assert "No cities to show" in text
    ET.fromstring(text)


def test_a_window_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        timeline_svg([], start=END, end=START, now=NOW, title="t")
    with pytest.raises(ValueError, match="before its first"):
        month_window(END, START)


def test_month_window_rounds_out_to_whole_months() -> None:
    assert month_window(_at(6, 12, 21), _at(12, 16, 20)) == (START, END)
    assert month_window(_at(6, 1, 0), _at(6, 1, 0)) == (
        START,
        dt.datetime(2024, 7, 1, tzinfo=dt.UTC),
    )


def test_the_legend_names_every_kind_and_status() -> None:
    legend = ET.fromstring(legend_svg(list(KIND_COLOURS), list(STATUS_COLOURS)))
    kinds = [g.get("data-kind") for g in legend.findall("svg:g[@class='legend-kind']", NS)]
    statuses = [g.get("data-status") for g in legend.findall("svg:g[@class='legend-status']", NS)]
    assert kinds == list(KIND_COLOURS) and statuses == list(STATUS_COLOURS)
    texts = [t.text for t in legend.iter("{http://www.w3.org/2000/svg}text")]
    assert "Mayor check-in" in texts and "Due soon" in texts
    # Kinds on one line, statuses on the next: narrow enough for the card of a 1280-pixel
    # window (about 1190 pixels inside), where one line was cut off after "Cance".
    assert int(legend.get("width", "0")) <= 800
    kind_rows = {t.get("y") for g in legend.findall("svg:g[@class='legend-kind']", NS) for t in g}
    status_rows = {
        t.get("y")
        for g in legend.findall("svg:g[@class='legend-status']", NS)
        for t in g
        if t.tag.endswith("text")
    }
    assert len(status_rows) == 1 and status_rows.isdisjoint(kind_rows)
