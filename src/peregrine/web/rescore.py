"""Re-score jobs after the inputs of scoring (the résumé, the keywords) change."""

from __future__ import annotations

import logging

from fastapi import Request

from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskError

log = logging.getLogger(__name__)


def submit_rescore(request: Request, db: UserDB) -> bool:
    """Queue one ``score`` task (an active one is reused); True when it is queued.

    The user's save has already been committed, so a queue that refuses only means scores
    stay stale until the next run: it is logged, never turned into a failed save.
    """
    queue = getattr(request.app.state, "tasks", None)
    if queue is None:
        return False
    try:
        queue.submit(db, kind="score")
    except TaskError as exc:
        log.warning("re-scoring was not queued: %s", exc)
        return False
    return True
