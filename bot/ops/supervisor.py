"""Starts and stops the three processes of a Parcours installation: the Rasa engine, the action
server and the back office. Used by `make run` and by the integration tests, so both start the
stack the same way.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from sqlalchemy.engine import make_url

from bot.core.config import ROOT, VAR, settings

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
    return env


TRACKER_STORE = "connectors.rasa.tracker_store.ParcoursTrackerStore"


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
        config["password"] = url.password
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
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


# ---------------------------------------------------------------- processes


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    log_path: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # Its own process group: Ctrl-C in the terminal reaches the launcher, which stops children in order.
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def healthy(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


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
        Process(
            "engine",
            [str(RASA_VENV / "bin" / "rasa"), "run", "--enable-api", "--auth-token", s.gateway_token,
             "--model", str(MODEL), "--credentials", "credentials.yml", "--endpoints", str(write_endpoints()),
             "--interface", "127.0.0.1", "--port", str(s.rasa_port)],
            rasa_environment(), f"{s.rasa_url}/webhooks/gateway/", logs / "engine.log"),
    ]


class Stack:
    def __init__(self) -> None:
        self.processes = processes()

    def start(self, timeout: float = 240.0) -> float:
        """Starts every process and waits until each answers its health check; returns seconds taken."""
        started = time.monotonic()
        for process in self.processes:
            process.start()
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

    def stop(self) -> None:
        # The back office first, so no patient message reaches an engine that is going away.
        for process in self.processes:
            process.stop()
