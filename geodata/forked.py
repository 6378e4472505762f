"""A function run in a forked child process while the parent goes on with other work.

`cafcarto build` cuts the web geometry and the vector tiles in a child while it generates and
protects the demonstration store: the two are independent once the GeoParquet is written, and
each leaves a core idle for long stretches (single-threaded simplification, writing, reading).
A fork, not a thread: the store's secrecy forks its own worker processes, which must not
inherit a thread caught halfway through GEOS or a write; and not a spawned process, whose
arguments would be pickled (the levels' geometries take seconds to pickle, a fork shares them).
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable
from typing import Generic, TypeVar

from layers import progress

T = TypeVar("T")


class ForkedDied(RuntimeError):
    """The child ended without an answer (killed, or out of memory)."""


class Forked(Generic[T]):
    """`fn(*args)` started at once in a forked child; `result()` waits for its value, or raises
    the exception it raised."""

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        ctx = multiprocessing.get_context("fork")
        self._answer, send = ctx.Pipe(duplex=False)
        self._child = ctx.Process(target=_run, args=(send, fn, args), name=fn.__name__)
        self._child.start()
        send.close()  # the child holds the only writing end: its death ends the pipe

    def result(self) -> T:
        try:
            kind, value = self._answer.recv()
        except EOFError:
            self._child.join()
            raise ForkedDied(
                f"le processus « {self._child.name} » s'est arrêté sans répondre "
                f"(code {self._child.exitcode})"
            ) from None
        finally:
            self._answer.close()
        self._child.join()
        if kind == "erreur":
            raise value
        return value

    def stop(self) -> None:
        """End the child (the parent failed: its work would be thrown away)."""
        if self._child.is_alive():
            self._child.terminate()
        self._child.join()
        self._answer.close()


def _run(send, fn: Callable[..., T], args: tuple) -> None:
    progress.lines_only()  # the parent's bar holds the terminal's last line
    try:
        answer: tuple[str, object] = ("ok", fn(*args))
    except BaseException as exc:  # every failure goes back to the parent
        answer = ("erreur", exc)
    try:
        send.send(answer)
    except (pickle.PicklingError, TypeError, AttributeError):
        send.send(("erreur", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
    finally:
        send.close()
