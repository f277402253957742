"""prefect.yaml (many machines) and flows/deployments.py (`accel serve`) describe the same
deployments: names, entry points, parameters, schedules; all on the `accel` process pool."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.flows import load_flow_from_entrypoint

from flows.deployments import build_deployments, describe_schedules

REPO = Path(__file__).resolve().parents[2]
COHORT = "cohorts/cda-2024.yaml"  # relative: the pull step makes $ACCEL_HOME the directory


def _project() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return document


def _schedule(entry: dict[str, Any]) -> IntervalSchedule | CronSchedule:
    if "interval" in entry:
        return IntervalSchedule(
            interval=dt.timedelta(seconds=entry["interval"]),
            anchor_date=entry["anchor_date"],
            timezone=entry.get("timezone"),
        )
    return CronSchedule(cron=entry["cron"], timezone=entry.get("timezone"))


def test_pull_step_sets_the_working_directory() -> None:
    project = _project()
    assert project["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $ACCEL_HOME }}"}}
    ]
    assert project["build"] is None and project["push"] is None


def test_same_deployments_as_accel_serve() -> None:
    in_yaml = {d["name"]: d for d in _project()["deployments"]}
    served = build_deployments(COHORT)
    assert sorted(in_yaml) == sorted(d.name for d in served)
    for deployment in served:
        entry = in_yaml[deployment.name]
        assert entry["entrypoint"] == deployment.entrypoint
        assert (entry.get("parameters") or {}) == deployment.parameters
        assert entry["work_pool"] == {"name": "accel"}
        expected = [s.schedule.model_dump() for s in deployment.schedules or []]
        assert [_schedule(s).model_dump() for s in entry.get("schedules") or []] == expected


@pytest.mark.parametrize("entry", _project()["deployments"], ids=lambda d: d["name"])
def test_entrypoints_load_as_flows(entry: dict[str, Any]) -> None:
    flow = load_flow_from_entrypoint(entry["entrypoint"])
    assert flow.name == entry["entrypoint"].rsplit(":", 1)[1]


def test_interval_schedule_has_an_anchor() -> None:
    """Without one, Prefect anchors the interval on the moment of deploying."""
    for entry in _project()["deployments"]:
        for schedule in entry.get("schedules") or []:
            if "interval" in schedule:
                assert dt.datetime.fromisoformat(schedule["anchor_date"]).tzinfo is not None


def test_accel_serve_describes_each_schedule() -> None:
    described = {d.name: describe_schedules(d) for d in build_deployments(COHORT)}
    assert described == {
        "dispatch-messages": "every 5 min",
        "check-deliverables": "cron 0 8 * * * (America/New_York)",
        "notify-decision-points": "cron 30 8 * * * (America/New_York)",
        "sync-cohort": "triggered: prefect deployment run 'sync_cohort/sync-cohort'",
        "reschedule-session": "triggered: prefect deployment run 'reschedule_session/reschedule-session'",
        "cancel-session": "triggered: prefect deployment run 'cancel_session/cancel-session'",
    }
