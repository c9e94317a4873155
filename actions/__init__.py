"""Rasa custom actions, served by rasa-sdk in the app environment.

Thin adapters: read the tracker, call a service in bot/, translate the result into responses
and slot events. No SQL and no business rule here.
"""
