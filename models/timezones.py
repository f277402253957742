"""Time-zone lookup pinned to the `tzdata` package, so rules never depend on the host."""

from __future__ import annotations

import zoneinfo
from functools import cache

import pendulum

# Chile, Paraguay and Mexico changed their rules recently (Paraguay's permanent UTC-3 is only
# in tzdata 2025a+). The host's /usr/share/zoneinfo may be older than the pinned `tzdata`
# package, so we read zones from the package only: an empty TZPATH makes zoneinfo fall back to it.
zoneinfo.reset_tzpath(to=[])


class UnknownTimeZoneError(ValueError):
    """Raised for a name that is not an IANA time zone."""


@cache
def load_zone(name: str) -> pendulum.Timezone:
    """Return the IANA zone `name` from the pinned tzdata package."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise UnknownTimeZoneError(name)
    try:
        zone = pendulum.timezone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as error:
        # OSError: a folder of the database such as "America" is no zone.
        raise UnknownTimeZoneError(name) from error
    if not isinstance(zone, pendulum.Timezone):
        raise UnknownTimeZoneError(name)
    return zone


def tzdata_version() -> str:
    """The IANA release of the zone rules in use, e.g. '2026f'."""
    import tzdata  # type: ignore[import-untyped]

    return str(tzdata.IANA_VERSION)
