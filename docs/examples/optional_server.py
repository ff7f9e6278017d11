"""A server that is optional: its init returns Ignore when it is not configured."""

from __future__ import annotations

import functools

import attrs
import trio

import trio_otp


@attrs.define
class Reporter(trio_otp.GenServer[str, str]):
    """Sends reports to an address, if the configuration gives one."""

    address: str | None

    async def init(self) -> type[trio_otp.Ignore] | None:
        if self.address is None:
            return trio_otp.Ignore  # nothing to do here: do not start, and that is fine
        return None

    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return f"sent {request!r} to {self.address}"


def reporter(address: str | None) -> trio_otp.ChildSpec[trio_otp.ServerRef[str, str]]:
    return trio_otp.server_spec("reporter", functools.partial(Reporter, address), name="reporter")


async def main() -> None:
    tree = trio_otp.Supervisor([reporter(None)], name="app")
    async with trio.open_nursery() as nursery:
        app = await nursery.start(tree.run)
        for info in await app.which_children():
            print(info.id, info.state.value, info.ref)  # kept, not running
        print(await app.count_children())
        try:
            await app.restart_child("reporter")  # it still ignores its start
        except trio_otp.ChildIgnored as ignored:
            print("ignored again; spec kept:", ignored.kept)

        # Outside a supervisor, there is nobody to keep it: the start raises.
        try:
            await trio_otp.start_server(nursery, functools.partial(Reporter, None))
        except trio_otp.InitIgnored as error:
            print(error)

        # With an address it starts, under the same supervisor.
        await app.delete_child("reporter")
        await app.start_child(reporter("reports.example"))
        print(await trio_otp.call("reporter", "weekly"))
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
