"""The rest of a Celery chain, handed from a fanned-out step's first message to the message that finishes it.

A step that fans out ends its first message with a retry (the poll) while its batches run, and the last
batch to finish wakes the step at once with a message of its own (`scale.wake`). Either the wake or a
poll may be the one that finishes the step, so the rest of the chain (`pipeline enqueue`'s prices ->
features -> predictions -> signals) cannot ride on one of them, or it would wait for the poll or run
twice. The first message parks it in Redis under the step's task id; every later message of that task
that ends normally takes it, and taking is atomic (GET and DEL in one MULTI), so exactly one of them sends
the next step, as Celery's tracer would have. A step that failed keeps its chain parked (a failed step
stops a chain); the key expires. Steps queued on their own (beat's schedule) have no chain: nothing parked.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import redis
from celery import Task, signature
from kombu.utils.json import dumps, loads

from backend.core.settings import get_settings
from backend.tasks.app import celery_app

log = logging.getLogger(__name__)
# Longer than any step may take (the hard time limit plus the waits): a parked chain is taken long before.
PARKED_SECONDS = 24 * 3600


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def client() -> redis.Redis:
    """A client of the broker's Redis (connection pool per URL and process)."""
    return _client(get_settings().redis_url)


def key(kind: str, task_id: str) -> str:
    # Under the queue's prefix, like the broker's own keys: one deployment's (or test's) keys together.
    return f"{get_settings().tasks.queue}:{kind}:{task_id}"


def park(task: Task) -> None:
    """Move the rest of `task`'s chain to Redis, so neither this message nor its retries continue it."""
    rest = task.request.chain
    if not rest:
        return
    client().set(key("chain", task.request.id), dumps(rest), ex=PARKED_SECONDS)
    task.request.chain = None


def resume(task: Task, retval: Any) -> bool:
    """Send the next step of the chain `park` left for `task`'s id, if no other message took it first."""
    name = key("chain", task.request.id)
    with client().pipeline(transaction=True) as pipe:  # MULTI: GET and DEL as one (GETDEL needs 6.2)
        pipe.get(name)
        pipe.delete(name)
        parked, _ = pipe.execute()
    if parked is None:
        return False
    rest = loads(parked)
    following = signature(rest[-1], app=celery_app)
    # As Celery's tracer does for a finished task: the next signature, carrying the rest of the chain.
    following.apply_async(
        (retval,),
        chain=rest[:-1] or None,
        parent_id=task.request.id,
        root_id=task.request.root_id or task.request.id,
    )
    log.info("%s: chain continues with %s", task.request.id, following.task)
    return True


def first(kind: str, task_id: str) -> bool:
    """True for the first caller per (kind, task id) within a day: a one-time action among racing workers."""
    return bool(client().set(key(kind, task_id), 1, nx=True, ex=PARKED_SECONDS))
