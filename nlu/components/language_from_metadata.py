"""Turns the language the back office decided on into a `language` entity, which fills the slot.

The back office owns language detection (it keeps the language per conversation and knows that
"ok" or "3" must not switch it). Rasa only needs the result, to pick the response variation:
the gateway channel sends it as message metadata, and this component exposes it as an entity
so that a plain `from_entity` slot mapping keeps the `language` slot current on every turn.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

SUPPORTED = ("fr", "en")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageFromMetadata(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageFromMetadata":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language = _language_of(message)
            if language:
                entity = {
                    "entity": "language",
                    "value": language,
                    "start": 0,
                    "end": 0,
                    "extractor": "LanguageFromMetadata",
                }
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data


def _language_of(message: Message) -> Optional[Text]:
    metadata = message.get("metadata") or {}
    language = metadata.get("language") if isinstance(metadata, dict) else None
    return language if language in SUPPORTED else None
