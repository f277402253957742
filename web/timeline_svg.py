"""The cohort timeline as an inline SVG string: one row per city, months across; no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Final

# Okabe-Ito colours: told apart by people with the common colour-vision deficiencies.
KIND_COLOURS: Final[dict[str, str]] = {
    "convening": "#D55E00",
    "masterclass": "#0072B2",
    "workshop": "#009E73",
    "coaching": "#56B4E9",
    "presentation": "#CC79A7",
    "mayor_checkin": "#E69F00",
}
KIND_LABELS: Final[dict[str, str]] = {
    "convening": "Convening",
    "masterclass": "Masterclass",
    "workshop": "Workshop",
    "coaching": "Coaching",
    "presentation": "Presentation",
    "mayor_checkin": "Mayor check-in",
}
STATUS_COLOURS: Final[dict[str, str]] = {
    "submitted": "#1B7F3B",
    "submitted_late": "#7A8B00",
    "due_soon": "#F2B705",
    "overdue": "#C62828",
    "upcoming": "#8A94A6",
    "cancelled": "#FFFFFF",
}
STATUS_LABELS: Final[dict[str, str]] = {
    "submitted": "Submitted",
    "submitted_late": "Submitted late",
    "due_soon": "Due soon",
    "overdue": "Overdue",
    "upcoming": "Upcoming",
    "cancelled": "Cancelled",
}
UNKNOWN_COLOUR: Final = "#444444"
TODAY_COLOUR: Final = "#D62828"
FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LABEL_WIDTH: Final = 170
CHART_WIDTH: Final = 880
RIGHT_PAD: Final = 16
HEADER_HEIGHT: Final = 30
ROW_HEIGHT: Final = 30
LEGEND_CHAR_WIDTH: Final = 7.0  # a generous average width at 12px: labels must never overlap
MIN_MARK_WIDTH: Final = 3.0  # an hour-long session is under a pixel wide at this scale


@dataclass(frozen=True)
class SessionMark:
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    label: str  # the tooltip


@dataclass(frozen=True)
class DeadlineMark:
    status: str
    due_at: dt.datetime
    label: str  # the tooltip


@dataclass(frozen=True)
class TimelineRow:
    key: str  # the city id, kept as a data attribute
    label: str
    href: str | None = None
    sessions: Sequence[SessionMark] = field(default_factory=tuple)
    deadlines: Sequence[DeadlineMark] = field(default_factory=tuple)


def month_window(first: dt.datetime, last: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """From the start of `first`'s month to the start of the month after `last` (UTC).

    >>> a, b = month_window(dt.datetime(2024, 6, 12, 21, tzinfo=dt.UTC),
    ...                     dt.datetime(2024, 12, 16, 20, tzinfo=dt.UTC))
    >>> a.isoformat(), b.isoformat()
    ('2024-06-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00')
    """
    if last < first:
        raise ValueError("the window's last instant is before its first")
    start = first.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, _next_month(last.astimezone(dt.UTC))


def timeline_svg(
    rows: Sequence[TimelineRow],
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    title: str,
) -> str:
    """The chart: month columns between `start` and `end`, a row per entry, a line at `now`."""
    if end <= start:
        raise ValueError("the timeline must end after it starts")
    scale = _Scale(start, end)
    height = HEADER_HEIGHT + ROW_HEIGHT * max(len(rows), 1) + 8
    width = LABEL_WIDTH + CHART_WIDTH + RIGHT_PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="{escape(FONT)}" font-size="12" aria-labelledby="timeline-title">',
        f'<title id="timeline-title">{escape(title)}</title>',
    ]
    parts.extend(_months(scale, height))
    if not rows:
        parts.append(
            f'<text x="{LABEL_WIDTH + 8}" y="{HEADER_HEIGHT + 19}" fill="#555">No cities to show</text>'
        )
    for index, row in enumerate(rows):
        parts.extend(_row(row, index, scale))
    if start <= now <= end:
        x = _f(scale.x(now))
        parts.append(
            f'<g class="today" data-now="{escape(_iso(now))}">'
            f'<line x1="{x}" y1="{HEADER_HEIGHT - 6}" x2="{x}" y2="{height - 4}" '
            f'stroke="{TODAY_COLOUR}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{x}" y="{HEADER_HEIGHT - 9}" text-anchor="middle" font-size="10" '
            f'font-weight="600" fill="{TODAY_COLOUR}">today</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def legend_svg(kinds: Sequence[str], statuses: Sequence[str]) -> str:
    """Swatches for session kinds (bars) on one line and deadline statuses (diamonds) below:
    as one line it was wider than a 1280-pixel window's card, and its end was cut off."""
    kind_parts, kinds_end = _legend_line(
        "kind", kinds, KIND_LABELS, _kind_swatch, label_x=19, label_y=15, gap=34
    )
    status_parts, statuses_end = _legend_line(
        "status", statuses, STATUS_LABELS, _status_swatch, label_x=16, label_y=37, gap=32
    )
    width = int(max(kinds_end, statuses_end)) + 4
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="legend" role="img" '
        f'aria-label="Legend" viewBox="0 0 {width} 44" width="{width}" height="44" '
        f'font-family="{escape(FONT)}" font-size="12">'
        + "".join(kind_parts + status_parts)
        + "</svg>"
    )


