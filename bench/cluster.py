"""Many machines on one: a Prefect server and two workers on PostgreSQL, replaying a cohort.

Run: bench/cluster.sh [--cities 200] [--runs-per-moment 2] [--minutes 15] [--keep]

What a multi-machine deployment does, each part its own process on 127.0.0.1:

1. two fresh PostgreSQL databases on the server at 127.0.0.1:5432 (`--admin-url`): one for
   the Prefect server, one for the application;
2. an SMTP sink (`bench/cluster.py sink`), which appends every accepted Message-ID to a file;
3. `prefect server start` on PostgreSQL (PREFECT_API_DATABASE_CONNECTION_URL, asyncpg);
4. `prefect work-pool create accel --type process`, then the engine's flows deployed to it
   (`to_deployment` + `prefect.deploy`, by module path: every worker machine has the package
   installed, nothing is shipped with the deployment), without schedules: this run drives the
   clock;
5. `accel db upgrade` against the application database (the deployment step before workers);
6. two `prefect worker start --pool accel` processes, each with the application's settings
   (ACCEL_DATABASE_URL, ACCEL_SMTP_*), as two machines would have them;
7. a generated cohort of `--cities` cities, applied by a run of the `sync-cohort` deployment;
8. the replay: the program's due moments (below), and at each one `--runs-per-moment` runs of
   the `dispatch-messages` deployment with that `now`, started together so that both workers
   take part (rows are claimed with SKIP LOCKED, so concurrent runs share the work);
9. the checks: every outbox row sent, one Message-ID at the sink per sent row and none twice,
   every flow run completed, and both workers ran some.

Due moments: a reminder must go out before its session starts (after that the dispatcher
cancels it), so the replay picks the fewest `now` values that give every reminder one moment
between its `send_at` and its session's start (less a margin for the pass itself): sorted by
session start, a new moment is needed only when the previous one comes before the reminder is
due. Invitations and everything else are covered by a last moment at the latest `send_at`.

Prints a summary and exits 0 if every check passed, 1 otherwise. Bounded by `--minutes`; the
processes and both databases are removed at the end, also on failure or Ctrl-C (`--keep`
leaves the databases).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from models.outbox import OUTBOX
from models.tables import SESSION

REPO = Path(__file__).resolve().parent.parent
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)  # before the program: every message is ahead
POOL = "accel"
WORKERS = ("worker-a", "worker-b")
MARGIN = dt.timedelta(hours=1)  # a dispatch moment comes at least this long before a session
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


# --- the SMTP sink (its own process) ------------------------------------------------------


def run_sink(port: int, log: Path, delay: float) -> None:
    """Accept every message, append its Message-ID to `log` (one line each), until SIGTERM.

    Prints "ready" once listening. A message is recorded as soon as its data has arrived, as
    a mail server takes responsibility for it, and answered `delay` seconds later (a slow
    server): a client that dies or loses its database while waiting for the answer leaves a
    message the server has and the outbox never recorded as sent. That is the window the
    dispatcher's at-least-once guarantee is about, and the fault tests measure it.
    """
    from aiosmtpd.controller import Controller

    with log.open("ab", buffering=0) as handle:

        class Recording:
            async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
                self, server: Any, session: Any, envelope: Any
            ) -> str:
                found = _MESSAGE_ID.search(envelope.content)
                handle.write((found.group(1) if found else b"-") + b"\n")
                if delay:
                    await asyncio.sleep(delay)
                return "250 2.0.0 queued"

        # SIGTERM and SIGINT are awaited, not handled: blocked before aiosmtpd's thread starts
        # (it inherits the mask), so only `sigwait` below receives them.
        stops = {signal.SIGTERM, signal.SIGINT}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        controller = Controller(
            Recording(), hostname="127.0.0.1", port=port, server_hostname="localhost"
        )
        controller.start()
        try:
            print("ready", flush=True)
            signal.sigwait(stops)
        finally:
            controller.stop()


def sink_ids(log: Path) -> list[str]:
    """The Message-IDs the sink accepted, in the order it accepted them."""
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines() if line]


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to its process group (it and its children), then SIGKILL if it lingers."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)


def start_process(
    name: str, command: Sequence[str], *, env: dict[str, str], logs: Path, cwd: Path = REPO
) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
    return Process(name, popen, log)


def wait_for(
    what: str, condition: Callable[[], bool], *, deadline: float, interval: float = 0.25
) -> None:
    """Bounded polling of a process or server: `condition` until true or the deadline."""
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


# --- the run ------------------------------------------------------------------------------


@dataclass
class Summary:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        return ok

    @contextlib.contextmanager
    def timed(self, label: str) -> Iterator[None]:
        started = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {label} ...", flush=True)
        yield
        self.timings.append((label, time.perf_counter() - started))

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)


def only_localhost(url: str) -> None:
    host = urlsplit(url.replace("+psycopg", "").replace("+asyncpg", "")).hostname
    if host != "127.0.0.1":
        raise SystemExit(f"refusing a database that is not on 127.0.0.1: {host}")


def with_database(url: str, name: str, driver: str = "psycopg") -> str:
    parts = urlsplit(url)
    return f"postgresql+{driver}://{parts.netloc}/{name}"


def due_moments(engine: Any, *, margin: dt.timedelta = MARGIN) -> list[dt.datetime]:
    """The fewest `now` values that send every pending row, each reminder before its session."""
    import sqlalchemy as sa

    from models.outbox import MessageKind, MessageStatus

    pending = OUTBOX.c.status == MessageStatus.PENDING.value
    with engine.connect() as connection:
        windows = connection.execute(
            sa.select(OUTBOX.c.send_at, SESSION.c.starts_at)
            .join(SESSION, SESSION.c.key == OUTBOX.c.subject_key)
            .where(pending, OUTBOX.c.kind == MessageKind.SESSION_REMINDER.value)
            .order_by(SESSION.c.starts_at, OUTBOX.c.send_at)
        ).all()
        last = connection.execute(sa.select(sa.func.max(OUTBOX.c.send_at)).where(pending)).scalar()
    moments: list[dt.datetime] = []
    for send_at, starts_at in windows:
        latest = max(send_at, starts_at - margin)
        if moments and send_at <= moments[-1] <= latest:
            continue  # the previous moment sends it in time
        moments.append(latest)
    if last is not None:
        moments.append(last)
    # A reminder due less than `margin` before its session gets its own `send_at`, which may
    # come before an earlier pick: each row still goes out at the first moment after it is due.
    return sorted(set(moments))


class Cluster:
    """Every process and database of the run; `close()` removes them all."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.summary = Summary()
        self.deadline = time.monotonic() + args.minutes * 60
        self.tag = f"accel_cluster_{secrets.token_hex(4)}"
        self.prefect_db = f"{self.tag}_prefect"
        self.app_db = f"{self.tag}_app"
        self.work = Path(tempfile.mkdtemp(prefix="accel-cluster-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.sink_log = self.work / "sink-message-ids.txt"
        self.processes: list[Process] = []
        self.databases: list[str] = []
        self.app_url = with_database(args.admin_url, self.app_db)
        self.base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ACCEL_", "PREFECT_"))
        }

    # -- set-up

    def create_databases(self) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.args.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in (self.prefect_db, self.app_db):
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                self.databases.append(name)
        admin.dispose()

    def start_sink(self) -> Process:
        port = free_port()
        sink = start_process(
            "smtp-sink",
            [
                sys.executable,
                str(Path(__file__)),
                "sink",
                "--port",
                str(port),
                "--log",
                str(self.sink_log),
            ],
            env=self.base_env,
            logs=self.logs,
        )
        self.processes.append(sink)
        wait_for("the SMTP sink", lambda: "ready" in sink.tail(), deadline=self.deadline)
        self.smtp_port = port
        return sink

    def prefect_env(self) -> dict[str, str]:
        return self.base_env | {
            "PREFECT_HOME": str(self.work / "prefect-home"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }

    def start_prefect_server(self) -> None:
        import httpx

        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}/api"
        env = self.prefect_env() | {
            "PREFECT_API_DATABASE_CONNECTION_URL": with_database(
                self.args.admin_url, self.prefect_db, driver="asyncpg"
            ),
        }
        server = start_process(
            "prefect-server",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            logs=self.logs,
        )
        self.processes.append(server)

        def healthy() -> bool:
            if not server.alive():
                raise RuntimeError(f"prefect server exited:\n{server.tail()}")
            try:
                return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the Prefect server", healthy, deadline=self.deadline, interval=0.5)

    def prefect_cli(self, *arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "prefect", *arguments],
            cwd=REPO,
            env=self.prefect_env(),
            capture_output=True,
            text=True,
            timeout=max(10.0, self.deadline - time.monotonic()),
        )
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(arguments)}: {done.stdout}{done.stderr}")
        return done.stdout

    def deploy(self) -> list[str]:
        """The engine's flows on the work pool, by module path, without schedules."""
        from prefect import deploy
        from prefect.types.entrypoint import EntrypointType

        from flows.change_sessions import cancel_session, reschedule_session
        from flows.check_deliverables import check_deliverables
        from flows.dispatch_messages import dispatch_messages
        from flows.notify_decision_points import notify_decision_points
        from flows.sync_cohort import sync_cohort

        named: list[tuple[Any, str]] = [
            (dispatch_messages, "dispatch-messages"),
            (check_deliverables, "check-deliverables"),
            (notify_decision_points, "notify-decision-points"),
            (sync_cohort, "sync-cohort"),
            (reschedule_session, "reschedule-session"),
            (cancel_session, "cancel-session"),
        ]
        deployments = [
            flow.to_deployment(name=name, entrypoint_type=EntrypointType.MODULE_PATH)
            for flow, name in named
        ]
        deploy(
            *deployments,
            work_pool_name=POOL,
            build=False,
            push=False,
            print_next_steps_message=False,
            ignore_warnings=True,
        )
        return [f"{flow.name}/{name}" for flow, name in named]

    def app_env(self) -> dict[str, str]:
        """What each worker machine is configured with: the application's settings."""
        return self.prefect_env() | {
            "ACCEL_DATABASE_URL": self.app_url,
            "ACCEL_SMTP_HOST": "127.0.0.1",
            "ACCEL_SMTP_PORT": str(self.smtp_port),
            "ACCEL_SEND_RATE_PER_SECOND": "0",  # a local sink: no provider's rate to respect
            "ACCEL_SEND_CONCURRENCY": "4",
            "ACCEL_OUTBOX_DIR": str(self.work / "outbox-unused"),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
        }

    def upgrade_app_database(self) -> str:
        done = subprocess.run(
            [sys.executable, "-c", "from cli.main import app; app()", "db", "upgrade"],
            cwd=REPO,
            env=self.app_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"accel db upgrade: {done.stdout}{done.stderr}")
        return done.stdout.strip()

    def start_workers(self) -> None:
        for name in WORKERS:
            worker = start_process(
                name,
                [
                    sys.executable,
                    "-m",
                    "prefect",
                    "worker",
                    "start",
                    "--pool",
                    POOL,
                    "--type",
                    "process",
                    "--name",
                    name,
                    "--limit",
                    str(self.args.worker_limit),
                ],
                env=self.app_env(),
                logs=self.logs,
                cwd=self.work,
            )
            self.processes.append(worker)
        wait_for(
            "both workers online",
            lambda: self.online_workers() >= set(WORKERS),
            deadline=self.deadline,
            interval=0.5,
        )

    def online_workers(self) -> set[str]:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import WorkerFilter, WorkerFilterStatus

        for process in self.processes:
            if process.name in WORKERS and not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        with get_client(sync_client=True) as client:
            workers = client.read_workers_for_work_pool(
                POOL, worker_filter=WorkerFilter(status=WorkerFilterStatus(any_=["ONLINE"]))
            )
        return {w.name for w in workers}

    def write_cohort(self) -> Path:
        from bench.generated_cohort import generated_cohort

        (self.work / "programs").mkdir()
        (self.work / "cohorts").mkdir()
        shutil.copy(REPO / "programs" / "cda-accelerator.yaml", self.work / "programs")
        path = self.work / "cohorts" / f"cluster-{self.args.cities}.yaml"
        path.write_text(generated_cohort(self.args.cities, f"cluster-{self.args.cities}"))
        return path

    # -- flow runs

    def start_runs(self, deployment: str, parameters: dict[str, Any], count: int) -> list[Any]:
        from prefect.deployments import run_deployment

        return [
            run_deployment(deployment, parameters=parameters, timeout=0, as_subflow=False)
            for _ in range(count)
        ]

    def wait_runs(self, runs: Sequence[Any]) -> list[Any]:
        from prefect.client.orchestration import get_client

        finished: dict[Any, Any] = {}
        with get_client(sync_client=True) as client:

            def done() -> bool:
                for run in runs:
                    if run.id not in finished:
                        current = client.read_flow_run(run.id)
                        if current.state is not None and current.state.is_final():
                            finished[run.id] = current
                return len(finished) == len(runs)

            wait_for("flow runs to finish", done, deadline=self.deadline, interval=0.3)
        return [finished[run.id] for run in runs]

    def runs_by_worker(self) -> dict[str, set[str]]:
        """Which flow runs each worker ran, from its log.

        A worker streams the output of the flow runs it started, and each run prints its own
        URL (".../flow-run/<id>"). "submitting flow run" lines would overcount: two workers may
        both try to submit a run, and the server lets only one of them have it.
        """
        pattern = re.compile(r"/flow-run/([0-9a-f-]{36})")
        return {
            process.name: set(pattern.findall(process.log.read_text(errors="replace")))
            for process in self.processes
            if process.name in WORKERS
        }

    # -- tear-down

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.args.keep:
            print(f"kept: databases {', '.join(self.databases)}; files in {self.work}")
            return
        if self.databases:
            import sqlalchemy as sa

            admin = sa.create_engine(self.args.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in self.databases:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(self.work, ignore_errors=True)


def replay(cluster: Cluster) -> None:
    args, summary = cluster.args, cluster.summary
    import sqlalchemy as sa

    from accel.database import make_engine

    with summary.timed(f"databases {cluster.prefect_db}, {cluster.app_db}"):
        cluster.create_databases()
    with summary.timed("SMTP sink"):
        cluster.start_sink()
    with summary.timed("Prefect server on PostgreSQL"):
        cluster.start_prefect_server()
    # This process is a Prefect client of that server from here on.
    os.environ.update({k: v for k, v in cluster.prefect_env().items() if k.startswith("PREFECT_")})
    with summary.timed(f"work pool '{POOL}' and deployments"):
        cluster.prefect_cli("work-pool", "create", POOL, "--type", "process")
        deployed = cluster.deploy()
    print(f"  deployed: {', '.join(deployed)}")
    with summary.timed("accel db upgrade"):
        print(f"  {cluster.upgrade_app_database()}")
    with summary.timed("two workers"):
        cluster.start_workers()
    cohort = cluster.write_cohort()

    runs: list[Any] = []
    with summary.timed(f"sync-cohort run: {args.cities} cities"):
        (sync,) = cluster.wait_runs(
            cluster.start_runs(
                "sync_cohort/sync-cohort", {"cohort_file": str(cohort), "now": START}, 1
            )
        )
        runs.append(sync)
    summary.check("sync-cohort completed", sync.state.is_completed(), str(sync.state.name))

    engine = make_engine(cluster.app_url)
    with engine.connect() as connection:
        queued = connection.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar_one()
    moments = due_moments(engine)
    print(
        f"  {queued} messages queued; replay at {len(moments)} moments, {moments[0]:%Y-%m-%d} to {moments[-1]:%Y-%m-%d}"
    )
    with summary.timed(f"replay: {len(moments)} moments x {args.runs_per_moment} dispatch runs"):
        for number, moment in enumerate(moments, 1):
            batch = cluster.start_runs(
                "dispatch_messages/dispatch-messages", {"now": moment}, args.runs_per_moment
            )
            runs.extend(cluster.wait_runs(batch))
            if number % 10 == 0 or number == len(moments):
                with engine.connect() as connection:
                    sent = connection.execute(
                        sa.select(sa.func.count())
                        .select_from(OUTBOX)
                        .where(OUTBOX.c.status == "sent")
                    ).scalar_one()
                print(
                    f"  {number}/{len(moments)} moments, now={moment:%Y-%m-%d %H:%M}, {sent} sent",
                    flush=True,
                )

    with engine.connect() as connection:
        statuses: dict[str, int] = {
            status: count
            for status, count in connection.execute(
                sa.select(OUTBOX.c.status, sa.func.count()).group_by(OUTBOX.c.status)
            )
        }
        sent_ids = [
            r[0]
            for r in connection.execute(
                sa.select(OUTBOX.c.message_id).where(OUTBOX.c.status == "sent")
            )
        ]
        reclaimed_or_retried = connection.execute(
            sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.attempts > 1)
        ).scalar_one()
    engine.dispose()
    at_sink = Counter(sink_ids(cluster.sink_log))
    duplicates = {m: n for m, n in at_sink.items() if n > 1}
    by_worker = cluster.runs_by_worker()
    states = Counter(str(r.state.name) for r in runs)

    summary.check("every flow run completed", set(states) == {"Completed"}, dict(states).__repr__())
    summary.check(
        "every outbox row sent",
        statuses == {"sent": queued},
        f"{queued} queued, by status {statuses}",
    )
    summary.check(
        "Message-IDs at the sink = rows sent",
        len(at_sink) == len(sent_ids) and set(at_sink) == set(sent_ids),
        f"{len(at_sink)} distinct at the sink, {len(sent_ids)} rows sent",
    )
    summary.check(
        "no duplicates at the sink",
        not duplicates,
        f"{sum(at_sink.values())} messages received, {len(duplicates)} Message-IDs more than once",
    )
    summary.check(
        "both workers ran flows",
        all(by_worker.get(name) for name in WORKERS),
        ", ".join(f"{name}: {len(by_worker.get(name, ()))} runs" for name in WORKERS),
    )
    ran = [run_id for name in WORKERS for run_id in by_worker.get(name, ())]
    summary.check(
        "each flow run ran on exactly one worker",
        sorted(ran) == sorted(str(r.id) for r in runs),
        f"{len(ran)} runs in the workers' logs, {len(runs)} started",
    )
    print(f"  rows sent after more than one attempt: {reclaimed_or_retried}")


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    only_localhost(args.admin_url)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on `kill` as on Ctrl-C
    started = time.perf_counter()
    cluster = Cluster(args)
    error: BaseException | None = None
    try:
        replay(cluster)
    except (Exception, KeyboardInterrupt) as caught:
        error = caught
        cluster.summary.check("the run finished", False, f"{type(caught).__name__}: {caught}")
        for process in cluster.processes:
            if process.name in WORKERS or not process.alive():
                print(f"--- {process.name} (last lines)\n{process.tail()}", file=sys.stderr)
    finally:
        with cluster.summary.timed("clean-up: processes and databases"):
            cluster.close()
    summary = cluster.summary
    print("\n=== cluster run summary ===")
    print(
        f"cohort: {args.cities} generated cities; app and Prefect databases on PostgreSQL 127.0.0.1"
    )
    for label, seconds in summary.timings:
        print(f"  {seconds:8.1f} s  {label}")
    for name, ok, detail in summary.checks:
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
    print(
        f"total {time.perf_counter() - started:.0f} s: {'PASSED' if summary.passed else 'FAILED'}"
    )
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 0 if summary.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command")
    sink = commands.add_parser("sink", help="run the SMTP sink (used by the run, and by tests)")
    sink.add_argument("--port", type=int, required=True)
    sink.add_argument("--log", type=Path, required=True)
    sink.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--cities", type=int, default=200)
    parser.add_argument("--runs-per-moment", type=int, default=2)
    parser.add_argument("--worker-limit", type=int, default=1, help="flow runs at once per worker")
    parser.add_argument("--minutes", type=float, default=15.0, help="give up after this long")
    parser.add_argument(
        "--admin-url", default=os.environ.get("CLUSTER_ADMIN_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--keep", action="store_true", help="leave the databases and files")
    args = parser.parse_args(argv)
    if args.command == "sink":
        run_sink(args.port, args.log, args.delay)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
