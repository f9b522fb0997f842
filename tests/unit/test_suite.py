"""The test suite's own machinery: the xdist groups that keep each expensive shared fixture
(a whole `junheng run`, the Spark JVM, a module's warehouse) built once."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("suite-check")
def test_xdist_groups_reach_the_scheduler(request):
    """Under `make test` (-n 2 --dist loadgroup) a grouped test's node id carries its group:
    that is how xdist keeps the group on one worker. pytest 9.2 with pytest-xdist 3.8 drops
    it silently (pytest-xdist#1386), and every session run is then built twice."""
    if not getattr(request.config, "workerinput", None):
        pytest.skip("not under xdist: nothing is distributed")
    if not request.config.getvalue("loadgroup"):
        pytest.skip("not --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-check"), request.node.nodeid
