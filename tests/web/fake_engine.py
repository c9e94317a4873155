"""A scripted stand-in for the Rasa engine, answering like the gateway does (Rasa-style replies).

Used in-process by the websocket tests and, through `create_test_app`, by the uvicorn server the
browser tests start (uvicorn tests.web.fake_engine:create_test_app --factory).
"""

from __future__ import annotations

from typing import Any

from tests.fakes import FakeEngine

SERVICES = {"cardio": ("Cardiologie", "Cardiology"), "radio": ("Radiologie", "Radiology")}


def _button(language: str, code: str) -> dict[str, str]:
    fr, en = SERVICES[code]
    return {"title": fr if language == "fr" else en, "payload": f'/inform_service{{"service":"{code}"}}'}


def answer(text: str, language: str) -> dict[str, Any]:
    fr = language != "en"
    folded = text.casefold()
    if text.startswith("/emergency") or "poitrine" in folded or "chest" in folded:
        return {
            "text": ("Vos symptômes peuvent être graves. Appelez le 15 maintenant." if fr
                     else "Your symptoms may be serious. Call 15 now."),
            "custom": {"triage": {"level": "emergency_call", "service": None, "red_flags": ["chest_pain"]},
                       "call": {"number": "15", "label": "Appeler le 15" if fr else "Call 15"}},
        }
    if text.startswith("/inform_service") and "cardio" in text:
        return {"text": ("Cardiologie : bâtiment B, 2e étage, du lundi au vendredi de 8 h 30 à 18 h. "
                         "Téléphone : 04 72 18 32 10. Plus d'informations : https://example.org/cardiologie."
                         if fr else
                         "Cardiology: building B, 2nd floor, Monday to Friday 8:30 am to 6 pm. "
                         "Phone: 04 72 18 32 10. More: https://example.org/cardiology.")}
    if text.startswith("/inform_service"):
        return {"text": "Radiologie : bâtiment A, 1er étage." if fr else "Radiology: building A, 1st floor."}
    if "urgences" in folded or "emergency department" in folded:
        return {
            "text": "Allez aux urgences de l'hôpital." if fr else "Go to the hospital's emergency department.",
            "custom": {"triage": {"level": "emergency_department", "service": "emergency", "red_flags": [],
                                  "place": {"name": "Urgences adultes", "address": "12 avenue des Tilleuls"}},
                       "call": {"number": "15", "label": "Appeler le 15" if fr else "Call 15"}},
        }
    if "<" in text or "javascript:" in folded:
        return {"text": f"Vous avez écrit : {text}" if fr else f"You wrote: {text}"}
    if "horaire" in folded or "hours" in folded or "bonjour" in folded or "hello" in folded:
        return {"text": "Bonjour ! Pour quel service ?" if fr else "Hello! Which department?",
                "buttons": [_button(language, "cardio"), _button(language, "radio")]}
    return {"text": (f"Je peux vous renseigner sur les horaires, l'accès et les visites. ({text[:40]})" if fr
                     else f"I can help with opening hours, directions and visits. ({text[:40]})")}


class ScriptedEngine(FakeEngine):
    def reply(self, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return answer(text, metadata.get("language", "fr"))


def create_test_app():
    """The back office with the scripted engine in place of Rasa (for the browser tests' server)."""
    from bot.conversation import engine
    from bot.main import create_app

    engine.send_to_engine = ScriptedEngine().send
    return create_app()
