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
from ._child_spec import Ignore as Ignore
from ._child_spec import Restart as Restart
from ._child_spec import ShutdownMode as ShutdownMode
from ._context import ContextCarrier as ContextCarrier
from ._context import propagate_context as propagate_context
from ._dynamic_supervisor import DynamicChild as DynamicChild
from ._dynamic_supervisor import DynamicSupervisor as DynamicSupervisor
from ._dynamic_supervisor import DynamicSupervisorRef as DynamicSupervisorRef
from ._exceptions import AlreadyRegistered as AlreadyRegistered
from ._exceptions import CallTimeout as CallTimeout
from ._exceptions import ChildAlreadyPresent as ChildAlreadyPresent
from ._exceptions import ChildAlreadyStarted as ChildAlreadyStarted
from ._exceptions import ChildIgnored as ChildIgnored
from ._exceptions import ChildNotFound as ChildNotFound
from ._exceptions import ChildRestarting as ChildRestarting
from ._exceptions import ChildRunning as ChildRunning
from ._exceptions import ChildStartError as ChildStartError
from ._exceptions import InitIgnored as InitIgnored
from ._exceptions import InitStopped as InitStopped
from ._exceptions import InitTimeout as InitTimeout
from ._exceptions import JobTimeout as JobTimeout
from ._exceptions import Killed as Killed
from ._exceptions import MailboxFull as MailboxFull
from ._exceptions import MaxChildrenReached as MaxChildrenReached
from ._exceptions import NameTaken as NameTaken
from ._exceptions import OsProcessExited as OsProcessExited
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
from ._exceptions import WorkerCrashed as WorkerCrashed
from ._exceptions import WorkerPoolNotRunning as WorkerPoolNotRunning
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
from ._group_calls import abcast as abcast
from ._group_calls import multi_call as multi_call
from ._introspection import TreeNode as TreeNode
from ._introspection import format_tree as format_tree
from ._introspection import snapshot as snapshot
from ._introspection import to_dot as to_dot
from ._introspection import to_json as to_json
from ._introspection import to_mermaid as to_mermaid
from ._monitor import Down as Down
from ._monitor import Monitor as Monitor
from ._monitor import monitor as monitor
from ._names import Partition as Partition
from ._names import Via as Via
from ._names import whereis as whereis
from ._observer import ObserverEndpoint as ObserverEndpoint
from ._os_process import OsProcessRef as OsProcessRef
from ._os_process import ReadyAtExec as ReadyAtExec
from ._os_process import ReadyOnConnect as ReadyOnConnect
from ._os_process import ReadyOnNotification as ReadyOnNotification
from ._os_process import ReadyOnOutput as ReadyOnOutput
from ._os_process import os_process_spec as os_process_spec
from ._partition_supervisor import PartitionSupervisor as PartitionSupervisor
from ._processes import ProcessInfo as ProcessInfo
from ._processes import processes as processes
from ._registry import Entry as Entry
from ._registry import Keys as Keys
from ._registry import Registry as Registry
from ._registry import RegistryEvent as RegistryEvent
from ._requests import RequestId as RequestId
from ._requests import RequestIdCollection as RequestIdCollection
from ._server_ref import DEFAULT_CALL_TIMEOUT as DEFAULT_CALL_TIMEOUT
from ._server_ref import ServerRef as ServerRef
from ._server_ref import call as call
from ._server_ref import cast as cast
from ._server_ref import current_server as current_server
from ._server_ref import send as send
from ._server_ref import send_request as send_request
from ._state_machine import StateMachine as StateMachine
from ._state_machine import serve_state_machine as serve_state_machine
from ._state_machine import start_state_machine as start_state_machine
from ._state_machine import state_machine_spec as state_machine_spec
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
from ._task_outcome import TaskExit as TaskExit
from ._task_outcome import TaskOk as TaskOk
from ._task_supervisor import TaskHandle as TaskHandle
from ._task_supervisor import TaskSupervisor as TaskSupervisor
from ._task_supervisor import TaskSupervisorRef as TaskSupervisorRef
from ._task_supervisor import await_many as await_many
from ._task_supervisor import yield_many as yield_many
from ._timers import Timer as Timer
from ._timers import send_after as send_after
from ._timers import send_interval as send_interval
from ._transitions import Action as Action
from ._transitions import CallEvent as CallEvent
from ._transitions import CastEvent as CastEvent
from ._transitions import EnterEvent as EnterEvent
from ._transitions import Event as Event
from ._transitions import EventTimeout as EventTimeout
from ._transitions import EventTimeoutEvent as EventTimeoutEvent
from ._transitions import GenericTimeout as GenericTimeout
from ._transitions import GenericTimeoutEvent as GenericTimeoutEvent
from ._transitions import InfoEvent as InfoEvent
from ._transitions import InternalEvent as InternalEvent
from ._transitions import KeepState as KeepState
from ._transitions import NextEvent as NextEvent
from ._transitions import NextState as NextState
from ._transitions import Postpone as Postpone
from ._transitions import RepeatState as RepeatState
from ._transitions import ReplyTo as ReplyTo
from ._transitions import StateTimeout as StateTimeout
from ._transitions import StateTimeoutEvent as StateTimeoutEvent
from ._transitions import StopMachine as StopMachine
from ._transitions import Transition as Transition
from ._version import __version__ as __version__
from ._worker_pool import WorkerPool as WorkerPool
from ._worker_pool import WorkerPoolRef as WorkerPoolRef

