"""The patient channels the back office serves, and how each plugs into the outbound path.

Every channel (web, Telegram, SMS) is a package in `connectors/` that declares itself with
`register_channel(Channel(...))` when imported: its routes (webhooks, the web socket), how it
renders replies and delivers one item, and what to close at shutdown. The back office imports the
packages named in `channels.yml` (`connectors:`) by name, so `bot/` never depends on a
channel's code or library, and a hospital without Telegram removes one line.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from bot.core.datafiles import load

if TYPE_CHECKING:
    from bot.conversation.models import Conversation
    from bot.conversation.transcript import Reply

Deliverer = Callable[["Conversation", "Reply"], Awaitable[str | None]]
Renderer = Callable[["Conversation", list["Reply"]], list["Reply"]]


@dataclass(frozen=True)
class Channel:
    name: str
    deliver: Deliverer  # sends one rendered item; returns the provider's id or raises DeliveryError
    render: Renderer | None = None  # replies → what the channel sends, one item per provider call
    router: Any = None  # the channel's routes, mounted by the back office (kept untyped: no web framework here)
    close: Callable[[], Awaitable[None]] | None = None  # provider clients to close at shutdown


_channels: dict[str, Channel] = {}
_loaded = False
_lock = threading.Lock()


def register_channel(channel: Channel) -> None:
    _channels[channel.name] = channel


def _ensure_loaded() -> None:
    """Import the configured channel packages once; each registers itself. Every delivery asks,
    so the answer after the first is a flag read, without the lock."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for module in load("channels")["connectors"]:
                import_module(module)
            _loaded = True


def load_channels() -> list[Channel]:
    _ensure_loaded()
    return list(_channels.values())


def channel(name: str) -> Channel | None:
    _ensure_loaded()
    return _channels.get(name)


def loaded_channels() -> list[Channel]:
    """The channels this process has registered, without importing any (shutdown)."""
    return list(_channels.values())
