"""Interview prep: practice Q&A, answers to application questions in the user's voice, and a
draft reply to the last recruiter e-mail, all stored per job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peregrine.lib.clock import now_iso
from peregrine.llm.router import LLMRouter
from peregrine.services.grounding import (
    NEVER_INVENT_RULES,
    mask_nda,
    parse_experiences,
    relevant_experiences,
    truncate_words,
)
from peregrine.services.model_json import extract_json
from peregrine.storage.queries import answers as answer_q
from peregrine.storage.queries import contacts as contact_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

PRACTICE_QUESTIONS = 6


class PrepError(ValueError):
    """Prep cannot be done or its answer cannot be read; nothing was saved."""


def _qa_list(text: str) -> list[dict[str, str]]:
    data = extract_json(text, opening="[")
    out: list[dict[str, str]] = []
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and str(item.get("question", "")).strip():
                out.append(
                    {
                        "question": str(item["question"]).strip(),
                        "answer": str(item.get("answer", "")).strip(),
                    }
                )
    return out


def prepare(
    db: UserDB,
    router: LLMRouter,
    *,
    job_id: int,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    report = progress or (lambda _stage, _progress: None)
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        if job is None:
            raise PrepError(f"job {job_id} does not exist")
        profile = profile_q.get_profile(conn)
        resume = profile_q.current_resume(conn)
        research = prep_q.get_research(conn, job_id=job_id)
        questions = [q for q in answer_q.list_for_job(conn, job_id=job_id) if not q.answer]
        message = contact_q.last_inbound_message(conn, job_id=job_id)
    description, _ = truncate_words(job.description, 800)
    experiences = parse_experiences(resume.structured) if resume else []
    chosen = relevant_experiences(experiences, f"{job.title}\n{description}")
    voice = profile.voice.strip() or "plain, warm and specific"
    context = (
        f"## Job\n{job.title} at {job.company or 'the company'}\n{description}\n\n"
        "## The candidate's experience\n"
        + ("\n".join(e.render() for e in chosen) or "(no résumé yet)")
        + (f"\n\n## Candidate summary\n{profile.summary}" if profile.summary else "")
    )
    nda = profile.nda_companies

    def ask(instruction: str, stage: str, share: float) -> str:
        report(stage, share)
        prompt = mask_nda(f"{instruction}\n\n{context}", nda)
        answer = router.complete(db, purpose="writing", prompt=prompt, system=NEVER_INVENT_RULES)
        return mask_nda(answer.text.strip(), nda)

    qa = _qa_list(
        ask(
            f"Write {PRACTICE_QUESTIONS} likely interview questions for this job with a model "
            "answer for each, drawn only from the candidate's real experience, in their voice "
            f"({voice}). Answer with a JSON list of objects with keys question and answer.",
            "practice questions",
            0.2,
        )
    )
    if not qa:
        raise PrepError(
            "the model's answer could not be read as interview questions; nothing was saved. "
            "Try again or choose another backend."
        )
    answers: dict[int, str] = {}
    for index, question in enumerate(questions[:10]):
        text = ask(
            f"Answer this application question in the candidate's voice ({voice}), in at most "
            f"150 words, using only their real experience. Reply with the answer only.\n"
            f"Question: {question.question}",
            "application questions",
            0.4 + 0.3 * index / max(1, len(questions)),
        )
        if text:
            answers[question.id] = text
    reply = ""
    if message:
        body, _ = truncate_words(message.body, 600)
        reply = ask(
            f"Draft a short, friendly reply in the candidate's voice ({voice}) to this e-mail "
            f"from the recruiter. Do not agree to anything on their behalf that needs a "
            f"decision; propose next steps.\nSubject: {message.subject}\n\n{body}",
            "recruiter reply",
            0.8,
        )
    talking = ""
    if research and research.brief.get("talking_points"):
        talking = research.brief["talking_points"]
    report("saving", 0.95)
    now = now_iso()
    with db.write() as conn:
        prep_q.merge_generated_prep(
            conn,
            job_id=job_id,
            talking_points=talking,
            practice_qa=qa,
            recruiter_reply=reply,
            now=now,
        )
        for answer_id, text in answers.items():
            answer_q.set_answer(conn, answer_id=answer_id, answer=text, now=now)
    return {"questions": len(qa), "answers": len(answers), "reply": bool(reply)}
