"""The process supervisor behind `make run`, driven with small stand-in processes (a few lines of
Python serving a health check, or exiting at once) instead of the real stack; and the real stack's
command lines, built without starting them, checked for secrets.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.config import reset_settings, settings
from bot.ops import supervisor
from bot.ops.supervisor import Process, RestartPolicy, Stack
from connectors.rasa import serve

FAST = RestartPolicy(first=0.1, factor=2.0, cap=0.4, settled=5.0, crash_limit=3, crash_window=60.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server(name: str, tmp_path: Path) -> Process:
    """A process answering 200 on its health URL, as each of the stack's processes does."""
    port = _free_port()
    folder = tmp_path / name
    folder.mkdir()
    return Process(name, [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                          "--directory", str(folder)],
                   dict(os.environ), f"http://127.0.0.1:{port}/", tmp_path / f"{name}.log")


def crasher(tmp_path: Path) -> Process:
    return Process("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ),
                   "http://127.0.0.1:9/", tmp_path / "crasher.log")


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def three(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack([server(name, tmp_path) for name in ("back office", "action server", "engine")],
                  policy=FAST, poll=0.05)
    stack.start(timeout=30)
    yield stack
    stack.stop()


def supervising(stack: Stack) -> threading.Thread:
    thread = threading.Thread(target=stack.supervise, daemon=True)
    thread.start()
    return thread


def test_a_killed_process_is_restarted_and_the_others_keep_serving(three: Stack, caplog):
    caplog.set_level(logging.INFO, logger="bot.ops.supervisor")
    thread = supervising(three)
    backoffice, actions, engine = three.processes
    assert backoffice.popen and actions.popen and engine.popen
    others = {backoffice.name: backoffice.popen.pid, actions.name: actions.popen.pid}
    killed = engine.popen.pid

    os.kill(killed, signal.SIGKILL)

    assert wait_for(lambda: engine.popen is not None and engine.popen.pid != killed and engine.healthy())
    assert {p.name: p.popen.pid for p in (backoffice, actions) if p.popen} == others
    assert backoffice.healthy() and actions.healthy()
    assert not three.stopping and thread.is_alive()
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "the engine stopped (signal SIGKILL)" in warning.getMessage()
    three.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_back_off_grows_between_repeated_crashes_up_to_its_cap(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="bot.ops.supervisor")
    clock = FakeClock()
    process = crasher(tmp_path)
    stack = Stack([process], policy=FAST, clock=clock)
    process.start(clock())
    delays = []
    for _ in range(5):
        assert process.popen is not None
        process.popen.wait(10)
        stack.supervise_once()  # notices the exit, schedules the restart
        assert process.restart_at is not None
        delays.append(round(process.restart_at - clock.now, 3))
        clock.now += delays[-1] / 2
        stack.supervise_once()  # too early: still waiting
        assert not process.alive() and process.popen.returncode == 3
        clock.now = process.restart_at
        stack.supervise_once()  # restarted
        assert process.restart_at is None
    stack.stop()

    assert delays == [0.1, 0.2, 0.4, 0.4, 0.4]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5 and all("the crasher stopped (exit code 3)" in w for w in warnings)
    loud = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(loud) == 3 and "crash-looping: 3 exits" in loud[0]  # the 3rd, 4th and 5th exits


def test_back_off_starts_again_once_a_process_has_settled(tmp_path: Path):
    clock = FakeClock()
    process = server("engine", tmp_path)
    stack = Stack([process], policy=FAST, clock=clock)
    try:
        for expected in (0.1, 0.2):
            process.start(clock())
            assert wait_for(process.healthy)
            process.popen.kill()  # type: ignore[union-attr]
            process.popen.wait(10)  # type: ignore[union-attr]
            stack.supervise_once()
            assert process.restart_at is not None and round(process.restart_at - clock.now, 3) == expected
            process.restart_at = None  # restarted by hand below, at the same clock time
        process.start(clock())
        assert wait_for(process.healthy)
        clock.now += FAST.settled
        stack.supervise_once()
        assert process.consecutive_crashes == 0
        process.popen.kill()  # type: ignore[union-attr]
        process.popen.wait(10)  # type: ignore[union-attr]
        stack.supervise_once()
        assert process.restart_at is not None and round(process.restart_at - clock.now, 3) == FAST.first
    finally:
        stack.stop()


def test_stop_ends_every_child_and_restarts_nothing_after(three: Stack):
    thread = supervising(three)
    children = [p.popen for p in three.processes if p.popen]
    assert len(children) == 3
    children[2].kill()  # dies just before the stop: its restart must not outlive the stack
    children[2].wait(10)

    three.request_stop()  # what SIGINT / SIGTERM do
    thread.join(5)
    three.stop()
    time.sleep(2 * FAST.cap)
    three.supervise_once()

    assert not thread.is_alive()
    assert all(child.poll() is not None for child in children)
    assert [p.popen for p in three.processes] == children and three.dead() == three.processes


@pytest.fixture
def postgres_settings(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", "postgresql://parcours:db-password-1234@db.example:5432/parcours")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def secrets_of_the_installation() -> list[str]:
    s = settings()
    hidden = [getattr(s, f.name) for f in dataclasses.fields(s) if not f.repr]
    return [*hidden, "db-password-1234"]


def test_no_command_line_of_the_stack_holds_a_secret(postgres_settings):
    secrets = secrets_of_the_installation()
    assert len(secrets) >= 3 and all(secrets)

    processes = supervisor.processes()

    for process in processes:
        command = " ".join(process.command)
        assert not [secret for secret in secrets if secret in command], process.name
        assert "--auth-token" not in process.command
    engine = next(p for p in processes if p.name == "engine")
    assert engine.env[serve.TOKEN_VARIABLE] == settings().gateway_token
    endpoints = Path(engine.command[engine.command.index("--endpoints") + 1])
    assert "db-password-1234" not in endpoints.read_text()
    assert engine.env[supervisor.TRACKER_PASSWORD] == "db-password-1234"
    assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600


def test_the_engine_wrapper_hands_rasa_the_token_from_the_environment():
    assert serve.rasa_arguments(["--enable-api"], {serve.TOKEN_VARIABLE: "t0ken"}) == [
        "run", "--enable-api", "--auth-token", "t0ken"]
    with pytest.raises(SystemExit):
        serve.rasa_arguments(["--enable-api"], {})
    with pytest.raises(SystemExit):
        serve.rasa_arguments(["--auth-token", "t0ken"], {serve.TOKEN_VARIABLE: "t0ken"})


def test_the_running_engine_wrapper_shows_no_token_in_its_arguments(tmp_path: Path):
    """The wrapper as a real process, with a stand-in `rasa` package that records what Rasa would
    receive: the token reaches Rasa's argument parser, never the process's command line (`ps`)."""
    fake = tmp_path / "rasa"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    received = tmp_path / "received"
    (fake / "__main__.py").write_text(
        "import sys, time\n"
        "def main():\n"
        f"    open({str(received)!r}, 'w').write(' '.join(sys.argv))\n"
        "    time.sleep(30)\n")
    token = "engine-token-" + os.urandom(8).hex()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(supervisor.ROOT)]),
           serve.TOKEN_VARIABLE: token}
    child = subprocess.Popen([sys.executable, "-m", "connectors.rasa.serve", "--enable-api", "--port", "1"], env=env,
                             cwd=supervisor.ROOT)
    try:
        assert wait_for(lambda: received.exists() and received.read_text())
        assert received.read_text() == f"rasa run --enable-api --port 1 --auth-token {token}"
        command_line = Path(f"/proc/{child.pid}/cmdline").read_bytes().decode()
        assert "connectors.rasa.serve" in command_line and token not in command_line
    finally:
        child.kill()
        child.wait()


