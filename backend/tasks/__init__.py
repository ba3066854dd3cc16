"""Celery edge: `celery -A backend.tasks worker` / `beat` find the app here as `app` / `celery_app`."""

from backend.tasks.app import celery_app

app = celery_app

__all__ = ["app", "celery_app"]
