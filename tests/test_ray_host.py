"""The actor host that trio_otp.ray runs in each Ray worker, without Ray: its watch call
(how the supervisor learns that the actor ended itself) and end_actor's timing."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import pytest

from trio_otp.ray import _host, end_actor


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting
        self.terminated = False

    def greet(self, name: str) -> str:
        return f"{self.greeting}, {name}"

    def leave(self) -> str:
        end_actor()
        return "bye"

    def terminate(self) -> None:
        self.terminated = True


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def test_calls_reach_the_users_object() -> None:
    host = _host.ActorHost(Greeter, ("hello",), {})
    assert host.call("greet", ("Ray",)) == "hello, Ray"


def test_end_actor_ends_the_watch_only_once_its_method_has_returned(
    pool: concurrent.futures.ThreadPoolExecutor,
) -> None:
    host = _host.ActorHost(Greeter, ("hello",), {})
    watch = pool.submit(host.watch)
    assert host.call("leave", ()) == "bye"
    assert watch.result(timeout=10) == _host.NORMAL


def test_a_new_watch_releases_the_old_one(pool: concurrent.futures.ThreadPoolExecutor) -> None:
    host = _host.ActorHost(Greeter, ("hello",), {})
    first = pool.submit(host.watch)
    while host._watches == 0:
        pass  # until the first watch waits (a few microseconds)
    second = pool.submit(host.watch)
    assert first.result(timeout=10) == _host.SUPERSEDED
    host.stop()
    assert second.result(timeout=10) == _host.STOPPED
    assert host._instance.terminated


def test_end_actor_outside_a_supervised_actor_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_host, "_current", None)
    with pytest.raises(RuntimeError, match="must be called in a method of an actor that trio_otp supervises"):
        end_actor()
