"""The public API, pinned: adding or removing a name is a deliberate act."""

from __future__ import annotations

import ast
import inspect
import pathlib
import re
import subprocess
import sys

import trio_otp
import trio_otp.observer

PUBLIC = {
    "ChannelClosed",
    "MailboxChannel",
    "feed",
    "mailbox_channel",
    "KILL",
    "ExitMode",
    "Killed",
    "SupervisorTimeout",
    "exit",
    "start_child",
    "terminate_child",
    "restart_child",
    "delete_child",
    "which_children",
    "count_children",
    "run_application",
    "serve_application",
    "ObserverEndpoint",
    "propagate_context",
    "ContextCarrier",
    "snapshot",
    "get_state",
    "replace_state",
    "get_status",
    "ServerStatus",
    "processes",
    "ProcessInfo",
    "ReplaceStateFailed",
    "TreeNode",
    "format_tree",
    "to_json",
    "to_dot",
    "to_mermaid",
    "events",
    "TaskSupervisor",
    "TaskSupervisorRef",
    "TaskHandle",
    "TaskFailed",
    "TaskTimeout",
    "TaskOk",
    "TaskExit",
    "await_many",
    "yield_many",
    "AgentRef",
    "agent",
    "agent_spec",
    "start_agent",
    "monitor",
    "Monitor",
    "Down",
    "send_after",
    "send_interval",
    "Timer",
    "IdleTimeout",
    "Registry",
    "Keys",
    "Entry",
    "RegistryEvent",
    "Via",
    "Partition",
    "PartitionSupervisor",
    "AlreadyRegistered",
    "call",
    "cast",
    "send",
    "DynamicSupervisor",
    "DynamicSupervisorRef",
    "DynamicChild",
    "MaxChildrenReached",
    "CallTimeout",
    "Ignore",
    "InitIgnored",
    "InitStopped",
    "InitTimeout",
    "MailboxFull",
    "NameTaken",
    "ServerError",
    "ServerExited",
    "ServerNotRunning",
    "DEFAULT_CALL_TIMEOUT",
    "NO_REPLY",
    "Caller",
    "Continue",
    "GenServer",
    "NoReply",
    "Reply",
    "ServerRef",
    "Stop",
    "Timeout",
    "serve",
    "server_spec",
    "start_server",
    "whereis",
    "BRUTAL_KILL",
    "INFINITY",
    "AutoShutdown",
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildCounts",
    "ChildIgnored",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildStartError",
    "ChildState",
    "ChildType",
    "Restart",
    "RestartIntensityExceeded",
    "RestartStrategy",
    "Shutdown",
    "ShutdownMode",
    "Supervisor",
    "SupervisorError",
    "SupervisorNotRunning",
    "SupervisorRef",
    "__version__",
    "cleanup_scope",
    "WorkerPool",
    "WorkerPoolRef",
    "WorkerCrashed",
    "WorkerPoolNotRunning",
    "JobTimeout",
    # Supervised OS programs (ports).
    "os_process_spec",
    "OsProcessRef",
    "OsProcessExited",
    "ReadyAtExec",
    "ReadyOnOutput",
    "ReadyOnConnect",
    "ReadyOnNotification",
    "StateMachine",
    "serve_state_machine",
    "start_state_machine",
    "state_machine_spec",
    "Action",
    "CallEvent",
    "CastEvent",
    "EnterEvent",
    "Event",
    "EventTimeout",
    "EventTimeoutEvent",
    "GenericTimeout",
    "GenericTimeoutEvent",
    "InfoEvent",
    "InternalEvent",
    "KeepState",
    "NextEvent",
    "NextState",
    "Postpone",
    "RepeatState",
    "ReplyTo",
    "StateTimeout",
    "StateTimeoutEvent",
    "StopMachine",
    "Transition",
    # Asynchronous requests, and calls to a Registry group.
    "RequestId",
    "RequestIdCollection",
    "send_request",
    "current_server",
    "multi_call",
    "abcast",
}


