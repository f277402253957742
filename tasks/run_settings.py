"""The settings of the current flow run: read from the environment once per run, here only.

A flow run's tasks share one `Settings`, read when the first of them asks. A new flow run reads
the environment again, so a worker (or a test) that changes it between runs is heard; outside
a flow run (a task function called directly) the settings are read on every call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from prefect.context import FlowRunContext

from accel.settings import Settings

# Flow runs remembered at once: a worker runs a few concurrently; older ones are done.
RUNS_REMEMBERED = 16

_by_run: OrderedDict[UUID, Settings] = OrderedDict()
_lock = threading.Lock()  # tasks of one run may ask from several threads at once


def run_settings() -> Settings:
    """The settings of the flow run this task belongs to."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return Settings()
    run = context.flow_run.id
    with _lock:
        settings = _by_run.get(run)
        if settings is None:
            settings = _by_run[run] = Settings()
            if len(_by_run) > RUNS_REMEMBERED:
                _by_run.popitem(last=False)
        return settings
