"""`Server-Timing: cpu;dur=<ms>` on every answer, when CAFCARTO_SERVER_TIMING=1 (the load bench
sets it): the CPU the request's thread spent in the app, so that the bench can say the CPU per
request by route. Off by default: the header tells a visitor how long each route computes.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g

ENV = "CAFCARTO_SERVER_TIMING"


def enabled() -> bool:
    return os.environ.get(ENV, "") == "1"


def _start() -> None:
    g.cpu_start = time.thread_time()


def _stamp(resp: Response) -> Response:
    start = g.get("cpu_start")
    if start is not None:
        ms = (time.thread_time() - start) * 1000
        resp.headers.add("Server-Timing", f"cpu;dur={ms:.2f}")
    return resp


def init_app(server: Flask) -> None:
    """Register the hooks when enabled; the after_request one runs last (after compression)."""
    if not enabled():
        return
    server.before_request_funcs.setdefault(None, []).insert(0, _start)
    server.after_request_funcs.setdefault(None, []).insert(0, _stamp)
