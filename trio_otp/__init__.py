"""trio_otp: Erlang/OTP's supervision trees and "let it crash", on Trio's structured concurrency."""

from . import events as events
from ._agent import AgentRef as AgentRef
from ._agent import agent as agent
from ._agent import agent_spec as agent_spec
from ._agent import start_agent as start_agent
from ._application import run_application as run_application
from ._application import serve_application as serve_application
from ._caller import Caller as Caller
from ._channels import ChannelClosed as ChannelClosed
from ._channels import MailboxChannel as MailboxChannel
from ._channels import feed as feed
from ._channels import mailbox_channel as mailbox_channel
from ._child import cleanup_scope as cleanup_scope
from ._child_spec import BRUTAL_KILL as BRUTAL_KILL
from ._child_spec import INFINITY as INFINITY
from ._child_spec import ChildSpec as ChildSpec
from ._child_spec import ChildType as ChildType
from ._child_spec import Restart as Restart
from ._child_spec import ShutdownMode as ShutdownMode
from ._dynamic_supervisor import DynamicChild as DynamicChild
from ._dynamic_supervisor import DynamicSupervisor as DynamicSupervisor
from ._dynamic_supervisor import DynamicSupervisorRef as DynamicSupervisorRef
from ._exceptions import AlreadyRegistered as AlreadyRegistered
from ._exceptions import CallTimeout as CallTimeout
from ._exceptions import ChildAlreadyPresent as ChildAlreadyPresent
from ._exceptions import ChildAlreadyStarted as ChildAlreadyStarted
from ._exceptions import ChildNotFound as ChildNotFound
from ._exceptions import ChildRestarting as ChildRestarting
from ._exceptions import ChildRunning as ChildRunning
from ._exceptions import ChildStartError as ChildStartError
from ._exceptions import InitStopped as InitStopped
from ._exceptions import InitTimeout as InitTimeout
from ._exceptions import Killed as Killed
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import MaxChildrenReached as MaxChildrenReached
from ._exceptions import NameTaken as NameTaken
from ._exceptions import ReplaceStateFailed as ReplaceStateFailed
from ._exceptions import RestartIntensityExceeded as RestartIntensityExceeded
from ._exceptions import ServerError as ServerError
from ._exceptions import ServerExited as ServerExited
from ._exceptions import ServerNotRunning as ServerNotRunning
from ._exceptions import Shutdown as Shutdown
from ._exceptions import SupervisorError as SupervisorError
from ._exceptions import SupervisorNotRunning as SupervisorNotRunning
from ._exceptions import SupervisorTimeout as SupervisorTimeout
from ._exceptions import TaskFailed as TaskFailed
from ._exceptions import TaskTimeout as TaskTimeout
from ._exit_signal import KILL as KILL
from ._exit_signal import ExitMode as ExitMode
from ._exit_signal import exit as exit  # noqa: A004 - OTP's name, as trio_otp.exit
from ._gen_server import NO_REPLY as NO_REPLY
from ._gen_server import Continue as Continue
from ._gen_server import GenServer as GenServer
from ._gen_server import IdleTimeout as IdleTimeout
from ._gen_server import NoReply as NoReply
from ._gen_server import Reply as Reply
from ._gen_server import Stop as Stop
from ._gen_server import Timeout as Timeout
from ._gen_server import serve as serve
from ._gen_server import server_spec as server_spec
from ._gen_server import start_server as start_server
from ._introspection import TreeNode as TreeNode
from ._introspection import format_tree as format_tree
from ._introspection import snapshot as snapshot
from ._introspection import to_dot as to_dot
from ._introspection import to_json as to_json
from ._introspection import to_mermaid as to_mermaid
from ._monitor import Down as Down
from ._monitor import Monitor as Monitor
from ._monitor import monitor as monitor
from ._names import Via as Via
from ._names import whereis as whereis
from ._processes import ProcessInfo as ProcessInfo
from ._processes import processes as processes
from ._registry import Entry as Entry
from ._registry import Keys as Keys
from ._registry import Registry as Registry
from ._registry import RegistryEvent as RegistryEvent
from ._server_ref import DEFAULT_CALL_TIMEOUT as DEFAULT_CALL_TIMEOUT
from ._server_ref import ServerRef as ServerRef
from ._server_ref import call as call
from ._server_ref import cast as cast
from ._server_ref import send as send
from ._supervisor import AutoShutdown as AutoShutdown
from ._supervisor import ChildCounts as ChildCounts
from ._supervisor import ChildInfo as ChildInfo
from ._supervisor import ChildState as ChildState
from ._supervisor import RestartStrategy as RestartStrategy
from ._supervisor import Supervisor as Supervisor
from ._supervisor import SupervisorRef as SupervisorRef
from ._supervisor_api import count_children as count_children
from ._supervisor_api import delete_child as delete_child
from ._supervisor_api import restart_child as restart_child
from ._supervisor_api import start_child as start_child
from ._supervisor_api import terminate_child as terminate_child
from ._supervisor_api import which_children as which_children
from ._sys import ServerStatus as ServerStatus
from ._sys import get_state as get_state
from ._sys import get_status as get_status
from ._sys import replace_state as replace_state
from ._task_supervisor import TaskHandle as TaskHandle
from ._task_supervisor import TaskSupervisor as TaskSupervisor
from ._task_supervisor import TaskSupervisorRef as TaskSupervisorRef
from ._timers import Timer as Timer
from ._timers import send_after as send_after
from ._version import __version__ as __version__

