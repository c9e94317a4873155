"""The web chat on the hospital's site: the widget, its web socket and the history (see README.md here)."""

from bot.conversation.router import register_sender_check
from bot.messaging.channels import Channel, register_channel
from connectors.web.channel import CHANNEL, hub, session_problem
from connectors.web.router import router

register_channel(Channel(name=CHANNEL, deliver=hub.deliver, router=router))
register_sender_check(CHANNEL, session_problem)  # POST /api/chat takes only the sessions issued here
