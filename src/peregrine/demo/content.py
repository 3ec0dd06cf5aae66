"""The fictional job seeker and the market she searches, as plain data.

Every company, person, e-mail address and link here is invented; addresses use the
reserved ``.example`` domain so nothing in the demo can reach a real inbox or site.
"""

from __future__ import annotations

from dataclasses import dataclass

SEEKER_NAME = "Mara Lindqvist"

PROFILE = {
    "full_name": SEEKER_NAME,
    "email": "mara.lindqvist@mail.example",
    "phone": "+1 555 0142",
    "location": "Portland, OR",
    "links": ["https://mara-lindqvist.example", "https://code.example/maral"],
    "summary": (
        "Backend and data engineer with eight years of experience building reliable "
        "pipelines and APIs in Python and PostgreSQL. Led the move of a logistics "
        "platform to event-driven processing; happiest on small teams that ship often."
    ),
    "voice": "Warm, direct and concrete; short sentences; no buzzwords.",
    "mission_causes": ["climate", "public health", "education"],
    "nda_companies": ["Harbor Freight Analytics"],
}

# The seeker's skills: on the résumé (with one more) and as skill keywords.
SKILLS = [
    "Python",
    "PostgreSQL",
    "SQL",
    "FastAPI",
    "Django",
    "Kafka",
    "Airflow",
    "Docker",
    "Terraform",
    "AWS",
    "dbt",
]

RESUME = {
    "name": SEEKER_NAME,
    "headline": "Senior backend & data engineer",
    "experiences": [
        {
            "company": "Harbor Freight Analytics",
            "title": "Senior Data Engineer",
            "start": "2022-03",
            "end": None,
            "highlights": [
                "Rebuilt nightly batch jobs as streaming pipelines (Kafka, Python); "
                "cut data latency from 14 hours to 4 minutes.",
                "Designed the PostgreSQL partitioning scheme for 3 billion shipment events.",
                "Mentored four engineers; introduced code review and on-call runbooks.",
            ],
        },
        {
            "company": "Tidewater Learning",
            "title": "Backend Engineer",
            "start": "2018-06",
            "end": "2022-02",
            "highlights": [
                "Built the grading API (FastAPI, PostgreSQL) used by 1,200 schools.",
                "Reduced cloud costs 38% by moving reports to materialised views.",
            ],
        },
        {
            "company": "Cedar Row Credit Union",
            "title": "Software Developer",
            "start": "2016-01",
            "end": "2018-05",
            "highlights": ["Maintained the loan-application back office (Django, Celery)."],
        },
    ],
    "skills": [*SKILLS, "Data modeling"],
    "education": [
        {"school": "Oregon Coast University", "degree": "BSc Computer Science", "year": 2015}
    ],
    "languages": ["English", "Swedish"],
}

RESUME_TEXT = "\n".join(
    [
        f"{SEEKER_NAME} — Senior backend & data engineer — Portland, OR",
        PROFILE["summary"],  # type: ignore[list-item]
        "Experience: Harbor Freight Analytics (2022–), Tidewater Learning (2018–2022), "
        "Cedar Row Credit Union (2016–2018).",
        "Skills: " + ", ".join(RESUME["skills"]),  # type: ignore[arg-type]
    ]
)

KEYWORDS = {
    "skill": list(SKILLS),
    "preferred": ["remote", "climate", "data platform", "event-driven"],
    "exclude": ["crypto", "gambling", "ad tech"],
}

BLOCKLIST = {"company": ["Lucky Spin Games"], "industry": ["gambling"], "location": []}

SEARCH_PROFILES = [
    {
        "name": "Data engineering",
        "titles": ["Data Engineer", "Senior Data Engineer", "Analytics Engineer"],
        "locations": ["Portland, OR", "Remote (US)"],
        "remote_preference": "any",
        "sources": ["manual"],
        "exclude_keywords": ["crypto"],
        "mission_tags": ["climate"],
        "watch_companies": ["Fernleaf Energy", "Bluewater Health"],
        "salary_floor": 140000.0,
    },
    {
        "name": "Backend (remote)",
        "titles": ["Backend Engineer", "Python Developer", "Platform Engineer"],
        "locations": ["Remote (US)"],
        "remote_preference": "remote",
        "sources": ["manual"],
        "exclude_keywords": ["ad tech"],
        "mission_tags": ["education"],
        "watch_companies": [],
        "salary_floor": 130000.0,
    },
]

