"""Review actions that span several jobs."""

from __future__ import annotations

from peregrine.services import pipeline
from peregrine.storage.queries import events as event_q
from peregrine.storage.userdb import UserDB


def undo_action(db: UserDB, *, job_ids: list[int], to_status: str) -> list[pipeline.MoveResult]:
    """Undo one review action, which may have moved many jobs at once.

    Only jobs whose latest move is still the move to ``to_status`` are put back: a job moved
    again since (say on the Pipeline page) keeps its newer status. Each job is undone in its
    own transaction with a conditional update, so a concurrent move makes that one job's undo
    a no-op rather than corrupting it.
    """
    with db.read() as conn:
        targets = []
        for job_id in job_ids:
            event = event_q.last_undoable(conn, job_id=job_id)
            if event is not None and event.to_status == to_status:
                targets.append(job_id)
    results = []
    for job_id in targets:
        try:
            result = pipeline.undo_last(db, job_id=job_id)
        except pipeline.TransitionError:
            continue
        if result is not None:
            results.append(result)
    return results
