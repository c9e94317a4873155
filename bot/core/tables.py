"""Every domain's tables, imported once so that the metadata holds them all (Alembic, tests)."""

from bot.conversation import models as conversation_models
from bot.core.models import Base
from bot.hospital import models as hospital_models
from bot.messaging import models as messaging_models

metadata = Base.metadata

__all__ = ["Base", "conversation_models", "hospital_models", "messaging_models", "metadata"]