PAST_LETTER = (
    "Dear hiring team,\n\nI build data systems that people can trust at three in the "
    "morning. At Tidewater Learning I turned a fragile reporting stack into an API that "
    "1,200 schools rely on every day...\n\nBest regards,\nMara"
)


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    industry: str
    city: str
    pitch: str


COMPANIES: tuple[Company, ...] = (
    Company(
        "Fernleaf Energy", "fernleaf", "climate", "Portland, OR", "grid-scale battery scheduling"
    ),
    Company(
        "Bluewater Health",
        "bluewater-health",
        "public health",
        "Seattle, WA",
        "clinic scheduling for rural hospitals",
    ),
    Company(
        "Quillstone Learning",
        "quillstone",
        "education",
        "Remote (US)",
        "reading tutors for middle schools",
    ),
    Company(
        "Northwind Freightworks",
        "northwind-fw",
        "logistics",
        "Tacoma, WA",
        "freight matching for small carriers",
    ),
    Company(
        "Copperline Analytics", "copperline", "analytics", "Denver, CO", "retail demand forecasting"
    ),
    Company(
        "Sablewood Bank",
        "sablewood",
        "finance",
        "Portland, OR",
        "a community bank's digital branch",
    ),
    Company(
        "Greyfern Robotics", "greyfern", "manufacturing", "Boise, ID", "warehouse picking robots"
    ),
    Company(
        "Larkspur Civic",
        "larkspur-civic",
        "government tech",
        "Remote (US)",
        "permit software for cities",
    ),
    Company(
        "Ottermark Maps",
        "ottermark",
        "geospatial",
        "Remote (US)",
        "open map tiles for outdoor apps",
    ),
    Company(
        "Brightwell Water",
        "brightwell",
        "climate",
        "Sacramento, CA",
        "leak detection for water utilities",
    ),
    Company(
        "Kestrel Insurance",
        "kestrel-ins",
        "insurance",
        "Hartford, CT",
        "small-business insurance quotes",
    ),
    Company(
        "Meadowlark Foods", "meadowlark", "food", "Eugene, OR", "farm-to-grocer supply planning"
    ),
    Company("Tinsel & Pine Media", "tinselpine", "media", "Los Angeles, CA", "podcast analytics"),
    Company(
        "Harrowgate Security", "harrowgate", "security", "Remote (US)", "identity threat detection"
    ),
    Company(
        "Silverbirch Health",
        "silverbirch",
        "public health",
        "Remote (US)",
        "vaccine cold-chain monitoring",
    ),
    Company(
        "Pinecrest Transit", "pinecrest", "transport", "Portland, OR", "real-time bus arrival data"
    ),
    Company("Driftwood Studios", "driftwood", "games", "Remote (US)", "cozy mobile games"),
    Company("Umberfield Labs", "umberfield", "biotech", "San Diego, CA", "lab-sample tracking"),
    Company(
        "Westbrook Solar", "westbrook-solar", "climate", "Remote (US)", "rooftop solar design tools"
    ),
    Company("Amberlight Retail", "amberlight", "retail", "Chicago, IL", "store inventory APIs"),
    Company(
        "Cobaltridge Cloud",
        "cobaltridge",
        "infrastructure",
        "Remote (US)",
        "managed PostgreSQL hosting",
    ),
    Company("Hollowreed Publishing", "hollowreed", "media", "New York, NY", "digital textbooks"),
    Company(
        "Lanternfish Data", "lanternfish", "analytics", "Remote (US)", "marine sensor analytics"
    ),
    Company(
        "Redcedar Housing", "redcedar", "nonprofit", "Portland, OR", "affordable-housing waitlists"
    ),
    Company(
        "Starling Payments", "starling-pay", "finance", "Austin, TX", "payouts for gig workers"
    ),
    Company("Thornbury Legal", "thornbury", "legal tech", "Remote (US)", "contract search"),
    Company(
        "Wrenfield Schools", "wrenfield", "education", "Remote (US)", "district enrolment systems"
    ),
    Company("Ironbark Mining", "ironbark", "mining", "Elko, NV", "ore-grade telemetry"),
    Company(
        "Maplecourt Care", "maplecourt", "public health", "Remote (US)", "home-care scheduling"
    ),
    Company("Lucky Spin Games", "luckyspin", "gambling", "Las Vegas, NV", "online slot machines"),
    Company("Gullwing Travel", "gullwing", "travel", "Remote (US)", "group-trip planning"),
    Company("Foxglove Genomics", "foxglove", "biotech", "Remote (US)", "crop genome pipelines"),
    Company(
        "Briarwood Energy", "briarwood", "climate", "Remote (US)", "heat-pump fleet monitoring"
    ),
    Company("Clearbrook Logistics", "clearbrook", "logistics", "Reno, NV", "cross-dock scheduling"),
    Company(
        "Saltmarsh Ad Network", "saltmarsh-ads", "ad tech", "Remote (US)", "programmatic ad bidding"
    ),
    Company(
        "Juniper Civic Data",
        "juniper-civic",
        "government tech",
        "Remote (US)",
        "open budget dashboards",
    ),
    Company(
        "Harbor Light Clinics",
        "harborlight",
        "public health",
        "Portland, OR",
        "patient intake forms",
    ),
    Company(
        "Quartzline Systems",
        "quartzline",
        "infrastructure",
        "Remote (US)",
        "observability for data pipelines",
    ),
    Company(
        "Willowmere University",
        "willowmere",
        "education",
        "Corvallis, OR",
        "research data services",
    ),
    Company("Petrel Climate", "petrel", "climate", "Remote (US)", "carbon-removal verification"),
)