__all__ = [
    "BRUTAL_KILL",
    "DEFAULT_CALL_TIMEOUT",
    "INFINITY",
    "KILL",
    "NO_REPLY",
    "Action",
    "AgentRef",
    "AlreadyRegistered",
    "AutoShutdown",
    "CallEvent",
    "CallTimeout",
    "Caller",
    "CastEvent",
    "ChannelClosed",
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
    "ContextCarrier",
    "Continue",
    "Down",
    "DynamicChild",
    "DynamicSupervisor",
    "DynamicSupervisorRef",
    "EnterEvent",
    "Entry",
    "Event",
    "EventTimeout",
    "EventTimeoutEvent",
    "ExitMode",
    "GenServer",
    "GenericTimeout",
    "GenericTimeoutEvent",
    "IdleTimeout",
    "Ignore",
    "InfoEvent",
    "InitIgnored",
    "InitStopped",
    "InitTimeout",
    "InternalEvent",
    "JobTimeout",
    "KeepState",
    "Keys",
    "Killed",
    "MailboxChannel",
    "MailboxFull",
    "MaxChildrenReached",
    "Monitor",
    "NameTaken",
    "NextEvent",
    "NextState",
    "NoReply",
    "ObserverEndpoint",
    "OsProcessExited",
    "OsProcessRef",
    "Partition",
    "PartitionSupervisor",
    "Postpone",
    "ProcessInfo",
    "ReadyAtExec",
    "ReadyOnConnect",
    "ReadyOnNotification",
    "ReadyOnOutput",
    "Registry",
    "RegistryEvent",
    "RepeatState",
    "ReplaceStateFailed",
    "Reply",
    "ReplyTo",
    "RequestId",
    "RequestIdCollection",
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
    "StateMachine",
    "StateTimeout",
    "StateTimeoutEvent",
    "Stop",
    "StopMachine",
    "Supervisor",
    "SupervisorError",
    "SupervisorNotRunning",
    "SupervisorRef",
    "SupervisorTimeout",
    "TaskExit",
    "TaskFailed",
    "TaskHandle",
    "TaskOk",
    "TaskSupervisor",
    "TaskSupervisorRef",
    "TaskTimeout",
    "Timeout",
    "Timer",
    "Transition",
    "TreeNode",
    "Via",
    "WorkerCrashed",
    "WorkerPool",
    "WorkerPoolNotRunning",
    "WorkerPoolRef",
    "__version__",
    "abcast",
    "agent",
    "agent_spec",
    "await_many",
    "call",
    "cast",
    "cleanup_scope",
    "count_children",
    "current_server",
    "delete_child",
    "events",
    "exit",
    "feed",
    "format_tree",
    "get_state",
    "get_status",
    "mailbox_channel",
    "monitor",
    "multi_call",
    "os_process_spec",
    "processes",
    "propagate_context",
    "replace_state",
    "restart_child",
    "run_application",
    "send",
    "send_after",
    "send_interval",
    "send_request",
    "serve",
    "serve_application",
    "serve_state_machine",
    "server_spec",
    "snapshot",
    "start_agent",
    "start_child",
    "start_server",
    "start_state_machine",
    "state_machine_spec",
    "terminate_child",
    "to_dot",
    "to_json",
    "to_mermaid",
    "whereis",
    "which_children",
    "yield_many",
]


def _claim_public_module() -> None:
    # Error messages and reprs say trio_otp.ChildSpec, not trio_otp._child_spec.ChildSpec.
    for name in __all__:
        value = globals()[name]
        if isinstance(value, type) and value.__module__.startswith("trio_otp."):
            value.__module__ = "trio_otp"


_claim_public_module()
