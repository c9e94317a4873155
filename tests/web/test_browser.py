"""The web chat in a real browser: headless Chromium from Debian's packages (/usr/bin/chromium)
driven by Playwright, against a real uvicorn back office on a free localhost port with a scripted
engine in place of Rasa. Screenshots go to test-artifacts/web/.

Install the browser with: apt-get install -y chromium
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path(os.environ.get("PARCOURS_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright

    expect.set_options(timeout=10_000)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def push(self, session: str, text: str, **extra) -> None:
        """A message the patient did not ask for, through the engine's proactive path:
        /internal/rasa/outbound → transcript → delivery → the web channel's hub."""
        history = httpx.get(f"{self.url}/api/conversations/web/{session}/history").json()
        assert history["conversation_id"], "the session has no conversation yet"
        response = httpx.post(
            f"{self.url}/internal/rasa/outbound",
            headers={"Authorization": f"Bearer {os.environ['PARCOURS_GATEWAY_TOKEN']}"},
            json={"recipient_id": history["conversation_id"], "text": text, **extra},
        )
        assert response.status_code == 202, response.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(seeded_database) -> Iterator[Server]:
    """uvicorn serving the back office with the scripted engine, on the tests' database."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = ARTIFACTS / "server.log"
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.web.fake_engine:create_test_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            pytest.fail(f"the back office stopped while starting; see {log}")
        try:
            if httpx.get(f"{url}/widget.js", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the back office did not start in 120 s; see {log}")
        time.sleep(0.3)
    yield Server(url, process, log)
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context_factory(browser):
    contexts = []

    def make(viewport=DESKTOP, **options):
        context = browser.new_context(viewport=viewport, locale="fr-FR", **options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(context_factory) -> Page:
    page = context_factory().new_page()
    _watch(page)
    return page


def _watch(page: Page) -> None:
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def launcher(page: Page):
    return page.locator("#parcours-chat .launcher")


def panel(page: Page):
    return page.get_by_role("dialog", name="Parcours")


def message_box(page: Page):
    return page.get_by_role("textbox", name=re.compile("Votre message|Your message"))


def bubbles(page: Page, who: str = "out"):
    return page.locator(f"#parcours-chat .msg.{who} .bubble")


def say(page: Page, text: str) -> None:
    box = message_box(page)
    box.fill(text)
    box.press("Enter")


def session_of(page: Page) -> str:
    return page.evaluate("window.ParcoursChat.session()")


def shadow_active(page: Page) -> str:
    """What has the focus inside the widget: the element's id, else its class."""
    return page.evaluate("""() => {
        const active = document.querySelector('#parcours-chat').shadowRoot.activeElement;
        return active ? (active.id || active.className || active.tagName) : '';
    }""")


def open_widget(page: Page) -> None:
    launcher(page).click()
    expect(panel(page)).to_be_visible()


# --- The patient's journey -----------------------------------------------------------------------


