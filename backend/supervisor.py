"""What `market-structure up` runs its processes with: starts named children, reaps and restarts
each one that dies (with a growing delay when it keeps dying), stops them all at the end.

The private Redis is a child like the others, restarted with the same command (same port, same
data directory, whose append-only file brings the queue back); it is stopped after the others,
so a worker that hands its run back on SIGTERM can still reach it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

# Seconds before a restart: the first after a child dies, then longer each time it dies again
# within STABLE_SECONDS of being restarted (a port taken, a full disk, a crash at start).
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0
POLL_SECONDS = 0.5


@dataclass
class Child:
    label: str
    command: list[str]
    process: subprocess.Popen[bytes]
    started: float
    stop_last: bool = False
    backoff: int = 0  # index into RESTART_DELAYS
    restart_at: float | None = None


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"exit {code}, {signal.Signals(-code).name}"
    return f"exit {code}"


class Supervisor:
    def __init__(
        self,
        env: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.env = env
        self.clock = clock
        self.say = say or (lambda text: print(f"[market-structure] {text}", flush=True))
        self.children: dict[str, Child] = {}
        self.stopping = False

    def start(
        self,
        name: str,
        command: list[str],
        *,
        label: str | None = None,
        stop_last: bool = False,
    ) -> subprocess.Popen[bytes]:
        child = Child(label or name, command, self._spawn(command), self.clock(), stop_last)
        self.children[name] = child
        return child.process

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        # Own process group, so stopping reaches the children's children (dramatiq's workers),
        # and a Ctrl-C in the terminal reaches only `up`, which stops everything in order.
        return subprocess.Popen(command, env=self.env, start_new_session=True)

    def check(self) -> None:
        """Reap every child that exited and restart it once its delay has passed."""
        now = self.clock()
        for child in self.children.values():
            if self.stopping:
                return
            if child.restart_at is None:
                code = child.process.poll()  # reaps it: no zombie is left behind
                if code is None:
                    continue
                if now - child.started >= STABLE_SECONDS:
                    child.backoff = 0
                delay = RESTART_DELAYS[child.backoff]
                child.backoff = min(child.backoff + 1, len(RESTART_DELAYS) - 1)
                child.restart_at = now + delay
                how = describe_exit(code)
                self.say(f"{child.label} stopped ({how}); restarting in {delay:g} s.")
            elif now >= child.restart_at:
                child.process = self._spawn(child.command)
                child.started, child.restart_at = now, None
                self.say(f"{child.label} restarted (pid {child.process.pid}).")

    def watch(self) -> None:
        while not self.stopping:
            self.check()
            time.sleep(POLL_SECONDS)

    def stop_all(self, timeout: float = 15.0) -> None:
        self.stopping = True
        first = [c.process for c in self.children.values() if not c.stop_last]
        last = [c.process for c in self.children.values() if c.stop_last]
        for group in (first, last):
            _stop(group, timeout)


def _stop(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
