"""Telegram, with python-telegram-bot: the signed webhook (or polling), inline keyboards, one message per item."""

from bot.messaging.channels import Channel, register_channel
from connectors.telegram.channel import CHANNEL, close, deliver, render
from connectors.telegram.router import router

register_channel(Channel(name=CHANNEL, deliver=deliver, render=render, router=router, close=close))
