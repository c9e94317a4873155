"""Starts and stops the three processes of a Parcours installation: the Rasa engine, the action
server and the back office. Used by `make run` and by the integration tests, so both start the
stack the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from sqlalchemy.engine import make_url

from bot.core.config import ROOT, VAR, settings

logger = logging.getLogger(__name__)
RASA_VENV = Path(os.environ.get("PARCOURS_RASA_VENV", ROOT / ".venv-rasa"))
APP_PYTHON = Path(sys.executable)
MODELS = ROOT / "models"
MODEL = MODELS / "parcours.tar.gz"
FINGERPRINT = MODELS / "parcours.fingerprint"
TRAINING_INPUTS = ["config.yml", "domain.yml", "nlu", "stories"]


class StackError(RuntimeError):
    pass


# ---------------------------------------------------------------- training


def training_fingerprint() -> str:
    """A hash of everything the model is trained from, so unchanged inputs are never retrained."""
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix in {".yml", ".yaml", ".py"} and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    digest.update((RASA_VENV / "pyvenv.cfg").read_bytes() if (RASA_VENV / "pyvenv.cfg").exists() else b"")
    return digest.hexdigest()


def model_is_current() -> bool:
    return MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text().strip() == training_fingerprint()


def train(force: bool = False) -> float:
    """Trains the engine's model if its inputs changed; returns the seconds it took (0 if skipped)."""
    if not force and model_is_current():
        return 0.0
    started = time.monotonic()
    MODELS.mkdir(exist_ok=True)
    fingerprint = training_fingerprint()
    command = [
        str(RASA_VENV / "bin" / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml",
        "--data", "nlu", "stories", "--out", str(MODELS), "--fixed-model-name", "parcours", "--force",
    ]
    result = subprocess.run(command, cwd=ROOT, env=rasa_environment(), capture_output=True, text=True)
    if result.returncode != 0 or not MODEL.exists():
        raise StackError(f"training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    FINGERPRINT.write_text(fingerprint)
    return time.monotonic() - started


# ---------------------------------------------------------------- configuration


def rasa_environment() -> dict[str, str]:
    s = settings()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PARCOURS_GATEWAY_TOKEN": s.gateway_token,
        "PARCOURS_GATEWAY_CALLBACK": f"{s.backoffice_url}/internal/rasa/outbound",
        # Rasa's defaults (50 + 100 connections per instance) would exhaust a small PostgreSQL.
        "SQL_POOL_SIZE": os.environ.get("SQL_POOL_SIZE", "5"),
        "SQL_MAX_OVERFLOW": os.environ.get("SQL_MAX_OVERFLOW", "10"),
    }
    if s.is_postgres:
        env["POSTGRESQL_SCHEMA"] = "rasa"
        if password := make_url(s.database_url).password:
            env[TRACKER_PASSWORD] = password
    return env


TRACKER_STORE = "connectors.rasa.tracker_store.ParcoursTrackerStore"
TRACKER_PASSWORD = "PARCOURS_TRACKER_DB_PASSWORD"


def tracker_store_config() -> dict:
    """Rasa's tracker store follows the back office's database: its own file, or its own schema.

    connectors/rasa/tracker_store.py is Rasa's SQL store with a cheaper hot path (same tables)."""
    url = make_url(settings().database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or VAR / "parcours.db")
        return {"type": TRACKER_STORE, "dialect": "sqlite", "db": str(database.with_name("rasa-tracker.db"))}
    # Rasa passes the endpoint's `url` on as the database host.
    config = {"type": TRACKER_STORE, "dialect": "postgresql", "url": url.host or "127.0.0.1",
              "port": url.port or 5432, "db": url.database, "username": url.username or "postgres"}
    if url.password:
        # Rasa fills `${…}` from its environment as it reads endpoints.yml: the password stays out of the file.
        config["password"] = "${" + TRACKER_PASSWORD + "}"
    return config


def write_endpoints() -> Path:
    s = settings()
    endpoints: dict = {"action_endpoint": {"url": s.action_server_url}, "tracker_store": tracker_store_config()}
    if redis_url := os.environ.get("RASA_LOCK_STORE_URL"):
        # Several engine instances must share conversation locks.
        parsed = make_url(redis_url)
        endpoints["lock_store"] = {"type": "redis", "url": parsed.host, "port": parsed.port or 6379,
                                   "db": int(parsed.database or 0)}
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / "endpoints.yml"
    # Owner-only from its creation: it names the databases the engine reaches.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(yaml.safe_dump(endpoints, sort_keys=False))
    return path


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class RestartPolicy:
    """How a process that died is restarted: after `first` seconds, doubling up to `cap`; the
    back-off starts again from `first` once the process has run `settled` seconds and answers its
    health check. `crash_limit` exits within `crash_window` seconds are reported as a crash loop
    (it is still restarted: a back office that gives up serves no red flag)."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    settled: float = 120.0
    crash_limit: int = 5
    crash_window: float = 600.0

    def delay(self, consecutive: int) -> float:
        return min(self.cap, self.first * self.factor ** consecutive)


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    consecutive_crashes: int = 0  # since it last settled; sets the next back-off
    crash_times: list[float] = field(default_factory=list)
    restart_at: float | None = None  # when a dead process is due to be started again

    def start(self, now: float | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Its own process group: Ctrl-C in the terminal reaches the launcher, which stops children in order.
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self.started_at = time.monotonic() if now is None else now
        self.restart_at = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def healthy(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        self.restart_at = None
        if not self.alive():
            return
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:  # it exited between the check and the signal
            self.popen.wait()


def engine_command() -> list[str]:
    """`rasa run` through connectors/rasa/serve.py, which takes the API token from the environment:
    a command line is readable by every user of the machine (`ps`)."""
    s = settings()
    return [str(RASA_VENV / "bin" / "python"), "-m", "connectors.rasa.serve", "--enable-api",
            "--model", str(MODEL), "--credentials", "credentials.yml", "--endpoints", str(write_endpoints()),
            "--interface", "127.0.0.1", "--port", str(s.rasa_port)]


def processes() -> list[Process]:
    s = settings()
    logs = VAR / "logs"
    app_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [
        Process(
            "back office",
            [str(APP_PYTHON), "-m", "uvicorn", "bot.main:create_app", "--factory",
             "--host", s.backoffice_host, "--port", str(s.backoffice_port), "--no-access-log"],
            app_env, f"{s.backoffice_url}/health", logs / "backoffice.log"),
        Process(
            "action server",
            [str(APP_PYTHON), "-m", "actions.server", "--port", str(s.action_port)],
            app_env, s.action_server_url.rsplit("/webhook", 1)[0] + "/health", logs / "actions.log"),
        Process("engine", engine_command(), rasa_environment(), f"{s.rasa_url}/webhooks/gateway/", logs / "engine.log"),
    ]


def _exit_status(returncode: int | None) -> str:
    if returncode is None:
        return "could not be started"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Stack:
    """The processes, started in order; `supervise` then restarts whichever dies, alone, while
    the others keep serving (the back office answers red flags without the engine)."""

    def __init__(self, processes_: list[Process] | None = None, policy: RestartPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic, poll: float = 0.5) -> None:
        self.processes = processes() if processes_ is None else processes_
        self.policy = policy or RestartPolicy()
        self.clock = clock
        self.poll = poll
        # A plain flag, not a threading.Event: a signal handler sets it, and Event.set could
        # deadlock on the lock that the interrupted Event.wait holds.
        self.stopping = False
        # Held while restarting and while stopping, so no process is started once stop() has begun.
        self._lock = threading.Lock()

    def start(self, timeout: float = 240.0) -> float:
        """Starts every process and waits until each answers its health check; returns seconds taken."""
        started = time.monotonic()
        for process in self.processes:
            process.start(self.clock())
        waiting = list(self.processes)
        while waiting:
            for process in list(waiting):
                if not process.alive():
                    self.stop()
                    raise StackError(f"the {process.name} stopped while starting; see {process.log_path}")
                if process.healthy():
                    waiting.remove(process)
            if time.monotonic() - started > timeout:
                self.stop()
                names = ", ".join(p.name for p in waiting)
                raise StackError(f"not healthy after {timeout:.0f} s: {names}; see {VAR / 'logs'}")
            time.sleep(0.3)
        return time.monotonic() - started

    def dead(self) -> list[Process]:
        return [p for p in self.processes if not p.alive()]

    def supervise(self) -> None:
        """Restarts dead processes until `request_stop` or `stop` is called (from a signal handler or
        another thread); the caller then calls `stop`."""
        while not self.stopping:
            self.supervise_once()
            time.sleep(self.poll)

    def request_stop(self) -> None:
        """Safe in a signal handler: only a flag, `supervise` returns within one poll."""
        self.stopping = True

    def supervise_once(self) -> None:
        with self._lock:
            for process in self.processes:
                if self.stopping:
                    return
                self._supervise(process, self.clock())

    def _supervise(self, process: Process, now: float) -> None:
        if process.alive():
            self._settle(process, now)
        elif process.restart_at is None:
            self._schedule_restart(process, now)
        elif now >= process.restart_at:
            try:
                process.start(now)
            except OSError as error:  # e.g. its environment was removed: retried with the back-off
                process.popen = None
                logger.error("could not restart the %s: %s", process.name, error.__class__.__name__)
                self._schedule_restart(process, now)
                return
            logger.info("restarted the %s (pid %s)", process.name, process.popen.pid if process.popen else "?")

    def _settle(self, process: Process, now: float) -> None:
        if process.consecutive_crashes and now - process.started_at >= self.policy.settled:
            if process.healthy():
                process.consecutive_crashes = 0
            else:  # not settled yet: look again a settling period later, not at every poll
                process.started_at = now

    def _schedule_restart(self, process: Process, now: float) -> None:
        returncode = process.popen.returncode if process.popen else None
        delay = self.policy.delay(process.consecutive_crashes)
        process.consecutive_crashes += 1
        process.crash_times = [t for t in process.crash_times if now - t < self.policy.crash_window] + [now]
        process.restart_at = now + delay
        # Name and exit status only: the process's own log (var/logs) says why, without patient text.
        logger.warning("the %s stopped (%s); restarting it in %.1f s", process.name, _exit_status(returncode),
                       delay, extra={"child": process.name, "returncode": returncode, "delay": delay})
        if len(process.crash_times) >= self.policy.crash_limit:
            logger.error("the %s is crash-looping: %d exits in the last %.0f min; still restarting it every %.0f s "
                         "at most; see %s", process.name, len(process.crash_times), self.policy.crash_window / 60,
                         self.policy.cap, process.log_path,
                         extra={"child": process.name, "crashes": len(process.crash_times)})

    def stop(self) -> None:
        """Stops every process. Not from a signal handler (the lock may be held): `request_stop` there."""
        self.stopping = True
        with self._lock:
            # The back office first, so no patient message reaches an engine that is going away.
            for process in self.processes:
                process.stop()
