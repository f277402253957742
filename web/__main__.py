"""`python -m web`: the HTTP server of the feeds, pages and dashboard (what `accel web` runs).

Exit statuses as the `accel` command's: 2 a bad ACCEL_ setting or --now, or the real clock on a
database that holds a rehearsal (serve it with --now at its moment); 3 the database cannot be
opened; each is one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys

import uvicorn

from accel.database import DatabaseUnavailableError, open_engine
from accel.rehearsal import describe_refusal, parse_instant, rehearsal_mark, utc_text
from accel.settings import InvalidSettingsError, load_settings
from web.app import create_app, log_config, server_config

EXIT_INVALID_SETTINGS = 2
EXIT_REFUSED = 2  # as a bad setting: nothing started, one line says what to do
EXIT_DATABASE_UNAVAILABLE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="accel web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--now", help="serve at this fixed moment (a rehearsal's), ISO 8601")
    args = parser.parse_args(argv)
    try:
        moment = None if args.now is None else parse_instant(args.now)
    except ValueError as error:
        print(f"accel web: --now: {error}", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    try:
        settings = load_settings()
        engine = open_engine(settings.database_url.get_secret_value())
    except InvalidSettingsError as error:
        print(f"accel: {error}", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    except DatabaseUnavailableError as error:
        print(f"accel: {error}", file=sys.stderr)
        return EXIT_DATABASE_UNAVAILABLE
    clock = None
    if moment is None:
        with engine.connect() as connection:
            mark = rehearsal_mark(connection)
        if mark is not None:
            engine.dispose()
            print(describe_refusal(mark, who="accel web"), file=sys.stderr)
            return EXIT_REFUSED
    else:
        print(f"accel web: serving at the fixed moment {utc_text(moment)}", file=sys.stderr)
        clock = functools.partial(_fixed, moment)
    app = create_app(settings, engine=engine, clock=clock, access_log=args.access_log)
    config = server_config(app, host=args.host, port=args.port, log_config=log_config())
    uvicorn.Server(config).run()
    return 0


def _fixed(moment: dt.datetime) -> dt.datetime:
    return moment


if __name__ == "__main__":
    sys.exit(main())
