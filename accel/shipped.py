"""Files installed with the engine (migrations, programs, cohorts, scenarios) as real paths."""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

# An installed package is a folder (wheel or checkout): its files are used where they are. Only
# a package imported from a zip is extracted, once per file, and removed when the process ends.
_EXTRACTED = ExitStack()
atexit.register(_EXTRACTED.close)


@functools.cache
def shipped_path(package: str, name: str = "") -> Path:
    """The file `name` of the installed package `package`; without a name, its folder.

    Found through the import system, so it works from any working directory and for a
    checkout (editable install) and a wheel alike. A file that does not exist is still named.
    """
    resource = files(package)
    if name:
        resource = resource / name
    return _EXTRACTED.enter_context(as_file(resource))