def test_chat_quick_reply_reload_history_and_a_pushed_message(server, page):
    page.goto(server.url)
    expect(launcher(page)).to_be_visible()
    expect(launcher(page)).to_have_accessible_name("Ouvrir l'assistant Parcours")
    shot(page, "01-desktop-home", full_page=True)

    open_widget(page)
    assert shadow_active(page) == "parcours-input"  # ready to type
    expect(bubbles(page).first).to_contain_text("Bonjour, je suis Parcours")  # the welcome
    shot(page, "02-desktop-open")

    say(page, "bonjour, quels sont les horaires ?")
    expect(bubbles(page, "in").last).to_have_text("bonjour, quels sont les horaires ?")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    quick = page.get_by_role("group", name="Réponses proposées").last
    expect(quick.get_by_role("button")).to_have_text(["Cardiologie", "Radiologie"])

    quick.get_by_role("button", name="Cardiologie").click()
    expect(bubbles(page, "in").last).to_have_text("Cardiologie")  # the title, not the payload
    answer = bubbles(page).last
    expect(answer).to_contain_text("04 72 18 32 10")
    expect(answer.get_by_role("link", name="04 72 18 32 10")).to_have_attribute("href", "tel:0472183210")
    link = answer.get_by_role("link", name="https://example.org/cardiolog", exact=False)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#parcours-chat .quick")).to_have_count(0)  # answered: the choices are gone
    expect(page.locator("#parcours-chat [aria-live=polite]")).to_contain_text("04 72 18 32 10")  # read aloud
    assert shadow_active(page) == "parcours-input"  # the clicked button went away: focus back to typing
    shot(page, "03-desktop-conversation")

    page.reload()
    expect(panel(page)).to_be_visible()  # it stays open in this tab
    expect(bubbles(page, "in")).to_have_text(["bonjour, quels sont les horaires ?", "Cardiologie"])
    expect(bubbles(page).last).to_contain_text("04 72 18 32 10")
    expect(page.locator("#parcours-chat .welcome")).to_have_count(0)
    expect(page.locator("#parcours-chat .time").first).to_have_text(re.compile(r"^\d\d:\d\d$"))
    shot(page, "04-desktop-after-reload")

    page.wait_for_function("window.ParcoursChat.connected")
    server.push(session_of(page), "Rappel : votre rendez-vous en cardiologie est demain à 9 h.",
                buttons=[{"title": "Je confirme", "payload": "/affirm"}])
    expect(bubbles(page).last).to_have_text("Rappel : votre rendez-vous en cardiologie est demain à 9 h.")
    expect(page.get_by_role("button", name="Je confirme")).to_be_visible()
    shot(page, "05-desktop-pushed-message")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_pushed_message_on_a_closed_widget_shows_a_badge(server, page):
    page.goto(server.url)
    open_widget(page)
    say(page, "bonjour")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    server.push(session_of(page), "Une infirmière vous a répondu : venez à 14 h.")
    expect(launcher(page).locator(".badge")).to_have_text("1")
    expect(launcher(page)).to_have_accessible_name("Ouvrir l'assistant Parcours (1 nouveau message)")
    shot(page, "06-desktop-badge")
    launcher(page).click()
    expect(bubbles(page).last).to_have_text("Une infirmière vous a répondu : venez à 14 h.")
    expect(launcher(page).locator(".badge")).to_be_hidden()


def test_the_emergency_call_to_action_is_a_tel_15_link(server, page):
    page.goto(server.url)
    open_widget(page)
    say(page, "j'ai une douleur dans la poitrine qui serre")
    call = page.locator("#parcours-chat a.cta.urgent")
    expect(call).to_have_attribute("href", "tel:15")
    expect(call).to_have_text("Appeler le 15")
    expect(page.locator("#parcours-chat .cta-box.urgent .cta-title")).to_have_text("Appelez immédiatement")
    shot(page, "07-desktop-emergency")

    say(page, "on m'a dit d'aller aux urgences")
    place = page.locator("#parcours-chat .cta-box .place").last
    expect(place).to_contain_text("Urgences adultes")
    expect(place).to_contain_text("12 avenue des Tilleuls")


def test_message_text_is_never_markup(server, page):
    page.goto(server.url)
    open_widget(page)
    attack = '<img src=x onerror="window.__pwned=1"><b>gras</b> javascript:alert(1)'
    say(page, attack)
    expect(bubbles(page, "in").last).to_have_text(attack)
    echoed = re.compile(r"^(Vous avez écrit :|You wrote:) " + re.escape(attack) + "$")
    expect(bubbles(page).last).to_have_text(echoed)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelector('#parcours-chat').shadowRoot.querySelectorAll('.bubble img, .bubble b').length") == 0
    assert page.locator("#parcours-chat a[href^='javascript']").count() == 0
    page.reload()
    expect(bubbles(page).last).to_have_text(echoed)  # and not from the history either
    assert page.evaluate("window.__pwned") is None


# --- Accessibility -------------------------------------------------------------------------------


