"""Flows take the cohort file's path: invalid files fail at once, never retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.check_deliverables import check_deliverables
from flows.sync_cohort import sync_cohort
from models.problems import InvalidInputError

BAD = "tests/data/bad/unknown-timezone.yaml"


def _task_runs(flow_run_id: object) -> dict[str, int]:
    """Each task run of the flow run, by task name, with how many times it ran."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.run_count for run in runs}


def test_invalid_files_fail_the_flow_without_retries(engine_env: Path) -> None:
    state = sync_cohort(cohort_file=BAD, return_state=True)
    assert state.is_failed()
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        state.result()
    # retries=2 stays for database hiccups, but the same files would fail the same way
    assert _task_runs(state.state_details.flow_run_id) == {"reconcile_task": 1}
    assert not (engine_env / "outbox").exists()


def test_daily_check_with_invalid_files_fails_once(engine_env: Path) -> None:
    state = check_deliverables(cohort_file=BAD, return_state=True)
    assert state.is_failed()
    assert _task_runs(state.state_details.flow_run_id) == {"check_deliverables_task": 1}
