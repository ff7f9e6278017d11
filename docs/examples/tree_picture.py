"""Take a snapshot of a live tree and show it as text, JSON, Mermaid and Graphviz DOT."""

from __future__ import annotations

import pathlib

import trio

import trio_otp
from trio_otp.testing import ScriptedWorkers, settle


class Cache(trio_otp.GenServer[str, str]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[str]) -> str:
        return request


def build(workers: ScriptedWorkers) -> trio_otp.Supervisor:
    storage = trio_otp.Supervisor([workers.spec("db"), trio_otp.server_spec("cache", Cache)], name="storage")
    return trio_otp.Supervisor(
        [
            storage.child_spec("storage"),
            trio_otp.DynamicSupervisor().child_spec("sessions"),
            workers.spec("mailer", restart=trio_otp.Restart.TRANSIENT),
            workers.spec("web"),
        ],
        strategy=trio_otp.RestartStrategy.REST_FOR_ONE,
        max_restarts=5,
        name="shop",
    )


async def main() -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        root = await nursery.start(build(workers).run)
        workers.crash("db")  # restarted by storage
        workers.exit_normally("mailer")  # transient, ended normally: stays stopped
        await settle()
        tree = await trio_otp.snapshot(root, id="shop")
        print(trio_otp.format_tree(tree))
        print(trio_otp.to_json(tree, indent=None)[:80], "...")
        print(trio_otp.to_mermaid(tree).splitlines()[1])
        dot = trio_otp.to_dot(tree)
        # The picture in the docs is this DOT, rendered with: dot -Tsvg tree.dot -o tree.svg
        committed = pathlib.Path(__file__).parent.parent / "_static" / "tree.dot"
        assert committed.read_text() == dot, "re-render docs/_static/tree.svg from the new DOT"
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
