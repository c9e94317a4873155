"""What a long-running process does once it has loaded everything it needs.

The processes load large libraries (spaCy and edsnlp here, TensorFlow in the engine): hundreds of
thousands of objects that live as long as the process. CPython's full garbage collection walks
them all; in the engine one full collection measured 250 ms, a stall every conversation in flight
waits through, and the long tail of `make bench`. Collecting once and freezing what survives
moves those objects out of the collector's sight; what is allocated afterwards is collected as usual.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    gc.collect()
    gc.freeze()