TITLES = (
    "Senior Data Engineer",
    "Backend Engineer",
    "Staff Data Engineer",
    "Platform Engineer",
    "Analytics Engineer",
    "Senior Python Developer",
    "Data Platform Engineer",
    "Senior Backend Engineer (Python)",
)

EXTRA_SKILLS = (
    "Spark",
    "Snowflake",
    "Kubernetes",
    "Go",
    "Scala",
    "GCP",
    "BigQuery",
    "Flink",
    "Rust",
    "Redis",
)

PEOPLE_FIRST = (
    "Ana",
    "Ben",
    "Chioma",
    "Dev",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivo",
    "Jules",
    "Kai",
    "Lena",
    "Milo",
    "Noor",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
)
PEOPLE_LAST = (
    "Abernathy",
    "Brandvold",
    "Castellanos",
    "Delacroix",
    "Eriksen",
    "Fairbairn",
    "Gallardo",
    "Holloway",
    "Ishikawa",
    "Jovanovic",
    "Kowalczyk",
    "Lindahl",
)

RESEARCH_QUESTIONS = (
    "How do teams decide what data is worth keeping?",
    "What does on-call look like for the data platform?",
    "Which part of the stack would you rebuild first if you could?",
    "How do engineers and domain experts work together day to day?",
)

PRACTICE_QA = (
    (
        "Tell us about a pipeline you made more reliable.",
        "At Harbor I replaced nightly batch jobs with streaming consumers; I'd describe the "
        "idempotent upserts and the replay tool we built for bad days.",
    ),
    (
        "How do you model slowly changing data?",
        "Type-2 history tables with validity ranges, plus views that give analysts the "
        "current row; I'd mention the partitioning we used for 3 billion events.",
    ),
    (
        "Describe a disagreement with a product manager.",
        "The grading-API deadline at Tidewater: I proposed shipping read-only first, which "
        "met the school-year start and kept quality.",
    ),
)
