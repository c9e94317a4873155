"""Custom NLU components loaded by the Rasa engine (Python 3.10 environment: import only what Rasa has)."""
