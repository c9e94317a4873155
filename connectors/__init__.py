"""Channels: `rasa/` is the engine's side, loaded by Rasa (Python 3.10); `web/`, `telegram/` and
`sms/` are the patient channels, run in the back office, each registering itself with the
outbound path (`bot.messaging.channels`).

Keep this file free of imports: the engine's environment has none of the app's packages.
"""
