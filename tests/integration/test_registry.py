"""The LRU of open user-database handles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from peregrine.storage.registry import HandleRegistry
from peregrine.storage.userdb import StorageError, UserDB


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _opener(tmp_path: Path, name: str, opened: list[str]) -> UserDB:
    opened.append(name)
    return UserDB.open(tmp_path / f"{name}.db", create=True)


def test_it_opens_once_and_reuses_the_handle(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=4, idle_seconds=60)
    opened: list[str] = []
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", opened)) as first:
        pass
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", opened)) as second:
        assert second is first
    assert opened == ["alice"]
    registry.close_all()


def test_it_closes_the_least_recently_used_handle_beyond_its_bound(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=2, idle_seconds=60)
    opened: list[str] = []
    handles = {}
    for name in ("alice", "bob", "alice", "carol"):
        with registry.lease(name, lambda n=name: _opener(tmp_path, n, opened)) as db:
            handles[name] = db
    assert len(registry) == 2
    assert handles["bob"].closed
    assert not handles["alice"].closed
    assert opened == ["alice", "bob", "carol"]
    registry.close_all()
    assert handles["alice"].closed
    assert handles["carol"].closed


def test_a_leased_handle_is_not_closed_under_the_request(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=1, idle_seconds=60)
    alice = registry.acquire("alice", lambda: _opener(tmp_path, "alice", []))
    with registry.lease("bob", lambda: _opener(tmp_path, "bob", [])):
        pass  # evicts alice from the LRU while her request still runs
    assert alice.execute("SELECT 1")[0][0] == 1
    assert not alice.closed
    registry.release("alice", alice)
    assert alice.closed
    registry.close_all()


def test_idle_handles_are_closed_by_a_sweep(tmp_path: Path) -> None:
    clock = Clock()
    registry = HandleRegistry(max_open=10, idle_seconds=300, clock=clock)
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", [])) as alice:
        pass
    clock.now += 299
    assert registry.sweep() == 0
    clock.now += 2
    assert registry.sweep() == 1
    assert alice.closed
    with pytest.raises(StorageError):
        alice.execute("SELECT 1")


def test_close_user_closes_that_users_handle_only(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=10, idle_seconds=300)
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", [])) as alice:
        pass
    with registry.lease("bob", lambda: _opener(tmp_path, "bob", [])) as bob:
        pass
    registry.close_user("alice")
    assert alice.closed
    assert not bob.closed
    registry.close_all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_handles(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=10, idle_seconds=300)
    opened: list[str] = []
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", opened)) as parent_db:
        pass
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's handle
        code = 1
        try:
            with registry.lease("alice", lambda: _opener(tmp_path, "alice", opened)) as db:
                code = 0 if db is not parent_db and opened == ["alice", "alice"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not parent_db.closed
    registry.close_all()


def test_a_background_lease_survives_eviction_until_it_ends(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=1, idle_seconds=60)
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", [])) as alice:
        for name in ("bob", "carol"):
            with registry.lease(name, lambda n=name: _opener(tmp_path, n, [])):
                pass
        with alice.write() as conn:  # still usable: the lease holds it open
            conn.execute("CREATE TABLE t (x)")
    assert alice.closed
    registry.close_all()


def test_simultaneous_first_requests_open_one_handle(tmp_path: Path) -> None:
    import threading
    import time

    registry = HandleRegistry(max_open=4, idle_seconds=60)
    opened: list[str] = []

    def slow_open() -> UserDB:
        time.sleep(0.05)
        return _opener(tmp_path, "alice", opened)

    barrier = threading.Barrier(20)
    got: list[UserDB] = []

    def request() -> None:
        barrier.wait()
        got.append(registry.acquire("alice", slow_open))

    threads = [threading.Thread(target=request) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert opened == ["alice"]
    assert len({id(db) for db in got}) == 1
    for db in got:
        registry.release("alice", db)
    registry.close_all()


def test_it_says_whether_a_users_handle_is_borrowed_even_after_eviction(tmp_path: Path) -> None:
    registry = HandleRegistry(max_open=1, idle_seconds=60)
    opened: list[str] = []
    assert not registry.in_use("alice")
    with registry.lease("alice", lambda: _opener(tmp_path, "alice", opened)) as alice:
        assert registry.in_use("alice")
        # Bob's open evicts alice's entry; her borrowed handle is retired, not closed.
        with registry.lease("bob", lambda: _opener(tmp_path, "bob", opened)):
            assert registry.in_use("alice")
            assert registry.in_use("bob")
        assert not alice.closed
    assert alice.closed
    assert not registry.in_use("alice")
    assert not registry.in_use("bob")
    registry.close_all()