__all__ = [
    "BRUTAL_KILL",
    "DEFAULT_CALL_TIMEOUT",
    "INFINITY",
    "KILL",
    "NO_REPLY",
    "AgentRef",
    "AlreadyRegistered",
    "AutoShutdown",
    "CallTimeout",
    "Caller",
    "ChannelClosed",
    "ChildAlreadyPresent",
    "ChildAlreadyStarted",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFound",
    "ChildRestarting",
    "ChildRunning",
    "ChildSpec",
    "ChildStartError",
    "ChildState",
    "ChildType",
    "Continue",
    "Down",
    "DynamicChild",
    "DynamicSupervisor",
    "DynamicSupervisorRef",
    "Entry",
    "ExitMode",
    "GenServer",
    "IdleTimeout",
    "InitStopped",
    "InitTimeout",
    "Keys",
    "Killed",
    "MailboxChannel",
    "MailboxFull",
    "MaxChildrenReached",
    "Monitor",
    "NameTaken",
    "NoReply",
    "ProcessInfo",
    "Registry",
    "RegistryEvent",
    "ReplaceStateFailed",
    "Reply",
    "Restart",
    "RestartIntensityExceeded",
    "RestartStrategy",
    "ServerError",
    "ServerExited",
    "ServerNotRunning",
    "ServerRef",
    "ServerStatus",
    "Shutdown",
    "ShutdownMode",
    "Stop",
    "Supervisor",
    "SupervisorError",
    "SupervisorNotRunning",
    "SupervisorRef",
    "SupervisorTimeout",
    "TaskFailed",
    "TaskHandle",
    "TaskSupervisor",
    "TaskSupervisorRef",
    "TaskTimeout",
    "Timeout",
    "Timer",
    "TreeNode",
    "Via",
    "__version__",
    "agent",
    "agent_spec",
    "call",
    "cast",
    "cleanup_scope",
    "count_children",
    "delete_child",
    "events",
    "exit",
    "feed",
    "format_tree",
    "get_state",
    "get_status",
    "mailbox_channel",
    "monitor",
    "processes",
    "replace_state",
    "restart_child",
    "run_application",
    "send",
    "send_after",
    "serve",
    "serve_application",
    "server_spec",
    "snapshot",
    "start_agent",
    "start_child",
    "start_server",
    "terminate_child",
    "to_dot",
    "to_json",
    "to_mermaid",
    "whereis",
    "which_children",
]


def _claim_public_module() -> None:
    # Error messages and reprs say trio_otp.ChildSpec, not trio_otp._child_spec.ChildSpec.
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type) and value.__module__.startswith("trio_otp."):
            value.__module__ = "trio_otp"


_claim_public_module()
