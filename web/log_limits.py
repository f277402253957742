"""At most a few identical warnings or errors a minute: a flood of one failure is one line per minute."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_PER_WINDOW = 10
WINDOW_SECONDS = 60.0
MAX_KEYS = 1024  # distinct messages remembered; the least recent is forgotten first
# Where repeated failures come from under load: asyncio's accept loop ("Too many open files"),
# uvicorn's protocol errors ("Invalid HTTP request received."), and our own.
LIMITED_LOGGERS = ("asyncio", "uvicorn.error", "accel.web")


@dataclass
class _Window:
    started: float
    passed: int = 0
    suppressed: int = 0


class RepeatedRecordLimit(logging.Filter):
    """Lets through at most `max_per_window` records of the same logger, level and message
    (warnings and above) per `window` seconds. The first record of the next window is preceded
    by one line saying how many similar ones were suppressed. Info and debug pass untouched."""

    def __init__(
        self,
        *,
        max_per_window: int = MAX_PER_WINDOW,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.max_per_window = max_per_window
        self.window = window
        self.clock = clock
        self._windows: OrderedDict[tuple[str, int, str], _Window] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, "suppressed_count", None):
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            suppressed = 0
            if window is None or now - window.started >= self.window:
                suppressed = window.suppressed if window is not None else 0
                window = _Window(started=now)
            self._windows[key] = window
            self._windows.move_to_end(key)
            while len(self._windows) > MAX_KEYS:
                self._windows.popitem(last=False)
            allowed = window.passed < self.max_per_window
            if allowed:
                window.passed += 1
            else:
                window.suppressed += 1
            last_allowed = window.passed == self.max_per_window and allowed
        if suppressed:
            _say_suppressed(record, suppressed, self.window)
        if last_allowed:  # say so, or a reader would take the silence for the end of it
            record.msg = f"{record.getMessage()} (more like this are suppressed for a while)"
            record.args = None
        return allowed


def _say_suppressed(record: logging.LogRecord, count: int, window: float) -> None:
    """One line, through the same logger, before the record that opens the next window."""
    message = record.getMessage().splitlines()[0][:200] if record.getMessage() else ""
    logging.getLogger(record.name).log(
        record.levelno,
        "suppressed %d similar messages in the last %.0f s: %s",
        count,
        window,
        message,
        extra={"suppressed_count": count},
    )


def limit_repeated_logs(names: tuple[str, ...] = LIMITED_LOGGERS) -> None:
    """Install the limit once on each logger (records logged by the logger itself)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatedRecordLimit) for f in logger.filters):
            logger.addFilter(RepeatedRecordLimit())