def _legend_line(
    name: str,
    values: Sequence[str],
    labels: Mapping[str, str],
    swatch: Callable[[float, str], str],
    *,
    label_x: float,
    label_y: int,
    gap: float,
) -> tuple[list[str], float]:
    """A swatch and label per value, left to right, each as wide as its label; and where it ends."""
    parts: list[str] = []
    x = 4.0
    for value in values:
        label = labels.get(value, value)
        parts.append(
            f'<g class="legend-{name}" data-{name}="{escape(value)}">{swatch(x, value)}'
            f'<text x="{_f(x + label_x)}" y="{label_y}">{escape(label)}</text></g>'
        )
        x += gap + LEGEND_CHAR_WIDTH * len(label)
    return parts, x


def _kind_swatch(x: float, kind: str) -> str:
    return f'<rect x="{_f(x)}" y="6" width="14" height="10" rx="1" fill="{_kind_colour(kind)}"/>'


def _status_swatch(x: float, status: str) -> str:
    return _diamond(x + 6, 33, status)


class _Scale:
    def __init__(self, start: dt.datetime, end: dt.datetime) -> None:
        self.start, self.end = start, end
        self.span = (end - start).total_seconds()

    def x(self, moment: dt.datetime) -> float:
        # Marks outside the window are pinned to its edges rather than drawn over the labels.
        seconds = min(max((moment - self.start).total_seconds(), 0.0), self.span)
        return LABEL_WIDTH + CHART_WIDTH * seconds / self.span


def _months(scale: _Scale, height: int) -> list[str]:
    parts = ['<g class="months">']
    month = scale.start.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month < scale.end:
        following = _next_month(month)
        left, right = scale.x(max(month, scale.start)), scale.x(min(following, scale.end))
        if month >= scale.start:
            parts.append(
                f'<line x1="{_f(left)}" y1="{HEADER_HEIGHT - 4}" x2="{_f(left)}" '
                f'y2="{height - 4}" stroke="#D5D9E0" stroke-width="1"/>'
            )
        if right - left > 30:
            parts.append(
                f'<text x="{_f((left + right) / 2)}" y="14" text-anchor="middle" fill="#333">'
                f"{MONTHS[month.month - 1]} {month.year}</text>"
            )
        month = following
    parts.append("</g>")
    return parts


def _row(row: TimelineRow, index: int, scale: _Scale) -> list[str]:
    top = HEADER_HEIGHT + index * ROW_HEIGHT
    fill = "#F4F6F9" if index % 2 == 0 else "#FFFFFF"
    label = escape(row.label)
    text = f'<text x="8" y="{top + 19}" fill="#1F2937">{label}</text>'
    if row.href is not None:
        text = f'<a class="row-link" href="{escape(row.href)}">{text}</a>'
    parts = [
        f'<g class="row" data-city="{escape(row.key)}">',
        f'<rect class="band" x="0" y="{top}" width="{LABEL_WIDTH + CHART_WIDTH}" '
        f'height="{ROW_HEIGHT}" fill="{fill}"/>',
        text,
    ]
    for mark in sorted(row.sessions, key=lambda m: (m.starts_at, m.kind)):
        left = scale.x(mark.starts_at)
        width = max(scale.x(mark.ends_at) - left, MIN_MARK_WIDTH)
        parts.append(
            f'<rect class="session" data-kind="{escape(mark.kind)}" '
            f'data-start="{escape(_iso(mark.starts_at))}" x="{_f(left)}" y="{top + 5}" '
            f'width="{_f(width)}" height="12" rx="1" fill="{_kind_colour(mark.kind)}">'
            f"<title>{escape(mark.label)}</title></rect>"
        )
    for deadline in sorted(row.deadlines, key=lambda d: d.due_at):
        parts.append(
            f'<g class="deadline" data-status="{escape(deadline.status)}" '
            f'data-due="{escape(_iso(deadline.due_at))}">'
            f"{_diamond(scale.x(deadline.due_at), top + 23, deadline.status)}"
            f"<title>{escape(deadline.label)}</title></g>"
        )
    parts.append("</g>")
    return parts


def _diamond(x: float, y: float, status: str) -> str:
    r = 5.0
    points = f"{_f(x)},{_f(y - r)} {_f(x + r)},{_f(y)} {_f(x)},{_f(y + r)} {_f(x - r)},{_f(y)}"
    colour = STATUS_COLOURS.get(status, UNKNOWN_COLOUR)
    return f'<polygon points="{points}" fill="{colour}" stroke="#1F2937" stroke-width="0.8"/>'


def _kind_colour(kind: str) -> str:
    return KIND_COLOURS.get(kind, UNKNOWN_COLOUR)


def _next_month(moment: dt.datetime) -> dt.datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _f(value: float) -> str:
    """Coordinates with one decimal: enough for a screen, and a stable string for tests."""
    return f"{value:.1f}"
