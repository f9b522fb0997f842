"""The test suite's own machinery: the xdist groups that keep each expensive shared fixture
(a whole `junheng run`, the Spark JVM, a module's warehouse) built once, and where its
temporary directories live."""

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


def test_temporary_directories_are_where_the_conftest_put_them(request, tmp_path):
    """tests/conftest.py puts the tests' temporary directories on a tmpfs with room
    (/dev/shm: no fsync behind every SQLite commit of a run's Dagster instance), through
    pytest's PYTEST_DEBUG_TEMPROOT; under xdist each worker's come from the controller's."""
    import os
    from pathlib import Path

    root = os.environ.get("PYTEST_DEBUG_TEMPROOT")
    worker = getattr(request.config, "workerinput", None)   # a worker's --basetemp is given
    argv = worker["mainargv"] if worker else request.config.invocation_params.args
    if not root or any(str(a).startswith("--basetemp") for a in argv):
        pytest.skip("no temporary root chosen, or an explicit --basetemp")
    assert tmp_path.resolve().is_relative_to(Path(root).resolve()), (tmp_path, root)
