"""Parcours back office: the app side of the patient assistant (Python 3.12)."""