def test_public_names() -> None:
    assert set(trio_otp.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(trio_otp, name), name


def test_public_classes_claim_the_public_module() -> None:
    for name in PUBLIC:
        value = getattr(trio_otp, name)
        if isinstance(value, type):
            assert value.__module__ == "trio_otp", name


def test_package_is_typed() -> None:
    assert (pathlib.Path(trio_otp.__file__).parent / "py.typed").exists()


# Modules whose tests drive real processes of Ray, which run on real time.
REAL_TIME_MODULES = {"test_ray.py", "test_ray_cluster.py"}


def test_every_async_test_runs_on_virtual_time() -> None:
    for path in pathlib.Path(__file__).parent.glob("test_*.py"):
        if path.name in REAL_TIME_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_"):
                params = [arg.arg for arg in node.args.args]
                assert "autojump_clock" in params, f"{path.name}::{node.name}"


def test_the_events_module() -> None:
    assert set(trio_otp.events.__all__) == {"Attachment", "Event", "attach"}
    assert trio_otp.events.Attachment.__module__ == "trio_otp.events"
    assert trio_otp.events.Event.__module__ == "trio_otp.events"


def test_the_observer_subpackage_needs_no_extra() -> None:
    code = (
        "import sys, trio_otp.observer; print(sorted(trio_otp.observer.__all__)); "
        "assert 'textual' not in sys.modules and 'rich' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(
        ["ObserverRequestFailed", "fetch_snapshot", "fetch_status", "run_terminal_view"]
    )
    assert trio_otp.observer.ObserverRequestFailed.__module__ == "trio_otp.observer"


def test_the_otel_subpackage_imports_opentelemetry_only_when_used() -> None:
    code = (
        "import sys, trio_otp.otel; print(trio_otp.otel.__all__); "
        "assert not any(m.startswith('opentelemetry') for m in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['context_carrier', 'instrument']"


def test_trio_otp_imports_no_optional_integration() -> None:
    code = "import sys, trio_otp; print(sorted(m for m in sys.modules if m.startswith('trio_otp.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "trio_otp.observer" not in done.stdout
    assert "trio_otp.otel" not in done.stdout


def test_the_pytest_plugin_module() -> None:
    import trio_otp.pytest_plugin  # noqa: PLC0415 - opt-in, so not imported by trio_otp

    assert set(trio_otp.pytest_plugin.__all__) == {
        "TreeStarter",
        "captured_events",
        "exit_child",
        "settle",
        "start_tree",
    }


def test_the_ray_module_and_that_nothing_imports_it() -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import trio_otp.ray  # noqa: PLC0415 - an optional extra, so not imported by trio_otp

    assert set(trio_otp.ray.__all__) == {
        "ActorClient",
        "ActorRef",
        "ActorStartTimeout",
        "actor_spec",
        "end_actor",
        "wait_object_ref",
    }
    for name in ("ActorClient", "ActorRef", "ActorStartTimeout"):
        assert getattr(trio_otp.ray, name).__module__ == "trio_otp.ray"
    # Neither trio_otp nor trio_otp.ray imports Ray (nor trio_otp.ray, for trio_otp).
    check = "import sys, trio_otp, trio_otp.ray; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True)
    check = "import sys, trio_otp; assert 'trio_otp.ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], check=True)


def test_public_signatures_name_no_private_class() -> None:
    # A private class in a public annotation leaks into the reference, into
    # pyright --verifytypes and into users' hovers.
    private = re.compile(r"(?<![\w.])_[A-Z]\w*")
    leaks = []
    for name in PUBLIC:
        value = getattr(trio_otp, name)
        if inspect.isfunction(value):
            leaks += [
                f"{name} {part}: {annotation}"
                for part, annotation in value.__annotations__.items()
                if private.search(str(annotation))
            ]
    assert not leaks
