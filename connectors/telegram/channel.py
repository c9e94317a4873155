"""Telegram: updates in (webhook or polling), messages out through the outbox, on python-telegram-bot.

- Text goes out as plain text, without parse_mode: no character a patient or the engine writes can
  break the formatting or make Telegram reject the message ("can't parse entities"), so nothing
  needs escaping. Telegram still makes URLs and phone numbers tappable.
- Quick replies are inline keyboards. callback_data is limited to 64 bytes: a payload that fits is
  sent as is ("p:<payload>"), a longer one is kept in the database under a short token ("t:<token>").
- Each update_id is processed once (a unique receipt row), whatever Telegram redelivers.
- Only private chats are served: health questions do not belong in a group.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram import Message as TelegramMessage
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.conversation.message_path import handle_incoming
from bot.conversation.models import Conversation
from bot.conversation.transcript import Reply
from bot.core.db import session_scope
from bot.core.language import language_names
from bot.messaging import delivery
from bot.messaging.models import CallbackToken
from bot.messaging.outbox import DeliveryError
from connectors.common import channel_text, language_from_hint, notice
from connectors.telegram.settings import telegram_settings
from connectors.textsplit import split_text, utf16_length

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # Telegram's limit per message, in UTF-16 code units
CALLBACK_LIMIT = 64  # bytes of callback_data
BUTTON_TITLE_LIMIT = 64
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

_bots: dict[tuple[str, str], Bot] = {}


def bot() -> Bot:
    """The Bot for the configured token and API server (Telegram's, or a local fake in tests)."""
    s = telegram_settings()
    key = (s.token, s.bot_base_url)
    if key not in _bots:
        request = HTTPXRequest(connection_pool_size=64, connect_timeout=5.0, read_timeout=15.0, write_timeout=10.0,
                               pool_timeout=5.0)
        _bots[key] = Bot(s.token, base_url=s.bot_base_url, request=request,
                         get_updates_request=HTTPXRequest(read_timeout=40.0))
    return _bots[key]


async def close() -> None:
    bots = list(_bots.values())
    _bots.clear()
    for instance in bots:
        await instance.shutdown()


# ---------------------------------------------------------------- out


def _call_line(custom: dict[str, Any], text: str) -> str | None:
    call = custom.get("call") if isinstance(custom, dict) else None
    if isinstance(call, dict) and call.get("label") and str(call.get("number", "")) not in text:
        return f"📞 {call['label']}"
    return None


def render(conversation: Conversation, replies: list[Reply]) -> list[Reply]:
    """Telegram messages for these replies: long texts split, buttons on the last part."""
    parts: list[Reply] = []
    for reply in replies:
        text = reply.text.strip()
        if line := _call_line(reply.custom, text):
            text = f"{text}\n\n{line}" if text else line
        if image := (reply.custom.get("image") if isinstance(reply.custom, dict) else None):
            text = f"{text}\n{image}" if text else str(image)
        if not text and not reply.buttons:
            continue
        text = text or channel_text("choose_option", conversation.language)
        chunks = split_text(text, lambda chunk: utf16_length(chunk) <= TEXT_LIMIT)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            parts.append(Reply(text=chunk, buttons=reply.buttons if last else []))
    return parts


def _token(conversation_id: str, payload: str) -> str:
    # Deterministic: sending the same keyboard again (a retry) reuses the row instead of adding one.
    digest = hashlib.sha256(f"{conversation_id}\0{payload}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


async def callback_data(conversation_id: str, payload: str) -> str:
    data = "p:" + payload
    if len(data.encode("utf-8")) <= CALLBACK_LIMIT:
        return data
    token = _token(conversation_id, payload)
    async with session_scope() as session:
        if await session.get(CallbackToken, token) is None:
            try:
                async with session.begin_nested():
                    session.add(CallbackToken(token=token, conversation_id=conversation_id, payload=payload))
            except IntegrityError:
                pass  # stored concurrently: same token, same payload
    return "t:" + token


async def _keyboard(conversation_id: str, buttons: list[dict[str, str]]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    # One button a row: titles stay whole and large targets are easier to tap.
    rows = [
        [InlineKeyboardButton(str(b.get("title", ""))[:BUTTON_TITLE_LIMIT] or "…",
                              callback_data=await callback_data(conversation_id, str(b.get("payload", ""))))]
        for b in buttons
    ]
    return InlineKeyboardMarkup(rows)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def deliver(conversation: Conversation, reply: Reply) -> str:
    """Send one message; the Telegram message id. DeliveryError says whether a retry can help."""
    try:
        chat_id = int(conversation.sender)
    except ValueError as error:
        raise DeliveryError("not a Telegram chat id", permanent=True) from error
    if not telegram_settings().token:
        raise DeliveryError("telegram not configured")  # retried: the token may be set before the last attempt
    markup = await _keyboard(conversation.id, reply.buttons)
    try:
        sent = await bot().send_message(
            chat_id=chat_id, text=reply.text, reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except RetryAfter as error:
        raise DeliveryError("telegram 429 flood control", retry_after=_seconds(error.retry_after)) from error
    except Forbidden as error:  # the patient blocked the bot or deleted the account
        raise DeliveryError("telegram 403 forbidden", permanent=True) from error
    except BadRequest as error:  # chat not found, message invalid: the same request fails again
        raise DeliveryError("telegram 400 bad request", permanent=True) from error
    except InvalidToken as error:
        raise DeliveryError("telegram token rejected") from error
    except NetworkError as error:  # includes TimedOut and Telegram's 5xx
        raise DeliveryError(f"telegram unreachable ({type(error).__name__})") from error
    except TelegramError as error:
        raise DeliveryError(f"telegram error ({type(error).__name__})") from error
    return str(sent.message_id)


# ---------------------------------------------------------------- in


def parse_update(data: dict[str, Any]) -> Update:
    """An Update from a webhook body; ValueError if it is not one."""
    try:
        update = Update.de_json(data, bot())
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        raise ValueError("not a Telegram update") from error
    if update is None:
        raise ValueError("not a Telegram update")
    return update


def _command(text: str) -> tuple[str, str] | None:
    """("start", "payload") for "/start payload" or "/start@ParcoursBot payload"; None for other text."""
    if not text.startswith("/"):
        return None
    head, _, argument = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    aliases = {"start": "start", "language": "language", "langue": "language", "help": "help", "aide": "help"}
    return (aliases[name], argument.strip()) if name in aliases else None


def _deep_link_language(payload: str) -> str | None:
    """t.me/<bot>?start=en or ?start=lang_en opens the conversation in that language."""
    return language_from_hint(payload.removeprefix("lang_").removeprefix("lang-"))


async def process_update(update: Update) -> str:
    """Handle one update once; what was done (for logs and tests, never the text)."""
    receipt = str(update.update_id)  # recorded with what the update brings: a redelivery is skipped
    if update.callback_query is not None:
        return await _on_callback(update.callback_query, receipt)
    if update.edited_message is not None:
        message = update.edited_message
        if message.chat.type != "private":
            return "ignored"
        done = await notice(CHANNEL, str(message.chat.id), "edited_message", reply_key=_reply_key(receipt),
                            receipt=receipt,
                            language_hint=language_from_hint(message.from_user and message.from_user.language_code))
        return "edited" if done else "duplicate"
    message = update.message
    if message is None or message.chat.type != "private":
        return "ignored"  # channel posts, membership changes, groups
    return await _on_message(message, receipt)


def _reply_key(receipt: str) -> str:
    return f"tg:{receipt}"


async def _on_message(message: TelegramMessage, receipt: str) -> str:
    sender, key = str(message.chat.id), _reply_key(receipt)
    hint = language_from_hint(message.from_user.language_code if message.from_user else None)
    if message.text is None:
        if message.effective_attachment is None:
            return "ignored"  # a service message (pinned, joined…): nothing was said
        attachment = message.effective_attachment
        kind = "photo" if isinstance(attachment, (list, tuple)) else type(attachment).__name__.lower()
        done = await notice(CHANNEL, sender, "text_only", reply_key=key, receipt=receipt, incoming="",
                            incoming_payload={"unsupported": kind}, language_hint=hint)
        return "unsupported" if done else "duplicate"
    command = _command(message.text)
    if command and command[0] in ("start", "help"):
        argument = command[1][:64]
        language = _deep_link_language(argument) if command[0] == "start" else None
        done = await notice(CHANNEL, sender, "welcome", reply_key=key, receipt=receipt, incoming=f"/{command[0]}",
                            incoming_payload={"start": argument} if argument else None, language=language,
                            language_hint=hint)
        return command[0] if done else "duplicate"
    if command and command[0] == "language":
        buttons = [{"title": name, "payload": f"l:{code}"} for code, name in language_names().items()]
        done = await notice(CHANNEL, sender, "choose_language", reply_key=key, receipt=receipt, incoming="/language",
                            buttons=buttons, language_hint=hint)
        return "language" if done else "duplicate"
    turn = await handle_incoming(CHANNEL, sender, message.text, receipt=receipt, reply_key=key, language_hint=hint)
    return "message" if turn else "duplicate"


async def _token_payload(sender: str, token: str) -> str | None:
    async with session_scope() as session:
        found = await session.get(CallbackToken, token)
        if found is None:
            return None
        owner = await session.scalar(select(Conversation.sender).where(Conversation.id == found.conversation_id,
                                                                        Conversation.channel == CHANNEL))
        return found.payload if owner == sender else None  # a token only works in its own chat


async def _on_callback(query: CallbackQuery, receipt: str) -> str:
    key = _reply_key(receipt)
    try:
        await query.answer()  # stops the button's spinner; the answer itself comes as a message
    except TelegramError as error:
        log.info("answerCallbackQuery failed: %s", type(error).__name__)
    chat = query.message.chat if query.message is not None else None
    if chat is not None and chat.type != "private":
        return "ignored"
    sender = str(chat.id if chat is not None else query.from_user.id)
    kind, _, value = (query.data or "").partition(":")
    payload = value if kind == "p" else await _token_payload(sender, value) if kind == "t" else None
    if not payload:
        done = await notice(CHANNEL, sender, "button_expired", reply_key=key, receipt=receipt)
        return "expired" if done else "duplicate"
    if payload.startswith("l:") and payload[2:] in language_names():  # the /language buttons
        language = payload[2:]
        done = await notice(CHANNEL, sender, "language_set", reply_key=key, receipt=receipt,
                            incoming=language_names()[language], incoming_payload={"language": language},
                            language=language)
        return "language_set" if done else "duplicate"
    turn = await handle_incoming(CHANNEL, sender, payload, receipt=receipt, reply_key=key)
    return "button" if turn else "duplicate"


# ---------------------------------------------------------------- polling


async def poll(stop: asyncio.Event, timeout: int = 25) -> None:
    """Long-poll Telegram instead of receiving webhooks (no public URL needed); until `stop` is set."""
    instance = bot()
    await instance.initialize()
    # getUpdates is refused while a webhook is set; pending updates are kept.
    await instance.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    failures = 0
    while not stop.is_set():
        try:
            updates = await instance.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
            failures = 0
        except RetryAfter as error:
            await asyncio.sleep(_seconds(error.retry_after))
            continue
        except (NetworkError, InvalidToken) as error:
            failures += 1
            log.warning("getUpdates failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(min(60, 2**failures))
            continue
        for update in updates:
            offset = update.update_id + 1
            try:
                outcome = await process_update(update)
                log.info("telegram update %s: %s", update.update_id, outcome)
            except Exception as error:  # one bad update must not stop the loop
                log.error("telegram update %s failed: %s", update.update_id, type(error).__name__)


async def run_polling() -> None:
    """`python -m connectors.telegram`: polling plus this process's outbox worker, until Ctrl-C."""
    import signal

    if not telegram_settings().token:
        raise SystemExit("Telegram is not configured: set TELEGRAM_BOT_TOKEN")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await delivery.start()
    try:
        poller = asyncio.create_task(poll(stop))
        await stop.wait()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
    finally:
        await delivery.stop()
        from bot.conversation import engine
        from bot.core import db

        await engine.close()
        await db.dispose()


__all__ = ["callback_data", "close", "deliver", "parse_update", "poll", "process_update", "render", "run_polling"]
