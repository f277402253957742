"""The examples in the dashboard modules' docstrings are true."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from web import auth, deliverables_table, login_throttle, page_text, timeline_svg


@pytest.mark.parametrize(
    "module", [auth, deliverables_table, login_throttle, page_text, timeline_svg]
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
