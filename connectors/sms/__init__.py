"""SMS through Twilio (or the `log` provider): signed webhooks, delivery receipts, numbered options, STOP."""

from bot.messaging.channels import Channel, register_channel
from connectors.sms.channel import CHANNEL, close, deliver, render
from connectors.sms.router import router

register_channel(Channel(name=CHANNEL, deliver=deliver, render=render, router=router, close=close))
