"""Who is on the other end of the HTTP request a patient message came in by: the client's address,
for limits that must hold across conversations (a script opens a new conversation per request).

Set by the entry points (`POST /api/chat`, the web chat's socket) for the duration of a request;
None for messages the providers' signed webhooks bring, where the sender is the provider.
"""

from __future__ import annotations

from contextvars import ContextVar

client_address: ContextVar[str | None] = ContextVar("client_address", default=None)
