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
from connectors.web.limits import reads
from connectors.web.sessions import idle_limit, mint

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


class WebSession(BaseModel):
    session: str
    idle_days: float


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


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _too_many(wait: int) -> JSONResponse:
    return JSONResponse({"detail": "too many requests: try again later", "code": "slow_down"}, status_code=429,
                        headers={"Retry-After": str(wait)})


@router.post(
    "/api/web/sessions", response_model=WebSession, status_code=201,
    summary="A new web chat session", responses={429: {"description": "Too many new sessions from this address"}},
)
async def new_web_session(request: Request) -> WebSession | JSONResponse:
    """The session id the widget keeps and sends as its sender (socket hello, `POST /api/chat`
    with channel `web`, the history). Signed by the server: ids it did not issue are refused. A
    session idle (no message) for `idle_days` is refused too, and its history no longer served.
    """
    if (wait := reads.mint(_address(request))) is not None:
        return _too_many(wait)
    return WebSession(session=mint(), idle_days=idle_limit().total_seconds() / 86400)


@router.get(
    "/api/conversations/web/{session}/history", response_model=WebHistory,
    summary="The web chat conversation of a browser session",
    responses={401: {"description": "A session the server did not issue, or expired: get a new one"},
               422: {"description": "The session id is not a web session id"},
               429: {"description": "Too many reads of this session or from this address (see Retry-After)"}},
)
async def web_history(session: str, request: Request) -> WebHistory | JSONResponse:
    """The messages of the conversation the widget restores after a reload (the latest 200).

    `session` is the id `POST /api/web/sessions` issued. A session that has not written yet has no
    messages. Buttons' payloads the patient sent are shown as the buttons' titles.
    """
    if not web_channel.valid_session(session):
        return JSONResponse(
            {"detail": "invalid request", "errors": [{"field": "session", "problem": web_channel.SESSION_PROBLEM}]},
            status_code=422)
    # Counted before the signature is checked: guessing ids costs the same budget as reading them.
    if (wait := reads.history(session, _address(request))) is not None:
        return _too_many(wait)
    if (problem := await web_channel.session_problem(session)) is not None:
        return JSONResponse({"detail": "this web session was not issued by this server or has expired: "
                                       "get a new one from POST /api/web/sessions", "code": problem}, status_code=401)
    return WebHistory(**await web_channel.load_history(session))


@router.websocket("/ws/chat")
async def web_chat(socket: WebSocket) -> None:
    """JSON frames; see connectors/web/channel.py for the protocol."""
    client_address.set(socket.client.host if socket.client else None)
    await web_channel.serve(socket)
