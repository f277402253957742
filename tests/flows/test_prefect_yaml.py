"""prefect.yaml (many machines) and flows/deployments.py (`accel serve`) describe the same
deployments: names, entry points, parameters, schedules; all on the `accel` process pool. The
file is read as Prefect reads it (its anchors and merge keys resolved by Prefect's own loader)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._config import _load_deploy_configs_and_actions
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.flows import load_flow_from_entrypoint
from rich.console import Console

from accel.cohort_files import declared_cohort_id
from flows.deployments import CohortDeployment, build_deployments, describe_schedules

REPO = Path(__file__).resolve().parents[2]
# Relative: the pull step makes $ACCEL_HOME the working directory.
COHORTS = [
    CohortDeployment("cda-2024", "cohorts/cda-2024.yaml"),
    CohortDeployment("cda-2025", "cohorts/cda-2025.yaml"),
]
PER_COHORT = [
    "check-deliverables",
    "notify-decision-points",
    "sync-cohort",
    "reschedule-session",
    "cancel-session",
]


def _project() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return document


def _deployments_as_prefect_reads_them() -> list[dict[str, Any]]:
    configs, _ = _load_deploy_configs_and_actions(REPO / "prefect.yaml", console=Console())
    return configs


def _schedule(entry: dict[str, Any]) -> IntervalSchedule | CronSchedule:
    if "interval" in entry:
        interval = entry["interval"]  # seconds in the file; ISO 8601 ("PT5M") once Prefect read it
        return IntervalSchedule(
            interval=dt.timedelta(seconds=interval) if isinstance(interval, int) else interval,
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
    in_yaml = {d["name"]: d for d in _deployments_as_prefect_reads_them()}
    assert len(in_yaml) == len(_project()["deployments"]), "a deployment name is used twice"
    served = build_deployments(COHORTS)
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


def test_one_dispatcher_and_each_cohort_its_own_five() -> None:
    names = [d["name"] for d in _deployments_as_prefect_reads_them()]
    assert names.count("dispatch-messages") == 1
    expected = ["dispatch-messages"]
    expected += [f"{name}-{c.cohort_id}" for c in COHORTS for name in PER_COHORT]
    assert names == expected


def test_each_cohort_file_declares_the_id_its_names_carry() -> None:
    """`sync-cohort-cda-2025` runs with a file whose `cohort:` is cda-2025, not a copy's."""
    for entry in _deployments_as_prefect_reads_them():
        if entry["name"] == "dispatch-messages":
            continue
        cohort_file = entry["parameters"]["cohort_file"]
        assert entry["name"].endswith("-" + str(declared_cohort_id(REPO / cohort_file)))


def test_the_same_cohort_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="named twice"):
        build_deployments([COHORTS[0], COHORTS[0]])


def test_accel_serve_describes_each_schedule() -> None:
    described = {d.name: describe_schedules(d) for d in build_deployments(COHORTS[1:])}
    assert described == {
        "dispatch-messages": "every 5 min",
        "check-deliverables-cda-2025": "cron 0 8 * * * (America/New_York)",
        "notify-decision-points-cda-2025": "cron 30 8 * * * (America/New_York)",
        "sync-cohort-cda-2025": "triggered: prefect deployment run 'sync_cohort/sync-cohort-cda-2025'",
        "reschedule-session-cda-2025": "triggered: prefect deployment run "
        "'reschedule_session/reschedule-session-cda-2025'",
        "cancel-session-cda-2025": "triggered: prefect deployment run "
        "'cancel_session/cancel-session-cda-2025'",
    }
