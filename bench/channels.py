"""Latency of the Telegram and SMS webhook paths, per channel, against a running back office.

Each request is a full turn: signature check, redelivery check, transcript, engine, outbox, and
the provider call (answered by a local fake, so the figures are ours, not Telegram's or Twilio's).

    prepare()            # before the back office starts: channels configured against local fakes
    run(backoffice_url)  # {"telegram": {...p50_ms, p95_ms...}, "sms": {...}}

or, against a back office already configured with the same secrets:

    python -m bench.channels http://127.0.0.1:8000 [--requests 60] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx

from bench.load import LoadResult

TELEGRAM_TOKEN = "424242:BENCH"
TELEGRAM_SECRET = "bench-telegram-secret"
TWILIO_SID = "AC" + "b" * 32
TWILIO_TOKEN = "bench-twilio-token"
PUBLIC_URL = "http://parcours-bench.invalid"  # Twilio signs the URL it is configured with; any consistent URL works
MESSAGES = ["bonjour", "c quoi les horaires de la cardio stp", "et le numero ?", "hello", "where is the maternity ward",
            "jai mal au ventre depuis hier", "merci"]

_server: ThreadingHTTPServer | None = None


class _FakeProviders(BaseHTTPRequestHandler):
    """Telegram's Bot API and Twilio's Messages API, answering at once."""

    _ids = iter(range(1, 10**9))

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        message_id = next(self._ids)
        if self.path.startswith("/2010-04-01/"):
            status, body = 201, {"sid": f"SM{message_id:032d}", "status": "queued"}
        elif self.path.endswith("/sendMessage"):
            status, body = 200, {"ok": True, "result": {"message_id": message_id, "date": int(time.time()),
                                                        "chat": {"id": 1, "type": "private"}, "text": ""}}
        else:
            status, body = 200, {"ok": True, "result": True}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        return None


def prepare() -> str:
    """Start the fake providers and configure both channels against them, for a back office started
    afterwards by this process (its environment is inherited). Overrides any real credentials, so a
    bench never messages real patients. Returns the fakes' URL."""
    global _server
    if _server is None:
        _server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeProviders)
        threading.Thread(target=_server.serve_forever, name="bench-fake-providers", daemon=True).start()
    url = f"http://127.0.0.1:{_server.server_address[1]}"
    os.environ.update({
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET, "TELEGRAM_API_BASE_URL": url,
        "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+33700000000", "TWILIO_MESSAGING_SERVICE_SID": "", "TWILIO_API_BASE_URL": url,
        "PARCOURS_PUBLIC_URL": PUBLIC_URL, "OUTBOX_RATE_LIMITS": "", "OUTBOX_QUIET_HOURS": "off",
    })
    return url


def _secret(name: str, default: str) -> str:
    return os.environ.get(name) or default


async def _telegram(client: httpx.AsyncClient, base: str, patient: int, text: str, counter: list[int]) -> bool:
    counter[0] += 1
    chat = 900_000_000 + patient
    update = {"update_id": counter[0], "message": {
        "message_id": counter[0], "date": int(time.time()), "text": text,
        "chat": {"id": chat, "type": "private", "first_name": "Bench"},
        "from": {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "fr"}}}
    response = await client.post(base + "/webhooks/telegram", json=update, headers={
        "X-Telegram-Bot-Api-Secret-Token": _secret("TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET)})
    return response.status_code == 200 and response.json().get("outcome") == "message"


async def _sms(client: httpx.AsyncClient, base: str, patient: int, text: str, counter: list[int]) -> bool:
    from twilio.request_validator import RequestValidator

    counter[0] += 1
    form = {"MessageSid": f"SM{counter[0]:032d}", "AccountSid": TWILIO_SID, "From": f"+3369{patient:07d}",
            "To": "+33700000000", "Body": text, "NumMedia": "0"}
    public = _secret("PARCOURS_PUBLIC_URL", PUBLIC_URL).rstrip("/") + "/webhooks/sms"
    signature = RequestValidator(_secret("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)).compute_signature(public, form)
    response = await client.post(base + "/webhooks/sms", content=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    return response.status_code == 200 and response.headers.get("x-parcours-outcome") == "message"


async def _measure(send, base: str, requests: int, concurrency: int) -> dict:
    # Ids unique across runs: the back office remembers every update_id and MessageSid it has seen.
    counter = [int(time.time() * 1000) * 1000 + random.randint(0, 999)]
    result = LoadResult()
    async with httpx.AsyncClient(timeout=60) as client:
        probe = await client.post(base + ("/webhooks/telegram" if send is _telegram else "/webhooks/sms"))
        if probe.status_code == 503:
            return {"skipped": "channel not configured in the back office (bench.channels.prepare() before start)"}
        patients = [random.randint(0, 9_999_999) for _ in range(concurrency)]

        async def patient(number: int) -> None:
            for index in range(requests // concurrency):
                text = MESSAGES[(number + index) % len(MESSAGES)]
                await result.record(send(client, base, patients[number], text, counter))

        started = time.perf_counter()
        await asyncio.gather(*(patient(n) for n in range(concurrency)))
        result.seconds = time.perf_counter() - started
    summary = result.summary()
    return {key: summary[key] for key in ("turns", "errors", "p50_ms", "p95_ms", "turns_per_s")}


def run(backoffice_url: str, requests: int = 60, concurrency: int = 4) -> dict[str, dict]:
    """p50/p95 webhook latency per channel over `requests` turns from `concurrency` patients at once."""
    base = backoffice_url.rstrip("/")

    async def both() -> dict[str, dict]:
        return {"telegram": await _measure(_telegram, base, requests, concurrency),
                "sms": await _measure(_sms, base, requests, concurrency)}

    return asyncio.run(both())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.channels", description=__doc__.split("\n\n")[0])
    parser.add_argument("backoffice_url")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps(run(args.backoffice_url, args.requests, args.concurrency), indent=2))


if __name__ == "__main__":
    main()
