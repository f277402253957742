"""`python -m web`: the HTTP server of the feeds, pages and dashboard (what `accel web` runs).

Exit statuses as the `accel` command's: 2 a bad ACCEL_ setting, 3 the database cannot be
opened; each is one line on stderr.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from accel.database import DatabaseUnavailableError, open_engine
from accel.settings import InvalidSettingsError, load_settings
from web.app import create_app, log_config, server_config

EXIT_INVALID_SETTINGS = 2
EXIT_DATABASE_UNAVAILABLE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="accel web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        engine = open_engine(settings.database_url.get_secret_value())
    except InvalidSettingsError as error:
        print(f"accel: {error}", file=sys.stderr)
        return EXIT_INVALID_SETTINGS
    except DatabaseUnavailableError as error:
        print(f"accel: {error}", file=sys.stderr)
        return EXIT_DATABASE_UNAVAILABLE
    app = create_app(settings, engine=engine, access_log=args.access_log)
    config = server_config(app, host=args.host, port=args.port, log_config=log_config())
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
