"""The web chat channel's routes: the demo page, the widget's files, its websocket and the history.

The protocol and the hub of open sockets are in connectors/web/channel.py; the widget itself is
connectors/web/widget.js. A hospital embeds it with one tag:

    <script src="https://hospital.example/parcours/widget.js" data-lang="fr" defer></script>
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from bot.conversation.client import client_address
from bot.conversation.schemas import Button
from connectors.web import channel as web_channel
from connectors.web import demo
from connectors.web.demo import ASSETS, render_demo_page

router = APIRouter(tags=["web chat"])

# Short caching: a new widget version reaches patients within minutes; the ETag saves the bytes.
_ASSET_CACHE = {"Cache-Control": "public, max-age=300"}


class WebMessage(BaseModel):
    id: int
    direction: Literal["in", "out"]
    author: str
    text: str
    language: str | None = None
    buttons: list[Button] = []
    custom: dict[str, Any] = {}
    created_at: str | None = None


class WebHistory(BaseModel):
    session: str
    conversation_id: str | None
    language: str | None
    messages: list[WebMessage]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def demo_page(lang: str = "fr") -> HTMLResponse:
    """A demo hospital homepage with the chat widget embedded."""
    return HTMLResponse(await render_demo_page(lang))


@router.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
async def widget_script(request: Request) -> Response:
    body, etag = demo.widget_script()
    headers = {**_ASSET_CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.api_route("/widget.css", methods=["GET", "HEAD"], include_in_schema=False)
async def widget_stylesheet() -> FileResponse:
    return FileResponse(ASSETS / "widget.css", media_type="text/css; charset=utf-8", headers=_ASSET_CACHE)


@router.get(
    "/api/conversations/web/{session}/history", response_model=WebHistory,
    summary="The web chat conversation of a browser session",
    responses={422: {"description": "The session id is not a web session id"}},
)
async def web_history(session: str) -> WebHistory | JSONResponse:
    """The messages of the conversation the widget restores after a reload (the latest 200).

    `session` is the opaque id the browser generated (16–64 characters among A–Z, a–z, 0–9, `-`
    and `_`). A session that has not written yet has no messages. Buttons' payloads the patient
    sent are shown as the buttons' titles.
    """
    if not web_channel.valid_session(session):
        return JSONResponse(
            {"detail": "invalid request", "errors": [{"field": "session", "problem": web_channel.SESSION_PROBLEM}]},
            status_code=422)
    return WebHistory(**await web_channel.load_history(session))


@router.websocket("/ws/chat")
async def web_chat(socket: WebSocket) -> None:
    """JSON frames; see connectors/web/channel.py for the protocol."""
    client_address.set(socket.client.host if socket.client else None)
    await web_channel.serve(socket)