def test_keyboard_only(server, page):
    page.goto(server.url)
    for _ in range(80):  # the launcher comes last in the page's tab order
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "parcours-chat" \
                and shadow_active(page) == "launcher":
            break
    else:
        pytest.fail("the launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    assert shadow_active(page) == "parcours-input"
    page.keyboard.type("bonjour, les horaires ?")
    page.keyboard.press("Enter")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    page.keyboard.press("Shift+Tab")  # back from the text box: the conversation and its choices
    for _ in range(6):
        if page.evaluate("document.querySelector('#parcours-chat').shadowRoot.activeElement.textContent") == "Radiologie":
            break
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(bubbles(page, "in").last).to_have_text("Radiologie")
    expect(bubbles(page).last).to_have_text(re.compile("^Radiolog.*(bâtiment|building) A"))
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_hidden()
    assert shadow_active(page) == "launcher"  # focus goes back where the patient was


def test_controls_are_labelled_and_the_tools_persist(server, page):
    page.goto(server.url)
    open_widget(page)
    dialog = panel(page)
    for name in ("Agrandir le texte", "Contraste élevé", "Fermer l'assistant", "Envoyer"):
        expect(dialog.get_by_role("button", name=name)).to_be_visible()
    expect(message_box(page)).to_have_attribute("placeholder", "Écrivez votre question…")
    expect(dialog.get_by_role("log", name="Conversation avec Parcours")).to_be_visible()
    expect(dialog.get_by_role("link", name="15", exact=True).first).to_have_attribute("href", "tel:15")

    large = dialog.get_by_role("button", name="Agrandir le texte")
    contrast = dialog.get_by_role("button", name="Contraste élevé")
    expect(large).to_have_attribute("aria-pressed", "false")
    root_font = "getComputedStyle(document.querySelector('#parcours-chat').shadowRoot.querySelector('.root')).fontSize"
    assert page.evaluate(root_font) == "16px"
    large.click()
    contrast.click()
    expect(large).to_have_attribute("aria-pressed", "true")
    expect(contrast).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(root_font) == "20px"
    say(page, "bonjour, les horaires ?")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    shot(page, "08-desktop-large-text-high-contrast")
    page.reload()
    expect(panel(page).get_by_role("button", name="Contraste élevé")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(root_font) == "20px"
    background = page.evaluate(
        "getComputedStyle(document.querySelector('#parcours-chat').shadowRoot.querySelector('.log')).backgroundColor")
    assert background == "rgb(0, 0, 0)"


def test_labels_follow_the_conversations_language(server, page):
    page.goto(f"{server.url}/?lang=en")
    expect(launcher(page)).to_have_text("Any questions?")
    open_widget(page)
    expect(message_box(page)).to_have_attribute("placeholder", "Type your question…")
    say(page, "hello, what are the opening hours of cardiology")
    expect(bubbles(page).last).to_have_text("Hello! Which department?")
    shot(page, "12-desktop-english")
    say(page, "je préfère parler en français s'il vous plaît")
    expect(message_box(page)).to_have_attribute("placeholder", "Écrivez votre question…")
    expect(panel(page).get_by_role("button", name="Agrandir le texte")).to_be_visible()
    expect(panel(page)).to_have_attribute("lang", "fr")


# --- Phone width, tabs, network trouble ----------------------------------------------------------


def test_a_phone_width_screen(server, context_factory):
    page = context_factory(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto(server.url)
    shot(page, "09-phone-home")
    open_widget(page)
    box = panel(page).bounding_box()
    assert box is not None and box["x"] == 0 and box["width"] == 360 and box["height"] == 740
    shot(page, "10-phone-open")
    say(page, "bonjour, quels sont les horaires ?")
    page.get_by_role("button", name="Cardiologie").click()
    expect(bubbles(page).last).to_contain_text("04 72 18 32 10")
    say(page, "j'ai une douleur dans la poitrine")
    expect(page.locator("#parcours-chat a.cta.urgent")).to_be_visible()
    overflow = page.evaluate("""() => {
        const root = document.querySelector('#parcours-chat').shadowRoot;
        return [...root.querySelectorAll('.panel, .log, .composer, .header')]
            .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className);
    }""")
    assert overflow == []  # nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    cta = page.locator("#parcours-chat a.cta.urgent").bounding_box()
    assert cta is not None and cta["height"] >= 44  # a finger-sized target
    shot(page, "11-phone-conversation")


def test_several_tabs_share_the_conversation(server, context_factory):
    context = context_factory()
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(server.url)
        open_widget(tab)
        tab.wait_for_function("window.ParcoursChat.connected")
    assert session_of(first) == session_of(second)
    say(first, "bonjour, quels sont les horaires ?")
    expect(bubbles(second, "in").last).to_have_text("bonjour, quels sont les horaires ?")
    expect(bubbles(second).last).to_have_text("Bonjour ! Pour quel service ?")
    server.push(session_of(first), "Message de l'équipe soignante.")
    for tab in (first, second):
        expect(bubbles(tab).last).to_have_text("Message de l'équipe soignante.")


def test_http_fallback_when_websockets_are_unavailable(server, context_factory):
    context = context_factory()
    context.add_init_script("delete window.WebSocket;")
    page = context.new_page()
    _watch(page)
    chats = []
    page.on("request", lambda request: chats.append(request.url) if request.url.endswith("/api/chat") else None)
    page.goto(server.url)
    open_widget(page)
    say(page, "bonjour, quels sont les horaires ?")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    page.get_by_role("button", name="Cardiologie").click()
    expect(bubbles(page).last).to_contain_text("04 72 18 32 10")
    assert len(chats) == 2
    page.reload()
    expect(bubbles(page, "in")).to_have_text(["bonjour, quels sont les horaires ?", "Cardiologie"])
    assert not page.errors  # type: ignore[attr-defined]


def test_the_widget_reconnects_after_the_connection_drops(server, page):
    sockets = []

    def route(ws):
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws/chat$"), route)
    page.goto(server.url)
    open_widget(page)
    page.wait_for_function("window.ParcoursChat.connected")
    say(page, "bonjour")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")

    sockets[-1].close(code=1012, reason="server restart")
    expect(page.get_by_role("status").filter(has_text="Connexion interrompue")).to_be_visible()
    page.wait_for_function("window.ParcoursChat.connected", timeout=10_000)
    assert len(sockets) == 2
    expect(page.locator("#parcours-chat .status")).to_be_empty()
    server.push(session_of(page), "Toujours là après la reconnexion.")
    expect(bubbles(page).last).to_have_text("Toujours là après la reconnexion.")
    say(page, "on m'a dit d'aller aux urgences")
    expect(page.locator("#parcours-chat .cta-box .place").last).to_contain_text("Urgences adultes")


def test_a_silent_socket_is_replaced_and_the_message_goes_over_http(server, page):
    """A socket that looks open but answers nothing (a proxy dropped it, a laptop woke up)."""
    page.route_web_socket(re.compile(r".*/ws/chat$"), lambda ws: None)  # accepted, then silence
    chats = []
    page.on("request", lambda request: chats.append(request.url) if request.url.endswith("/api/chat") else None)
    page.goto(server.url)
    open_widget(page)
    page.wait_for_function("window.ParcoursChat.connected")
    say(page, "bonjour, quels sont les horaires ?")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?", timeout=15_000)
    assert len(chats) == 1
    expect(bubbles(page, "in")).to_have_count(1)  # sent once, not twice


@pytest.mark.parametrize(("stored", "websocket"), [("chosen", True), ("expired", True), ("chosen", False)])
def test_a_refused_session_is_replaced_by_one_the_server_issues(server, context_factory, stored, websocket):
    """A session id the back office did not issue (or one idle too long) is refused; the widget
    gets a new one, shows a new conversation and the patient's next message is answered."""
    from tests.web.sessions import web_session

    old = "AAAAAAAAAAAAAAAA" if stored == "chosen" else web_session(issued=time.time() - 60 * 86400)
    context = context_factory()
    context.add_init_script(f"""if (!sessionStorage.getItem("seeded")) {{
        sessionStorage.setItem("seeded", "1");
        localStorage.setItem("parcours:" + location.host + "/:session", "{old}");
        localStorage.setItem("parcours:" + location.host + "/:started", "1");
    }}""" + ("" if websocket else "delete window.WebSocket;"))
    page = context.new_page()
    _watch(page)
    page.goto(server.url)
    open_widget(page)
    if websocket:
        page.wait_for_function(f"window.ParcoursChat.connected && window.ParcoursChat.session() !== '{old}'")
    else:
        page.wait_for_function(f"window.ParcoursChat.session() !== '{old}'")
    expect(page.locator("#parcours-chat .welcome")).to_have_count(1)  # the old conversation is gone
    say(page, "bonjour, quels sont les horaires ?")
    expect(bubbles(page).last).to_have_text("Bonjour ! Pour quel service ?")
    session = session_of(page)
    assert session != old and len(session) == 48
    assert httpx.get(f"{server.url}/api/conversations/web/{session}/history").json()["messages"]
    page.reload()
    expect(bubbles(page, "in")).to_have_text(["bonjour, quels sont les horaires ?"])  # the new one survives reloads
    assert not page.errors  # type: ignore[attr-defined]
