#!/usr/bin/env bash
# Many machines on one: a Prefect server and two process workers on PostgreSQL (127.0.0.1),
# a generated 200-city cohort synced and replayed through the workers, every message checked
# at an SMTP sink. Exit status 0 if every check passed. See bench/cluster.py for the steps.
#   bench/cluster.sh [--cities 200] [--runs-per-moment 2] [--minutes 15] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/cluster.py "$@"
