"""Flows that refuse to act end as failed runs with one line, not an exception's traceback."""

from __future__ import annotations

from typing import Any, cast

from prefect import get_run_logger
from prefect.states import Failed


def refused_run(reason: str) -> dict[str, Any]:
    """End the flow run as Failed with `reason` (one line), logged once, without a traceback.

    For refusals that changed nothing on purpose (the real clock on a rehearsal, a dispatch
    held by the stale brake), where a raised exception would log a traceback as if a bug.
    Prefect takes a State returned by a flow as the run's final state: callers never receive
    it (a direct call raises FailedRun with `reason`), hence the declared return type.
    """
    get_run_logger().error("%s", reason)
    return cast(dict[str, Any], Failed(message=reason))
