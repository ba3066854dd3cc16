"""Celery app, beat schedule and thin task wrappers over the domain services."""
