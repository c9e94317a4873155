"""Channels. `gateway` is loaded by the Rasa engine (Python 3.10); the others run in the back office.

Keep this file free of imports: the engine's environment has none of the app's packages.
"""
