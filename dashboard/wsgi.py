"""WSGI entry for production servers: `gunicorn dashboard.wsgi:server` (see `cafcarto serve`).

With CAFCARTO_REDIS_URL, the long jobs (exports, atlas) run on Celery workers started with
`celery -A dashboard.wsgi:celery_app worker`: they import this module, hence the same callbacks.
"""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
server = app.server
# The Celery application when the background manager is Celery's, else None.
celery_app = getattr(app._background_manager, "handle", None) if app.settings.redis_url else None
