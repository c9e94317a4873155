"""The web chat on the hospital's site: the widget, its web socket and the history (see README.md here)."""

from bot.messaging.channels import Channel, register_channel
from connectors.web.channel import CHANNEL, hub
from connectors.web.router import router

register_channel(Channel(name=CHANNEL, deliver=hub.deliver, router=router))
