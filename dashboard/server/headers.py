"""Security headers of every response: Content-Security-Policy with a per-request nonce,
nosniff, referrer policy, and framing allowed only for the /embed page.

The app loads everything from its own origin (Dash bundles, /assets/, /vendor/ MapLibre and
Bootstrap); Dash inlines its config and a renderer start-up script, which get the nonce.
MapLibre builds its tile workers from blob: URLs and draws images from data:/blob: URLs.
Inline styles stay allowed: React, Plotly and MapLibre set style attributes and <style> rules.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request

EMBED_PATH = "/embed"
EMBED_DEFAULTS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
DEFAULTS = (*EMBED_DEFAULTS, ("X-Frame-Options", "DENY"))
_SCRIPT_WITHOUT_SRC = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)")


def csp_nonce() -> str:
    """The nonce of the current request (created on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def add_nonce(html: str, nonce: str) -> str:
    """Give every inline <script> of a page the request's nonce."""
    return _SCRIPT_WITHOUT_SRC.sub(f'<script nonce="{nonce}"', html)


def content_security_policy(nonce: str, embeddable: bool) -> str:
    ancestors = "*" if embeddable else "'none'"
    directives = (
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    )
    return "; ".join(directives)


def is_embed_path(path: str, prefix: str = "/") -> bool:
    return path.rstrip("/") == prefix.rstrip("/") + EMBED_PATH


def init_app(server: Flask) -> None:
    """Add the headers to every response of `server`."""
    server.after_request(add_security_headers)


def add_security_headers(resp: Response) -> Response:
    """The after_request hook."""
    embeddable = is_embed_path(request.path)
    # Added unless the route set its own; one pass over the names (werkzeug's setdefault
    # raises and catches an exception for each name absent: most answers have none of them).
    present = {name.lower() for name, _ in resp.headers}
    for name, value in EMBED_DEFAULTS if embeddable else DEFAULTS:
        if name.lower() not in present:
            resp.headers.add(name, value)
    # A document is what a CSP protects; JSON, scripts and images need none, and a CSP on
    # the MapLibre worker script would become the worker's own policy.
    if resp.mimetype == "text/html":
        resp.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), embeddable)
    return resp
