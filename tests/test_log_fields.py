"""Log records carry raw values beside the human message: what a JSON log pipeline or
structlog sees of supervisor reports."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from trio.testing import MockClock

import trio_otp
from trio_otp.testing import ScriptedWorkers, settle

# The attributes every LogRecord has; whatever else a record carries came from ``extra``.
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """The usual hand-written JSON formatter: the message and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: value for key, value in vars(record).items() if key not in STANDARD}
        return json.dumps({"message": record.getMessage(), **fields}, default=repr)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("trio_otp")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def records(stream: io.StringIO, report: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line.get("otp_report") == report]


def shop(workers: ScriptedWorkers, *, storage_name: object = "storage") -> trio_otp.Supervisor:
    storage = trio_otp.Supervisor([workers.spec("db"), workers.spec(("shard", 2))], name=storage_name)  # type: ignore[arg-type]
    return trio_otp.Supervisor([storage.child_spec("storage")], name="shop")


async def test_a_crash_report_has_raw_names_path_and_error(
    autojump_clock: MockClock, json_lines: io.StringIO
) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        await nursery.start(shop(workers).run)
        workers.crash("db", ValueError("disk full"))
        await settle()
        nursery.cancel_scope.cancel()
    [crash] = records(json_lines, "child_terminated")
    assert crash["supervisor"] == "'storage'"  # the display string, as before
    assert crash["supervisor_name"] == "storage"
    assert crash["supervisor_path"] == ["shop", "storage"]
    assert crash["child_id"] == "db"
    assert crash["error_type"] == "ValueError"
    assert crash["error_message"] == "disk full"
    assert crash["reason"] == "raised ValueError('disk full')"
    assert "disk full" in crash["message"]
    [restart] = records(json_lines, "child_restarted")
    assert (restart["supervisor_name"], restart["child_id"], restart["error_type"]) == (
        "storage",
        "db",
        "ValueError",
    )


async def test_a_child_id_stays_what_it_is(autojump_clock: MockClock, json_lines: io.StringIO) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        await nursery.start(shop(workers).run)
        workers.crash(("shard", 2), KeyError("k"))
        await settle()
        nursery.cancel_scope.cancel()
    [crash] = records(json_lines, "child_terminated")
    assert crash["child_id"] == ["shard", 2]  # a tuple, as JSON has it: not "('shard', 2)"
    assert (crash["error_type"], crash["error_message"]) == ("KeyError", "'k'")


async def test_unnamed_and_non_string_supervisor_names(
    autojump_clock: MockClock, json_lines: io.StringIO
) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        await nursery.start(shop(workers, storage_name=("storage", 1)).run)
        workers.crash("db")
        await settle()
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([workers.spec("solo")]).run)
        workers.crash("solo")
        await settle()
        nursery.cancel_scope.cancel()
    first, second = records(json_lines, "child_terminated")
    assert first["supervisor_name"] == ["storage", 1]
    assert first["supervisor_path"] == ["shop", "('storage', 1)"]  # path entries are text
    assert second["supervisor_name"] is None
    assert second["supervisor_path"] == [second["supervisor"]]
    assert second["supervisor"].startswith("<unnamed at 0x")


async def test_a_normal_exit_has_no_error_fields(autojump_clock: MockClock, json_lines: io.StringIO) -> None:
    workers = ScriptedWorkers()
    async with trio.open_nursery() as nursery:
        await nursery.start(trio_otp.Supervisor([workers.spec("job")], name="jobs").run)
        workers.exit_normally("job")
        await settle()
        nursery.cancel_scope.cancel()
    [exit_record] = records(json_lines, "child_terminated")
    assert (exit_record["error_type"], exit_record["error_message"]) == (None, None)
    assert exit_record["reason"] == "returned normally"


async def test_an_escalation_names_the_child_and_its_error(
    autojump_clock: MockClock, json_lines: io.StringIO
) -> None:
    workers = ScriptedWorkers()
    tree = trio_otp.Supervisor([workers.spec("db")], name="shop", max_restarts=0)

    async def run_tree() -> None:
        with pytest.raises(trio_otp.RestartIntensityExceeded):
            await tree.run()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_tree)
        await settle()
        workers.crash("db", OSError("gone"))
    [escalation] = records(json_lines, "reached_max_restart_intensity")
    assert (escalation["supervisor_name"], escalation["child_id"]) == ("shop", "db")
    assert (escalation["error_type"], escalation["error_message"]) == ("OSError", "gone")


def test_structlog_renders_the_raw_fields(json_lines: io.StringIO) -> None:
    structlog = pytest.importorskip("structlog")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.ExtraAdder()],
        )
    )
    logger = logging.getLogger("trio_otp")
    logger.addHandler(handler)
    workers = ScriptedWorkers()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(shop(workers).run)
            workers.crash("db", ValueError("disk full"))
            await settle()
            nursery.cancel_scope.cancel()

    try:
        trio.run(main, clock=MockClock(autojump_threshold=0))
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [crash] = [line for line in lines if line.get("otp_report") == "child_terminated"]
    assert crash["level"] == "error"
    assert crash["supervisor_path"] == ["shop", "storage"]
    assert (crash["child_id"], crash["error_type"], crash["error_message"]) == (
        "db",
        "ValueError",
        "disk full",
    )


async def test_an_application_failure_report_has_its_chain(
    autojump_clock: MockClock, json_lines: io.StringIO
) -> None:
    workers = ScriptedWorkers()
    inner = trio_otp.Supervisor([workers.spec("db")], name="storage", max_restarts=0)
    tree = trio_otp.Supervisor([inner.child_spec("storage")], name="shop", max_restarts=0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_otp.serve_application, tree, (2,), io.StringIO())
        await settle()
        workers.crash("db", OSError("gone"))
    [failure] = records(json_lines, "application_failed")
    assert failure["failure_chain"] == [
        {"supervisor": "'shop'", "child_id": "storage"},
        {"supervisor": "'storage'", "child_id": "db"},
    ]
    assert (failure["supervisor"], failure["child_id"]) == ("'shop'", "storage")
    assert (failure["error_type"], failure["error_message"]) == ("OSError", "gone")


class Ledger(trio_otp.GenServer[str, int]):
    async def handle_call(self, request: str, caller: trio_otp.Caller[int]) -> int:
        raise ValueError(f"no account {request}")


async def test_a_server_crash_report_has_raw_name_path_and_error(
    autojump_clock: MockClock, json_lines: io.StringIO
) -> None:
    ledger = trio_otp.server_spec("ledger", Ledger, name=("ledger", 1))
    tree = trio_otp.Supervisor([trio_otp.Supervisor([ledger], name="books").child_spec("books")], name="bank")
    async with trio.open_nursery() as nursery:
        await nursery.start(tree.run)
        with pytest.raises(trio_otp.ServerExited):
            await trio_otp.call(("ledger", 1), "acme")
        await settle()
        nursery.cancel_scope.cancel()
    [crash] = records(json_lines, "server_crash")
    assert crash["server_name"] == ["ledger", 1]  # the name itself, not its repr
    assert crash["supervisor_path"] == ["bank", "books"]
    assert (crash["error_type"], crash["error_message"]) == ("ValueError", "no account acme")
