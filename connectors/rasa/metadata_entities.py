"""Turns what the back office decided about a message into entities, which fill their slots.

The back office owns language detection (it keeps the language per conversation and knows that
"ok" or "3" must not switch it) and knows how long replies may be on the patient's channel
(`short` on SMS). Rasa only needs the results, to pick response variations: the gateway channel
sends them as message metadata, and this component exposes them as `language` and `reply_style`
entities so that plain `from_entity` slot mappings keep those slots current on every turn.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

# entity -> the values the domain's slot accepts
ALLOWED = {"language": ("fr", "en"), "reply_style": ("full", "short")}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class MetadataEntities(GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MetadataEntities":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = [
                {"entity": name, "value": value, "start": 0, "end": 0, "extractor": "MetadataEntities"}
                for name, value in _metadata_values(message)
            ]
            if found:
                message.set(ENTITIES, [*message.get(ENTITIES, []), *found], add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data


def _metadata_values(message: Message) -> List[Tuple[Text, Text]]:
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, dict):
        return []
    return [(name, metadata[name]) for name, allowed in ALLOWED.items() if metadata.get(name) in allowed]
