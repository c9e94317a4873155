"""`make bench`: our stack and the stock `rasa init` assistant, measured with the same load generator
in the same run, so that the ratios mean something on a shared, noisy machine.

    python -m bench [--patients 10] [--rounds 8] [--skip-stock]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"

OUR_CONVERSATIONS = [
    ["bonjour", "c quoi les horaires de la cardio stp", "et le numero ?", "merci", "au revoir"],
    ["hello", "where is the maternity ward", "what are the visiting hours there?", "thanks"],
    ["jai mal au ventre depuis hier", "depuis hier", "non", "5", "merci"],
    ["I have a rash on my arm since 3 days", "34", "no", "no", "thank you"],
    ["comment se preparer pour une coloscopie", "merci bcp"],
    ["tu es un robot ?", "je veux parler a quelqu'un", "ok merci"],
    ["Can we speak English?", "what time does radiology open on saturday", "bye"],
]
STOCK_CONVERSATIONS = [
    ["hello", "I am sad", "yes", "bye"],
    ["hi", "great", "are you a bot?", "goodbye"],
    ["good morning", "very bad", "no", "see you"],
]
FAILURE_MARKERS = ("Réessayez", "try again")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _measure(send, conversations, patients: int, rounds: int, prefix: str, pids: dict[str, int]) -> dict:
    from bench.load import run_load
    from bench.memory import cpu_seconds

    await run_load(send, conversations[:2], 2, 1, prefix + "-warmup")
    single = await run_load(send, conversations, 1, len(conversations), prefix + "-single")
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    concurrent = await run_load(send, conversations, patients, rounds, prefix + "-load")
    # CPU per turn says where the time goes, whatever else the shared machine was doing.
    cpu = {name: round((cpu_seconds(pid) - before[name]) * 1000 / max(concurrent.turns, 1), 1)
           for name, pid in pids.items()}
    return {"single": single.summary(), "concurrent": concurrent.summary(), "cpu_ms_per_turn": cpu}


# ---------------------------------------------------------------- ours


def bench_ours(patients: int, rounds: int) -> dict:
    os.environ.setdefault("PARCOURS_VAR", tempfile.mkdtemp(prefix="parcours-bench-"))
    for name in ("RASA_PORT", "ACTION_PORT", "PARCOURS_PORT"):
        os.environ[name] = str(_free_port())
    from bench.memory import peak_rss_mb
    from bot.core.config import settings
    from bot.ops.cli import _seed
    from bot.ops.migrate import upgrade
    from bot.ops.supervisor import Stack, train

    train_dir = Path(tempfile.mkdtemp(prefix="parcours-train-"))
    started = time.monotonic()
    training = subprocess.run(
        [str(ROOT / ".venv-rasa/bin/rasa"), "train", "--config", "config.yml", "--domain", "domain.yml",
         "--data", "nlu", "stories", "--out", str(train_dir), "--force"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    training_s = time.monotonic() - started
    shutil.rmtree(train_dir, ignore_errors=True)
    if training.returncode != 0:
        sys.exit("training failed:\n" + training.stdout[-2000:])
    train()  # the model the stack serves (no-op when current)

    upgrade()
    asyncio.run(_seed())
    from bench.channels import prepare

    prepare()  # fake Telegram and SMS providers: a bench never messages a real patient
    stack = Stack()
    startup_s = stack.start()
    url = settings().backoffice_url + "/api/chat"

    async def send(client: httpx.AsyncClient, sender: str, text: str) -> bool:
        response = await client.post(url, json={"sender": sender, "text": text, "channel": "web"})
        if response.status_code != 200:
            return False
        replies = response.json()["replies"]
        return bool(replies) and not any(m in r["text"] for r in replies for m in FAILURE_MARKERS)

    try:
        pids = {p.name: p.popen.pid for p in stack.processes if p.popen}
        figures = asyncio.run(_measure(send, OUR_CONVERSATIONS, patients, rounds, "bench", pids))
        figures["channels"] = _bench_channels(settings().backoffice_url)
        figures["memory_mb"] = {p.name: peak_rss_mb(p.popen.pid) for p in stack.processes if p.popen}
    finally:
        stack.stop()
    figures["training_s"] = round(training_s, 1)
    figures["startup_s"] = round(startup_s, 1)
    return figures


def _bench_channels(backoffice_url: str) -> dict:
    from bench.channels import run as run_channels

    return run_channels(backoffice_url)


# ---------------------------------------------------------------- stock


def bench_stock(patients: int, rounds: int) -> dict:
    from bench.memory import peak_rss_mb

    rasa = str(ROOT / ".venv-rasa/bin/rasa")
    workdir = Path(tempfile.mkdtemp(prefix="rasa-stock-"))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    init = subprocess.run([rasa, "init", "--no-prompt", "--init-dir", str(workdir)], cwd=workdir, env=env,
                          capture_output=True, text=True)
    training_s = time.monotonic() - started  # rasa init trains the model; scaffolding takes well under a second
    if init.returncode != 0:
        sys.exit("rasa init failed:\n" + init.stdout[-2000:])
    port = _free_port()
    log = (workdir / "run.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen([rasa, "run", "--enable-api", "--port", str(port), "-i", "127.0.0.1"],
                               cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(base + "/status", timeout=2).json().get("model_id"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if process.poll() is not None or time.monotonic() - started > 300:
                sys.exit(f"the stock assistant did not start; see {workdir / 'run.log'}")
            time.sleep(0.3)
        startup_s = time.monotonic() - started

        async def send(client: httpx.AsyncClient, sender: str, text: str) -> bool:
            response = await client.post(base + "/webhooks/rest/webhook", json={"sender": sender, "message": text})
            return response.status_code == 200 and bool(response.json())

        figures = asyncio.run(_measure(send, STOCK_CONVERSATIONS, patients, rounds, "stock", {"rasa": process.pid}))
        figures["memory_mb"] = {"rasa": peak_rss_mb(process.pid)}
    finally:
        import signal

        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    figures["training_s"] = round(training_s, 1)
    figures["startup_s"] = round(startup_s, 1)
    return figures


# ---------------------------------------------------------------- report


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def report(ours: dict, stock: dict | None, triage: dict, patients: int) -> str:
    lines = [f"Parcours bench — {patients} concurrent patients, {os.cpu_count()} cores", ""]
    header = f"{'':34}{'ours':>12}" + (f"{'stock':>12}{'ours/stock':>12}" if stock else "")
    lines.append(header)

    def row(label: str, key: tuple[str, ...], better: str = "") -> None:
        value = ours
        for k in key:
            value = value[k]
        line = f"{label:34}{value:>12}"
        if stock:
            other = stock
            for k in key:
                other = other[k]
            line += f"{other:>12}{_ratio(value, other):>12}"
        lines.append(line + (f"  ({better})" if better else ""))

    row("turns/s, concurrent", ("concurrent", "turns_per_s"), "higher is better")
    row("p50 ms, concurrent", ("concurrent", "p50_ms"))
    row("p95 ms, concurrent", ("concurrent", "p95_ms"), "target ≤ 250")
    row("p99 ms, concurrent", ("concurrent", "p99_ms"))
    row("errors, concurrent", ("concurrent", "errors"), "must be 0")
    row("turns measured, concurrent", ("concurrent", "turns"))
    row("p50 ms, one patient", ("single", "p50_ms"))
    row("p95 ms, one patient", ("single", "p95_ms"))
    row("training s", ("training_s",))
    row("start-up s", ("startup_s",))
    def per_process(label: str, key: str) -> None:
        total = round(sum(ours[key].values()), 1)
        other = round(sum(stock[key].values()), 1) if stock else None
        lines.append(f"{label:34}{total:>12}" + (f"{other:>12}{_ratio(total, other):>12}" if stock else ""))
        lines.extend(f"{'  ' + name:34}{value:>12}" for name, value in ours[key].items())

    per_process("peak memory MB, all processes", "memory_mb")
    per_process("CPU ms per turn, all processes", "cpu_ms_per_turn")
    lines += ["", "Triage engine alone (per message):",
              f"  triage {triage['triage_ms']}, screen {triage['screen_ms']}"
              f" over {triage.get('n', '?')} messages (target p95 ≤ 20 ms)"]
    lines += ["", "Channel webhooks (back office + engine, per request):"]
    for channel, figures in ours.get("channels", {}).items():
        lines.append(f"  {channel:10} " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--patients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--skip-stock", action="store_true", help="measure ours only")
    args = parser.parse_args()
    from bench.triage_bench import run as run_triage

    triage = run_triage()
    ours = bench_ours(args.patients, args.rounds)
    stock = None if args.skip_stock else bench_stock(args.patients, args.rounds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps({"ours": ours, "stock": stock, "triage": triage}, indent=2))
    print(report(ours, stock, triage, args.patients))
    print(f"\nraw figures: {RESULTS / 'bench.json'}")


if __name__ == "__main__":
    main()
