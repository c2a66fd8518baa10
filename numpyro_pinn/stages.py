"""Stage bookkeeping for a run: wall-clock budgets, and Ctrl-C that says where it stopped.

Every iterative stage of a run (mode search, SMC, EM, skew fit, training) has an iteration bound;
the long ones also run in host-side blocks of jitted work, between which they check a
:class:`Deadline`, let Python see Ctrl-C (XLA does not interrupt a running computation, so a
stage is only as prompt as its blocks are short) and :func:`report` their progress to the line
that :func:`progress` shows.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import time
from typing import Iterator, NamedTuple, Optional

__all__ = ["Deadline", "stage", "StageInterrupted", "progress", "report"]

_LINE: contextvars.ContextVar = contextvars.ContextVar("numpyro_pinn_progress_line", default=None)


class StageInterrupted(KeyboardInterrupt):
    """Ctrl-C during a stage of a run; the message names the stage and its elapsed time."""


class Deadline(NamedTuple):
    """A wall-clock budget started at ``start`` (``time.perf_counter``) of ``seconds`` (``None`` or
    ``inf``: no limit)."""

    start: float
    seconds: float

    @classmethod
    def after(cls, seconds: Optional[float], name: str = "max_seconds") -> "Deadline":
        """A budget of ``seconds`` from now; ``name`` is the argument a bad value is reported as."""
        ok = isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0
        if seconds is not None and not ok:
            raise ValueError(f"`{name}`, a time budget, must be a number of seconds >= 0 or None; got {seconds!r}.")
        return cls(time.perf_counter(), math.inf if seconds is None else float(seconds))

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def passed(self) -> bool:
        return self.elapsed() > self.seconds


@contextlib.contextmanager
def stage(name: str, advice: str = "") -> Iterator[Deadline]:
    """Run a stage: a ``KeyboardInterrupt`` inside it becomes a :class:`StageInterrupted` whose
    message names ``name`` and the seconds spent, followed by ``advice``."""
    clock = Deadline.after(None)
    try:
        yield clock
    except StageInterrupted:
        raise
    except KeyboardInterrupt:
        raise StageInterrupted(f"Interrupted (Ctrl-C) during {name}, after {clock.elapsed():.1f} s. {advice}".strip()) \
            from None


@contextlib.contextmanager
def progress(name: str, enabled: bool = True) -> Iterator[None]:
    """Show a progress line for a stage while it runs (``enabled``): a tqdm line with the elapsed
    time and what the stage's loops :func:`report` between their blocks; it stays on screen when
    the stage ends, with the stage's time."""
    if not enabled:
        yield
        return
    from tqdm.auto import tqdm

    line = tqdm(desc=name, total=None, bar_format="{desc}: {elapsed}{postfix}", leave=True)
    token = _LINE.set(line)
    try:
        yield
    finally:
        _LINE.reset(token)
        line.close()


def report(**fields) -> None:
    """Show ``fields`` (e.g. ``tempering="0.31"``) on the current stage's progress line, and
    refresh its clock; nothing when no line is shown."""
    line = _LINE.get()
    if line is not None:
        line.set_postfix(fields, refresh=True)
