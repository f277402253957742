"""Generate a synthetic cohort of N cities (for benchmarks and load tests), as YAML text."""

from __future__ import annotations

import itertools
from typing import Any

import yaml

ZONES = [
    ("America/Santiago", "es", "CL"),
    ("America/Asuncion", "es", "PY"),
    ("America/Mexico_City", "es", "MX"),
    ("America/Sao_Paulo", "pt", "BR"),
    ("America/Bogota", "es", "CO"),
    ("America/Lima", "es", "PE"),
    ("America/New_York", "en", "US"),
    ("America/Toronto", "en", "CA"),
    ("America/Jamaica", "en", "JM"),
    ("America/Argentina/Buenos_Aires", "es", "AR"),
    ("America/Chicago", "en", "US"),
    ("America/Recife", "pt", "BR"),
]
ROLES = ["chief_of_staff", "chief_data_officer", "equity_accountability", "communications"]
COACH_ZONES = {"es": "America/Bogota", "pt": "America/Sao_Paulo", "en": "America/New_York"}
CITIES_PER_COACH = 5


def generated_cohort(cities: int, cohort_id: str | None = None) -> str:
    """A valid cohort: cities round-robin over twelve zones, one coach per five cities."""
    cohort_id = cohort_id or f"bench-{cities}"
    coaches: list[dict[str, object]] = []
    city_rows: list[dict[str, object]] = []
    by_language: dict[str, list[dict[str, Any]]] = {}
    for n, (zone, language, country) in zip(range(cities), itertools.cycle(ZONES), strict=False):
        pool = by_language.setdefault(language, [])
        if not pool or len(pool[-1]["cities"]) >= CITIES_PER_COACH:
            coach: dict[str, Any] = {"id": f"coach-{language}-{len(pool) + 1}", "cities": []}
            pool.append(coach)
            coaches.append(
                {
                    "id": coach["id"],
                    "name": f"Coach {language.upper()} {len(pool)}",
                    "email": f"{coach['id']}@govex.example.org",
                    "timezone": COACH_ZONES[language],
                    "languages": [language, "en"] if language != "en" else ["en"],
                }
            )
        coach = pool[-1]
        coach["cities"].append(n)
        city_id = f"city-{n:04d}"
        city_rows.append(
            {
                "id": city_id,
                "name": f"City {n}",
                "country": country,
                "timezone": zone,
                "language": language,
                "coach": coach["id"],
                "mayor": {"name": f"Mayor {n}", "email": f"mayor@{city_id}.example.org"},
                "team": [
                    {
                        "name": f"Member {n}-{i}",
                        "email": f"m{i}@{city_id}.example.org",
                        "role": role,
                    }
                    for i, role in enumerate(ROLES[: 3 + n % 2])
                ],
            }
        )
    document = {
        "cohort": cohort_id,
        "program": "cda-accelerator",
        "organizer": {"name": "GovEx Bench", "email": "accelerator@govex.example.org"},
        "virtual_meeting": {"base_url": "https://meet.example.org/bench"},
        "coaches": coaches,
        "cities": city_rows,
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def one_coach_cohort(cities: int) -> str:
    """The generated cohort with one coach for every city, cities written one per line
    (the budget's worst case: every city shares one coach's calendar)."""
    document = yaml.safe_load(generated_cohort(cities, "one-coach"))
    coach = document["coaches"][0] | {"id": "ana"}
    document["coaches"] = [coach]
    lines = [yaml.safe_dump({k: v}, sort_keys=False) for k, v in document.items() if k != "cities"]
    lines.append("cities:\n")
    for city in document["cities"]:
        city["coach"] = coach["id"]
        lines.append("  - " + yaml.safe_dump(city, default_flow_style=True, width=10**6))
    return "".join(lines)
