"""The job statuses, in pipeline order: the one list every layer shares.

It lives in ``lib`` because the platform layer (telemetry's closed value sets) must not
import ``services``, and the API's parameter type needs it too; the rules for moving between
statuses stay in ``services/pipeline.py``.
"""

from __future__ import annotations

STATUSES: tuple[str, ...] = (
    "pending",
    "approved",
    "dismissed",
    "archived",
    "applied",
    "survey",
    "phone_screen",
    "interviewing",
    "offer",
    "hired",
    "declined",
    "rejected",
    "withdrawn",
)
