"""`python -m connectors.telegram`: Telegram without a public URL (long polling and an outbox worker)."""

import asyncio
import logging

from connectors.telegram.channel import run_polling

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
asyncio.run(run_polling())
