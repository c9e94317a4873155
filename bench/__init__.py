"""`make bench`: speed and memory of the running stack, against the stock `rasa init` assistant."""
