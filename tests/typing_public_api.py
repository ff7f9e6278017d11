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
