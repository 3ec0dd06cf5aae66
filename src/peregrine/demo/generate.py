"""Fill an empty database with the demo job search, deterministically.

The same ``today`` always yields the same rows (a seeded ``random.Random``, no clock, no
network), so a reset gives every visitor exactly the demo the docs describe. Dates are
relative to ``today`` so the demo never looks stale.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from peregrine.demo import content
from peregrine.demo import store as demo_q
from peregrine.services import pipeline
from peregrine.storage.queries import events as event_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q

DEMO_MARKER_KEY = "demo_seed"
DEMO_SEED_VERSION = 1
_RNG_SEED = 20261127

# The path each job took through the pipeline, ending in its current status. Every status
# appears, with the realistic funnel shape: many to review, few offers.
_PATHS: tuple[tuple[str, ...], ...] = (
    *[()] * 10,  # pending
    *[("approved",)] * 4,
    *[("dismissed",)] * 3,
    *[("archived",)] * 2,
    *[("approved", "applied")] * 5,
    *[("approved", "applied", "survey")] * 2,
    *[("approved", "applied", "phone_screen")] * 3,
    *[("approved", "applied", "phone_screen", "interviewing")] * 3,
    ("approved", "applied", "phone_screen", "interviewing", "offer"),
    ("approved", "applied", "interviewing", "offer"),
    ("approved", "applied", "phone_screen", "interviewing", "offer", "hired"),
    ("approved", "applied", "phone_screen", "interviewing", "offer", "declined"),
    ("approved", "applied", "rejected"),
    ("approved", "applied", "phone_screen", "rejected"),
    ("approved", "applied", "phone_screen", "interviewing", "rejected"),
    ("approved", "applied", "survey", "withdrawn"),
)

_NOTES = {
    "applied": "Applied through the careers page; referral from a former colleague.",
    "phone_screen": "Recruiter was friendly; asked about notice period (four weeks).",
    "interviewing": "Panel next: system design + a pairing session on their ETL code.",
    "offer": "Offer is verbal so far; waiting for the written version before negotiating.",
    "hired": "Accepted! Start date in five weeks.",
    "declined": "Declined: on-site five days a week was not workable.",
    "rejected": "They went with someone who had more Spark experience.",
    "withdrawn": "Withdrew after the survey: the role turned out to be mostly ad reporting.",
}


@dataclass(frozen=True)
class SeedSummary:
    jobs: int
    statuses: dict[str, int]


def _stamp(day: date, hour: int = 10, minute: int = 0) -> str:
    moment = datetime.combine(day, time(hour, minute), tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _person(rng: random.Random, domain: str) -> tuple[str, str]:
    first = rng.choice(content.PEOPLE_FIRST)
    last = rng.choice(content.PEOPLE_LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}@{domain}.example"


def _skills_for(rng: random.Random, low_fit: bool) -> tuple[list[str], list[str], list[str]]:
    own = list(content.KEYWORDS["skill"])
    wanted_own = rng.sample(own, k=2 if low_fit else rng.randint(4, 7))
    wanted_extra = rng.sample(
        content.EXTRA_SKILLS, k=rng.randint(2, 4) if low_fit else rng.randint(0, 3)
    )
    wanted = wanted_own + wanted_extra
    return wanted, wanted_own, wanted_extra


def _description(company: content.Company, title: str, wanted: list[str]) -> str:
    return (
        f"{company.name} builds {company.pitch}. We are hiring a {title} to help our "
        f"small team move faster without breaking the data our customers rely on.\n\n"
        "What you will do:\n"
        "- Design and run the pipelines and services behind our product.\n"
        "- Own reliability: alerts that mean something, runbooks, blameless reviews.\n"
        "- Work with product and domain experts to decide what to build next.\n\n"
        f"What we look for: {', '.join(wanted)}. Curiosity matters more than a checklist.\n"
    )


def _letter(company: content.Company, title: str, version: int) -> str:
    opening = (
        f"Dear {company.name} team,\n\n"
        f"I'd like to join you as {title}. Your work on {company.pitch} is the kind of "
        "problem I enjoy: data that has to be right, and people who depend on it."
    )
    middle = (
        "At Harbor Freight Analytics I rebuilt nightly batch jobs as streaming pipelines "
        "and cut data latency from 14 hours to 4 minutes; at Tidewater Learning I built the "
        "grading API that 1,200 schools use."
    )
    if version > 1:
        middle += (
            " I also mentored four engineers and introduced the on-call runbooks we still "
            "use, which I'd bring to your team from the first month."
        )
    return f"{opening}\n\n{middle}\n\nBest regards,\n{content.SEEKER_NAME}"


def fill(conn: Any, *, today: date) -> SeedSummary:
    """Write the whole demo into an empty, migrated database inside one transaction."""
    rng = random.Random(_RNG_SEED)  # noqa: S311 - repeatable fiction, not security
    start = today - timedelta(days=60)
    now = _stamp(today - timedelta(days=1), 18)

    profile_q.save_profile(conn, profile=profile_q.Profile(**content.PROFILE), now=now)  # type: ignore[arg-type]
    resume_version = profile_q.add_resume(
        conn,
        structured=content.RESUME,
        raw_text=content.RESUME_TEXT,
        filename="mara-lindqvist-resume.pdf",
        now=_stamp(start),
    )
    profile_q.replace_keywords(conn, entries=content.KEYWORDS)
    profile_q.replace_blocklist(conn, entries=content.BLOCKLIST)
    profile_q.replace_search_profiles(
        conn,
        profiles=[profile_q.SearchProfile(**sp) for sp in content.SEARCH_PROFILES],  # type: ignore[arg-type]
        now=_stamp(start),
    )
    profile_q.add_past_letter(
        conn, title="Letter to Tidewater Learning (2018)", body=content.PAST_LETTER, now=now
    )
    pref_q.set_preference(conn, key="follow_up_days", value=7)

    # The two companies the seeker would never work for land in the dismissed slots.
    unwanted = [c for c in content.COMPANIES if c.industry in {"gambling", "ad tech"}]
    others = [c for c in content.COMPANIES if c not in unwanted]
    first_dismissed = _PATHS.index(("dismissed",))
    ordered = others[:first_dismissed] + unwanted + others[first_dismissed:]

    statuses: dict[str, int] = {}
    for index, (company, path) in enumerate(zip(ordered, _PATHS, strict=True)):
        final = path[-1] if path else "pending"
        statuses[final] = statuses.get(final, 0) + 1
        _add_job(conn, rng, index, company, path, today, resume_version)

    pref_q.set_preference(
        conn,
        key=DEMO_MARKER_KEY,
        value={"version": DEMO_SEED_VERSION, "seeded_for": today.isoformat()},
    )
    return SeedSummary(jobs=len(_PATHS), statuses=statuses)


def _add_job(
    conn: Any,
    rng: random.Random,
    index: int,
    company: content.Company,
    path: tuple[str, ...],
    today: date,
    resume_version: int,
) -> None:
    low_fit = company.industry in {"gambling", "ad tech"} or path in {("dismissed",)}
    title = content.TITLES[index % len(content.TITLES)]
    wanted, matched, missing = _skills_for(rng, low_fit)
    # Later stages were found earlier, so their history fits before today.
    age = 3 + index % 6 if not path else 8 + 7 * len(path) + rng.randint(0, 5)
    found = today - timedelta(days=age)
    salary = None if index % 5 == 3 else rng.choice([120, 135, 145, 155, 170]) * 1000
    url = f"https://jobs.{company.domain}.example/openings/{1000 + index}"
    job = job_q.NewJob(
        title=title,
        url=url,
        company=company.name,
        location=company.city,
        work_mode="remote"
        if company.city.startswith("Remote")
        else rng.choice(["hybrid", "onsite"]),
        source=rng.choice(["manual", "board", "feed"]),
        description=_description(company, title, wanted),
        salary_text=f"${salary // 1000}k–${(salary + 25000) // 1000}k" if salary else "",
        salary_min=float(salary) if salary else None,
        salary_max=float(salary + 25000) if salary else None,
        salary_currency="USD" if salary else None,
        salary_interval="year" if salary else None,
        salary_annual_min=float(salary) if salary else None,
        salary_annual_max=float(salary + 25000) if salary else None,
        date_posted=(found - timedelta(days=rng.randint(0, 4))).isoformat(),
    )
    found_at = _stamp(found, 8, index % 60)
    job_q.upsert_jobs(conn, jobs=[job], now=found_at)
    job_id = job_q.find_job_id_by_url(conn, url=url)
    assert job_id is not None
    event_q.record_event(
        conn, job_id=job_id, from_status=None, to_status="pending", at=found_at, kind="create"
    )

    fit = len(matched) / max(len(wanted), 1)
    mission = company.industry in content.PROFILE["mission_causes"]
    score = round(min(98.0, 25 + 60 * fit + (8 if mission else 0) + rng.uniform(-4, 4)), 1)
    if low_fit:
        score = round(min(score, 35 + rng.uniform(0, 10)), 1)
    explanation = {
        "score": score,
        "summary": (
            f"Strong overlap on {', '.join(matched[:3])}"
            + (f"; missing {', '.join(missing[:2])}." if missing else "; no gaps found.")
        ),
        "matched_skills": matched,
        "missing_skills": missing,
        "preferred_matched": (["remote"] if company.city.startswith("Remote") else [])
        + (["climate"] if company.industry == "climate" else []),
        "excluded_found": [company.industry] if company.industry in {"gambling", "ad tech"} else [],
        "components": {
            "skills": round(fit, 2),
            "title": 0.9 if "Data" in title or "Backend" in title else 0.6,
            "location": 1.0 if company.city.startswith(("Remote", "Portland")) else 0.4,
            "salary": None if salary is None else round(min(1.0, salary / 140000), 2),
            "mission": 1.0 if mission else 0.0,
        },
    }
    job_q.set_score(
        conn, job_id=job_id, score=score, explanation=explanation, gaps=missing, now=found_at
    )
    if salary is None:
        job_q.set_flags(conn, job_id=job_id, flags=["salary_unknown"], applied_match_id=None)

    step = max(1, (age - 1) // (len(path) + 1))
    moment = found
    applied_on: date | None = None
    for number, status in enumerate(path, start=1):
        moment = found + timedelta(days=step * number)
        note = "" if status in {"approved", "applied"} else _NOTES.get(status, "")
        pipeline.move_in(
            conn, job_id=job_id, to_status=status, note=note, now=_stamp(moment, 9 + number)
        )
        if status == "applied":
            applied_on = moment
    final = path[-1] if path else "pending"
    _add_details(conn, rng, job_id, company, title, final, found, applied_on, today, resume_version)


def _add_details(
    conn: Any,
    rng: random.Random,
    job_id: int,
    company: content.Company,
    title: str,
    final: str,
    found: date,
    applied_on: date | None,
    today: date,
    resume_version: int,
) -> None:
    interview_at = None
    if final == "interviewing":
        interview_at = datetime.combine(
            today + timedelta(days=2 + job_id % 5), time(10 + job_id % 4, 30)
        ).isoformat()
    demo_q.set_job_details(
        conn,
        job_id=job_id,
        notes=_NOTES.get(final, ""),
        interview_at=interview_at,
        interview_tz="America/Los_Angeles" if interview_at else None,
    )
    if final in {"pending", "dismissed", "archived"}:
        return

    # Letters: a generated draft, and for applications a refined second version.
    written = _stamp(found + timedelta(days=1), 20)
    demo_q.add_cover_letter(
        conn,
        job_id=job_id,
        version=1,
        body=_letter(company, title, 1),
        feedback="",
        origin="generated",
        backend="demo",
        now=written,
    )
    if applied_on is None:
        return
    body = _letter(company, title, 2)
    demo_q.add_cover_letter(
        conn,
        job_id=job_id,
        version=2,
        body=body,
        feedback="Mention mentoring and the on-call runbooks.",
        origin="refined",
        backend="demo",
        now=_stamp(applied_on, 8),
    )
    demo_q.add_application_snapshot(
        conn,
        job_id=job_id,
        letter_version=2,
        letter_body=body,
        resume_version=resume_version,
        at=_stamp(applied_on, 11),
    )

    recruiter, recruiter_mail = _person(rng, company.domain)
    contact_id = demo_q.add_contact(
        conn,
        job_id=job_id,
        name=recruiter,
        role="Recruiter",
        email=recruiter_mail,
        notes="Prefers e-mail; answers within a day.",
        now=_stamp(applied_on, 12),
    )
    demo_q.add_message(
        conn,
        job_id=job_id,
        contact_id=None,
        direction="out",
        channel="email",
        subject=f"Application: {title}",
        body=f"Hello, I have applied for the {title} role and attached my résumé. — Mara",
        at=_stamp(applied_on, 11, 5),
    )
    if final == "applied":
        return
    demo_q.add_message(
        conn,
        job_id=job_id,
        contact_id=contact_id,
        direction="in",
        channel="email",
        subject=f"Re: Application: {title}",
        body=(
            f"Hi Mara, thanks for applying to {company.name}! I'd love to set up a short "
            f"call this week. — {recruiter.split()[0]}"
        ),
        at=_stamp(applied_on + timedelta(days=2), 15),
    )
    if final in {"survey", "withdrawn"}:
        demo_q.add_survey_response(
            conn,
            job_id=job_id,
            question="Why are you interested in this role?",
            answer=f"I want my data work to serve {company.industry}, and {company.pitch} does.",
            now=_stamp(applied_on + timedelta(days=3), 9),
        )

    manager, manager_mail = _person(rng, company.domain)
    demo_q.add_contact(
        conn,
        job_id=job_id,
        name=manager,
        role="Hiring manager",
        email=manager_mail,
        notes="Ran the data platform at a previous start-up.",
        now=_stamp(applied_on + timedelta(days=4), 10),
    )
    demo_q.add_research(
        conn,
        job_id=job_id,
        company=company.name,
        brief={
            "overview": f"{company.name} ({company.industry}) builds {company.pitch}; "
            f"about {rng.choice([40, 80, 150, 300])} people, based in {company.city}.",
            "products": f"The core product is {company.pitch}, sold to mid-sized customers.",
            "tech_stack": "Python services on PostgreSQL, with a growing event pipeline.",
            "culture": "Small teams, written proposals, no meetings on Wednesdays.",
            "recent_news": f"Announced a Series B last spring to expand {company.pitch}.",
            "questions_to_ask": "\n".join(content.RESEARCH_QUESTIONS),
        },
        sources=[
            f"https://{company.domain}.example/about",
            f"https://{company.domain}.example/blog/engineering",
        ],
        now=_stamp(applied_on + timedelta(days=4), 21),
    )
    demo_q.add_interview_prep(
        conn,
        job_id=job_id,
        talking_points=(
            f"- Why {company.name}: {company.pitch}.\n"
            "- Streaming rebuild at Harbor: 14 h → 4 min latency.\n"
            "- Grading API at Tidewater: 1,200 schools, 38% cost cut.\n"
            "- Mentoring and on-call runbooks."
        ),
        practice_qa=[{"question": q, "answer": a} for q, a in content.PRACTICE_QA],
        notes=f"Ask {manager.split()[0]} about the team's on-call rotation.",
        now=_stamp(applied_on + timedelta(days=5), 20),
    )
