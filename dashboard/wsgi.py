"""WSGI entry for production servers: `gunicorn dashboard.wsgi:server` (see `cafcarto serve`)."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
