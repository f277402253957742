"""What every operator page does: pick the cohort asked for, answer when there is none, render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from accel.people_queries import cohort_ids
from web.auth import OperatorSession
from web.page_context import Dashboard
from web.pages import not_found


@dataclass(frozen=True)
class OperatorPages:
    dashboard: Dashboard

    def pick_cohort(
        self, connection: sa.Connection, cohort: str | None
    ) -> tuple[str | None, list[str]]:
        """(the cohort asked for, or else the latest applied; None if unknown), every cohort."""
        cohorts = cohort_ids(connection)
        if cohort is None:
            return (cohorts[0] if cohorts else None), cohorts
        return (cohort if cohort in cohorts else None), cohorts

    def no_cohort(self, cohort: str | None) -> Response:
        """A 404 for an unknown cohort; a page that says to apply one when there is none."""
        if cohort is not None:
            return not_found()
        return self.dashboard.message(
            404, "No cohort yet", "No cohort was applied to this database: run `accel apply`."
        )

    def render(
        self,
        template: str,
        session: OperatorSession,
        cohort: str,
        cohorts: Sequence[str],
        **context: Any,
    ) -> Response:
        """An operator page: the operator, the cohort switcher and `now` come with every one."""
        return self.dashboard.pages.render(
            template,
            csrf_token=session.csrf_token,
            operator=session.username,
            cohort=cohort,
            cohorts=cohorts,
            now=self.dashboard.clock(),
            **context,
        )
