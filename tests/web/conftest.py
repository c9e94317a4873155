from __future__ import annotations

import pytest

from connectors.web.limits import reads


@pytest.fixture(autouse=True)
def fresh_read_limits():
    """The limits on history reads count per process: each test starts with its own budget."""
    reads.reset()
    yield
    reads.reset()
