"""Task handlers for the model-backed kinds: ``cover_letter``, ``research`` and ``prep``.

They close over the app's router, so the app factory registers them in its own registry.
"""

from __future__ import annotations

from typing import Any

from peregrine.llm.router import LLMRouter
from peregrine.services import cover_letters, prep, research
from peregrine.settings import Settings
from peregrine.tasks.model import TaskContext, TaskError
from peregrine.tasks.registry import Registry


def _job_id(ctx: TaskContext) -> int:
    if ctx.job_id is None:
        raise TaskError("this task needs a job_id")
    return ctx.job_id


def register_llm_handlers(registry: Registry, router: LLMRouter, settings: Settings) -> None:
    def cover_letter(ctx: TaskContext) -> dict[str, Any]:
        words = ctx.params.get("target_words") or cover_letters.DEFAULT_TARGET_WORDS
        if isinstance(words, bool) or not isinstance(words, int):
            raise TaskError("target_words must be a whole number of words")
        salutation = ctx.params.get("salutation")
        if salutation is not None and (not isinstance(salutation, str) or len(salutation) > 120):
            raise TaskError("salutation must be text of at most 120 characters")
        options = cover_letters.LetterOptions(target_words=words, salutation=salutation or None)

        def progress(stage: str, share: float) -> None:
            ctx.check()
            ctx.report(stage, share)

        letter = cover_letters.generate(
            ctx.db,
            router,
            job_id=_job_id(ctx),
            feedback=str(ctx.params.get("feedback") or ""),
            options=options,
            progress=progress,
        )
        return {
            "version": letter.version,
            "origin": letter.origin,
            "backend": letter.backend,
            "words": len(letter.body.split()),
        }

    def research_task(ctx: TaskContext) -> dict[str, Any]:
        def progress(stage: str, share: float) -> None:
            ctx.check()
            ctx.report(stage, share)

        return research.research_company(
            ctx.db,
            router,
            job_id=_job_id(ctx),
            searxng_url=settings.searxng_url,
            progress=progress,
        )

    def prep_task(ctx: TaskContext) -> dict[str, Any]:
        def progress(stage: str, share: float) -> None:
            ctx.check()
            ctx.report(stage, share)

        return prep.prepare(ctx.db, router, job_id=_job_id(ctx), progress=progress)

    registry.register("cover_letter", cover_letter)
    registry.register("research", research_task)
    registry.register("prep", prep_task)
