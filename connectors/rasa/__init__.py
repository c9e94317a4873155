"""The engine's side: code that runs inside Rasa's own Python 3.10 environment.

The gateway channel, the engine fixes loaded with it, the tracker store and the custom NLU
component. Rasa's environment has none of the app's packages: nothing here may import `bot/` or
another connector, and this package's `__init__` imports nothing.
"""
