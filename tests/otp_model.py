"""An executable model of OTP's supervisor rules, independent of trio_otp's code.

Read it against ``shared/OTP_SEMANTICS.md``: each method names the section it follows.
Given a tree and a timed schedule of events it predicts the *trace*, the ordered list of
what happens to processes:

* ``("start", path)``: a start function is called (also a start that then fails, or
  returns ``ignore``);
* ``("stop", path)``: a supervisor stops a running child (a worker, or a nested
  supervisor after all its own children);
* ``("escalate", path)``: a supervisor gave up (restart intensity exceeded);
* ``("auto_shutdown", path)``: a supervisor stopped because of significant children.

plus, for runtime API events, ``("api", path, operation, outcome)``.

The two deliberate differences of trio_otp that matter here are modelled as trio_otp
has them: the intensity window is exact (``t' - t <= max_seconds``), and an
auto-shutdown counts as a normal exit for the parent (which treats it exactly like OTP's
``shutdown`` under every restart type).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Literal

import attrs

Path = tuple[str, ...]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
AutoShutdownRule = Literal["never", "any_significant", "all_significant"]
ExitKind = Literal["normal", "shutdown", "crash"]
TraceEvent = tuple[object, ...]


@attrs.frozen
class WorkerSpec:
    id: str
    restart: RestartType = "permanent"
    significant: bool = False
    # How the real worker is stopped. The model ignores it: with workers that stop at
    # once, brutal kill, a budget and infinity must all give the same trace.
    shutdown: Literal["brutal_kill", "budget", "infinity"] = "budget"


@attrs.frozen
class SupSpec:
    id: str
    children: tuple[WorkerSpec | SupSpec, ...]
    strategy: Strategy = "one_for_one"
    max_restarts: int = 1
    max_seconds: float = 5.0
    auto_shutdown: AutoShutdownRule = "never"
    restart: RestartType = "permanent"  # as a child of its parent
    significant: bool = False


ChildSpec = WorkerSpec | SupSpec


@attrs.define(eq=False)
class _Child:
    spec: ChildSpec
    path: Path
    running: bool = False
    restarting: bool = False
    sup: _Sup | None = None  # the running instance, for a supervisor child


class StartFailed(Exception):
    pass


@attrs.define(eq=False)
class _Sup:
    """One running supervisor (§1): its children in start order and restart history."""

    model: Model
    spec: SupSpec
    path: Path
    children: list[_Child] = attrs.field(factory=list)
    restarts: list[float] = attrs.field(factory=list)
    mailbox: deque[_Child] = attrs.field(factory=deque)  # children to retry (§7)
    ended: str | None = None  # "escalate" or "auto_shutdown" once it has ended

    def child(self, child_id: str) -> _Child | None:
        return next((c for c in self.children if c.spec.id == child_id), None)

    # §2: start in order; a failure stops the started ones in reverse and fails init.
    def init(self) -> None:
        self.children = [_Child(spec, (*self.path, spec.id)) for spec in self.spec.children]
        for child in list(self.children):
            try:
                self.start(child)
            except StartFailed:
                self.stop_all()
                raise

    # §2, start_children/2 and §11 start_child: ``ignore`` gives ``{ok, undefined}``, the
    # child kept not running; a temporary child that ignores is removed.
    def start(self, child: _Child) -> bool:
        started = self.model.start(child)
        if not started and child.spec.restart == "temporary" and child in self.children:
            self.children.remove(child)
        return started

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.model.stop(child)

    # §3: what an exit does, by restart type.
    def handle_exit(self, child: _Child, kind: ExitKind) -> None:
        child.running = False
        child.sup = None
        restart = child.spec.restart
        if restart == "permanent" or (restart == "transient" and kind == "crash"):
            self.restart(child)
            return
        if restart == "temporary":
            self.children.remove(child)
        self.auto_shutdown(child)

    # §4 and §6: the intensity check first (exact window), then the strategy.
    def restart(self, child: _Child) -> None:
        now = self.model.now
        self.restarts = [t for t in self.restarts if now - t <= self.spec.max_seconds]
        self.restarts.append(now)
        if len(self.restarts) > self.spec.max_restarts:
            child.restarting = False
            self.end("escalate")
            return
        try:
            self.by_strategy(child)
        except StartFailed as failure:
            failed: _Child = failure.args[0]
            failed.restarting = True
            self.mailbox.append(failed)

    # §5: who stops (reverse start order) and who starts (start order).
    def by_strategy(self, child: _Child) -> None:
        if self.spec.strategy == "one_for_one":
            self.start(child)  # an ignore leaves it stopped: {ok, undefined}
            return
        if self.spec.strategy == "one_for_all":
            group = list(self.children)
        else:
            group = self.children[self.children.index(child) :]
        for member in reversed(group):
            self.model.stop(member)
            if member.spec.restart == "temporary" and member is not child:
                self.children.remove(member)
        for member in group:
            if member in self.children:
                self.start(member)

    # §7: a retry is a new restart decision, only if the child is still restarting.
    def retry(self, child: _Child) -> None:
        if child.restarting and child in self.children:
            self.restart(child)

    # §10
    def auto_shutdown(self, child: _Child) -> None:
        rule = self.spec.auto_shutdown
        if rule == "never" or not child.spec.significant:
            return
        if rule == "all_significant" and any(
            c.spec.significant and (c.running or c.restarting) for c in self.children
        ):
            return
        self.end("auto_shutdown")

    # §8 and §10: stop what is left in reverse order, then exit.
    def end(self, how: str) -> None:
        self.stop_all()
        self.model.trace.append((how, self.path))
        self.ended = how

    # §11
    def terminate_child(self, child_id: str) -> str:
        child = self.child(child_id)
        if child is None:
            return "ChildNotFound"
        self.model.stop(child)
        child.restarting = False
        if child.spec.restart == "temporary":
            self.children.remove(child)
        return "ok"

    def restart_child(self, child_id: str) -> str:
        child = self.child(child_id)
        if child is None:
            return "ChildNotFound"
        if child.running:
            return "ChildRunning"
        if child.restarting:
            return "ChildRestarting"
        try:
            started = self.start(child)
        except StartFailed:
            return "ChildStartError"
        return "ok" if started else "ChildIgnored"


@attrs.define(eq=False)
class Model:
    root_spec: SupSpec
    trace: list[TraceEvent] = attrs.field(factory=list)
    now: float = 0.0
    fail_starts: dict[Path, int] = attrs.field(factory=dict)
    ignore_starts: dict[Path, int] = attrs.field(factory=dict)  # starts that return ignore
    root: _Sup | None = None
    root_outcome: str = "running"  # "running", "start_failed", "escalated", "returned"

    def boot(self) -> None:
        self.trace.append(("start", ("root",)))
        root = _Sup(self, self.root_spec, ("root",))
        try:
            root.init()
        except StartFailed:
            self.root_outcome = "start_failed"
            return
        self.root = root

    # -- starting and stopping one child --

    def start(self, child: _Child) -> bool:
        """Start a child; False if its start returned ``ignore`` (it is not running)."""
        self.trace.append(("start", child.path))
        if isinstance(child.spec, WorkerSpec):
            if self.fail_starts.get(child.path, 0) > 0:
                self.fail_starts[child.path] -= 1
                raise StartFailed(child)
            if self.ignore_starts.get(child.path, 0) > 0:
                self.ignore_starts[child.path] -= 1
                child.running = False
                child.restarting = False
                return False
        else:
            nested = _Sup(self, child.spec, child.path)
            try:
                nested.init()
            except StartFailed:
                raise StartFailed(child) from None
            child.sup = nested
        child.running = True
        child.restarting = False
        return True

    def stop(self, child: _Child) -> None:
        if not child.running:
            return
        if child.sup is not None:
            child.sup.stop_all()
            child.sup = None
        child.running = False
        self.trace.append(("stop", child.path))

    # -- the schedule --

    def supervisors(self) -> Iterator[tuple[_Sup | None, _Sup]]:
        """Every running supervisor with its parent (None for the root)."""
        if self.root is None:
            return
        pending: list[tuple[_Sup | None, _Sup]] = [(None, self.root)]
        while pending:
            parent, sup = pending.pop()
            yield parent, sup
            pending.extend((sup, c.sup) for c in sup.children if c.sup is not None)

    def find_worker(self, path: Path) -> tuple[_Sup, _Child] | None:
        for _, sup in self.supervisors():
            for child in sup.children:
                if child.path == path and child.running and isinstance(child.spec, WorkerSpec):
                    return sup, child
        return None

    def find_sup(self, path: Path) -> _Sup | None:
        return next((sup for _, sup in self.supervisors() if sup.path == path), None)

    def exit(self, path: Path, kind: ExitKind) -> None:
        found = self.find_worker(path)
        if found is None:
            return
        sup, child = found
        sup.handle_exit(child, kind)
        self.settle(sup)

    def api(self, sup_path: Path, operation: str, child_id: str) -> None:
        sup = self.find_sup(sup_path)
        if sup is None:
            outcome = "SupervisorNotRunning"
        elif operation == "terminate_child":
            outcome = sup.terminate_child(child_id)
        else:
            outcome = sup.restart_child(child_id)
        self.trace.append(("api", sup_path, operation, child_id, outcome))
        if sup is not None:
            self.settle(sup)

    def settle(self, sup: _Sup) -> None:
        """Run retries, then carry an ended supervisor's exit up to its parent."""
        while sup.mailbox and not sup.ended:
            sup.retry(sup.mailbox.popleft())
        if sup.ended is None:
            return
        parent, child = self.parent_of(sup)
        if parent is None:
            self.root = None
            self.root_outcome = "escalated" if sup.ended == "escalate" else "returned"
            return
        assert child is not None
        # An escalation is OTP's `shutdown` exit; trio_otp's auto-shutdown is a normal
        # return, which every restart type treats as OTP treats `shutdown`.
        parent.handle_exit(child, "shutdown" if sup.ended == "escalate" else "normal")
        self.settle(parent)

    def parent_of(self, sup: _Sup) -> tuple[_Sup | None, _Child | None]:
        for parent, candidate in self.supervisors():
            if candidate is sup:
                if parent is None:
                    return None, None
                return parent, next(c for c in parent.children if c.sup is sup)
        raise AssertionError("a supervisor that ends is in the tree")

    def shut_down(self) -> None:
        """Cancellation from outside: everything stops in reverse order, nothing restarts."""
        if self.root is not None:
            self.root.stop_all()
            self.trace.append(("stop", self.root.path))
            self.root = None
