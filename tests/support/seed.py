"""Alice's profile, résumé and a job, written through the real query functions."""

from __future__ import annotations

from typing import Any

from peregrine.lib.clock import now_iso
from peregrine.llm.config import PREFERENCE_KEY
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.queries.preferences import set_preference
from peregrine.storage.userdb import UserDB

RESUME: dict[str, Any] = {
    "experiences": [
        {
            "employer": "Globex",
            "title": "Barista",
            "start": "2012",
            "end": "2014",
            "bullets": ["Made coffee for a busy morning crowd"],
        },
        {
            "employer": "Initech",
            "title": "Senior Platform Engineer",
            "start": "2019-03",
            "end": "",
            "bullets": [
                "Ran Kubernetes clusters serving 40 services",
                "Cut deploy time from 40 to 6 minutes with Terraform and GitHub Actions",
            ],
        },
        {
            "employer": "Umbrella Health",
            "title": "Site Reliability Engineer",
            "start": "2016-01",
            "end": "2019-02",
            "bullets": ["On-call lead for patient-records APIs", "Wrote Python tooling"],
        },
    ],
    "skills": ["Python", "Kubernetes", "Terraform", "PostgreSQL"],
    "education": [{"degree": "BSc Computer Science", "school": "Łódź University"}],
}

JOB_DESCRIPTION = (
    "Hydra Energy is hiring a Platform Engineer to run our Kubernetes platform. You will "
    "automate infrastructure with Terraform, keep PostgreSQL healthy and help teams ship "
    "faster. Experience with Rust and Kafka is a plus. We work on renewable energy and "
    "climate change."
)


def seed_alice(db: UserDB, *, resume: dict[str, Any] | None = None, description: str = "") -> int:
    now = now_iso()
    with db.write() as conn:
        profile_q.save_profile(
            conn,
            profile=profile_q.Profile(
                full_name="Alice Ńowak-Müller",
                email="alice@example.org",
                phone="+44 20 7946 0000",
                location="Leeds",
                summary="Platform engineer who likes boring, reliable systems.",
                voice="calm, concrete, a little dry",
                mission_causes=["climate change", "public health"],
                nda_companies=["Umbrella Health"],
            ),
            now=now,
        )
        profile_q.add_resume(
            conn,
            structured=RESUME if resume is None else resume,
            raw_text="",
            filename="cv.pdf",
            now=now,
        )
        profile_q.replace_keywords(
            conn, entries={"skill": ["Kubernetes", "Rust"], "preferred": ["Kafka"], "exclude": []}
        )
        profile_q.add_past_letter(
            conn,
            title="Old letter",
            body="Dear team,\n\nI build quiet infrastructure that nobody has to think about.",
            now=now,
        )
        result = job_q.upsert_jobs(
            conn,
            jobs=[
                job_q.NewJob(
                    title="Platform Engineer",
                    url="https://jobs.example/hydra/1",
                    company="Hydra Energy",
                    description=description or JOB_DESCRIPTION,
                )
            ],
            now=now,
        )
    with db.read() as conn:
        job_id = job_q.find_job_id_by_url(conn, url="https://jobs.example/hydra/1")
    assert job_id is not None, result
    return job_id


def use_backend(db: UserDB, entry: dict[str, Any]) -> None:
    with db.write() as conn:
        set_preference(conn, key=PREFERENCE_KEY, value={"backends": [entry]})


LETTER = (
    "Dear Hiring Manager,\n\n"
    "I am applying for the Platform Engineer role at Hydra Energy. At Initech I run "
    "Kubernetes clusters serving 40 services and cut deploy time from 40 to 6 minutes with "
    "Terraform. Before that I led on-call for patient-records APIs at a health company.\n\n"
    "Your work on climate change matters to me, and I would bring calm, steady operations "
    "to your platform team. I have not used Rust in production yet and would be glad to "
    "learn it.\n\n"
    "Thank you for your time and consideration.\n\n"
    "Sincerely,\nAlice"
)