def test_a_process_that_cannot_be_started_again_is_retried_without_stopping_supervision(tmp_path: Path):
    clock = FakeClock()
    process = crasher(tmp_path)
    stack = Stack([process], policy=FAST, clock=clock)
    process.start(clock())
    assert process.popen is not None
    process.popen.wait(10)
    stack.supervise_once()
    process.command = [str(tmp_path / "no-such-program")]
    clock.now = process.restart_at  # type: ignore[assignment]

    stack.supervise_once()

    assert process.restart_at is not None and round(process.restart_at - clock.now, 3) == 0.2


LAUNCHER = """
import json, os, sys
from pathlib import Path
from bot.ops.cli import stop_on_signals, supervise_until_stopped
from bot.ops.supervisor import Process, RestartPolicy, Stack

folder = Path(sys.argv[1])
processes = [Process(name, [sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1",
                            "--directory", str(folder)], dict(os.environ), f"http://127.0.0.1:{port}/",
                     folder / f"{name}.log") for name, port in json.loads(sys.argv[2]).items()]
stack = Stack(processes, policy=RestartPolicy(first=0.1, cap=0.4), poll=0.05)
stop_on_signals(stack)
stack.start(timeout=30)
print(json.dumps([p.popen.pid for p in processes]), flush=True)
supervise_until_stopped(stack)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_launcher_stops_every_process(tmp_path: Path, signum: int):
    ports = {name: str(_free_port()) for name in ("back office", "action server", "engine")}
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(tmp_path), json.dumps(ports)],
                                cwd=supervisor.ROOT, stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(supervisor.ROOT)})
    try:
        assert launcher.stdout is not None
        pids = json.loads(launcher.stdout.readline())
        os.kill(pids[2], signal.SIGKILL)  # a restart under way must not survive the stop either
        time.sleep(0.3)
        launcher.send_signal(signum)
        assert launcher.wait(20) == 0
    finally:
        launcher.kill()
    assert "stopped." in launcher.stdout.read()
    for port in ports.values():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(port))) != 0, "a child still serves after the stop"
