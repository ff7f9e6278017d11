"""Types a user's checker should infer from the public API: checked by mypy (``nox -s
typecheck``), never run. A wrong inference here is a failure of the typecheck session."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import trio_otp


async def replies_keep_their_type(ref: trio_otp.ServerRef[str, int]) -> None:
    assert_type(await ref.call("x"), int)
    assert_type(await trio_otp.call(ref, "x"), int)
    assert_type(await trio_otp.call("a name", "x"), Any)


class Counter(trio_otp.GenServer[str, int]):
    total = 0


def doubled(state: Counter) -> Counter:
    state.total *= 2
    return state


async def looking_inside(ref: trio_otp.ServerRef[str, int]) -> None:
    assert_type(await trio_otp.replace_state(ref, doubled), Counter)
    assert_type(await trio_otp.replace_state("a name", doubled), Counter)
    assert_type(await trio_otp.get_state(ref), Any)
    assert_type(trio_otp.get_status(ref), trio_otp.ServerStatus)
    assert_type(trio_otp.processes(), list[trio_otp.ProcessInfo])
