-- Schema v1: everything one user owns lives in this one database, so that in cloud mode all
-- of it is encrypted together and travels in one backup. Timestamps are ISO-8601 UTC text.

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    title             TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    company           TEXT NOT NULL DEFAULT '' CHECK (length(company) <= 300),
    company_norm      TEXT NOT NULL DEFAULT '',
    title_norm        TEXT NOT NULL DEFAULT '',
    location          TEXT NOT NULL DEFAULT '',
    is_remote         INTEGER NOT NULL DEFAULT 0 CHECK (is_remote IN (0, 1)),
    work_mode         TEXT NOT NULL DEFAULT 'unknown'
                      CHECK (work_mode IN ('remote', 'hybrid', 'onsite', 'unknown')),
    url               TEXT NOT NULL UNIQUE,          -- canonical URL
    source            TEXT NOT NULL DEFAULT 'manual', -- first source that found it
    external_id       TEXT,
    description       TEXT NOT NULL DEFAULT '',
    salary_text       TEXT NOT NULL DEFAULT '',
    salary_min        REAL,
    salary_max        REAL,
    salary_currency   TEXT,
    salary_interval   TEXT CHECK (salary_interval IN ('hour', 'day', 'week', 'month', 'year')),
    salary_annual_min REAL,
    salary_annual_max REAL,
    date_posted       TEXT,
    date_found        TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN (
                          'pending', 'approved', 'dismissed', 'archived', 'applied', 'survey',
                          'phone_screen', 'interviewing', 'offer', 'hired', 'declined',
                          'rejected', 'withdrawn')),
    match_score       REAL CHECK (match_score IS NULL OR match_score BETWEEN 0 AND 100),
    match_explanation TEXT NOT NULL DEFAULT '{}',    -- JSON
    keyword_gaps      TEXT NOT NULL DEFAULT '[]',    -- JSON list
    flags             TEXT NOT NULL DEFAULT '[]',    -- JSON list: salary_unknown, already_applied…
    applied_match_id  INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    cover_letter      TEXT NOT NULL DEFAULT '',      -- the current letter text
    interview_at      TEXT,                          -- local wall-clock time, ISO-8601
    interview_tz      TEXT,                          -- IANA zone name
    rejection_stage   TEXT,
    notes             TEXT NOT NULL DEFAULT '',
    applied_at        TEXT,
    follow_up_on      TEXT,                          -- date
    updated_at        TEXT NOT NULL
);
CREATE INDEX jobs_status_score ON jobs (status, match_score DESC);
CREATE INDEX jobs_date_found ON jobs (date_found DESC);
CREATE INDEX jobs_source ON jobs (source);
CREATE INDEX jobs_company_title ON jobs (company_norm, title_norm);
CREATE INDEX jobs_follow_up ON jobs (follow_up_on) WHERE follow_up_on IS NOT NULL;

-- Every source that listed a job, so a cross-source merge keeps every link.
CREATE TABLE job_sources (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    url         TEXT NOT NULL,
    external_id TEXT,
    found_at    TEXT NOT NULL,
    UNIQUE (source, url)
);
CREATE INDEX job_sources_job ON job_sources (job_id);

-- Stage history: every status change, with undo marks instead of deletes so the audit stays.
CREATE TABLE job_events (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    from_status     TEXT,
    to_status       TEXT NOT NULL,
    at              TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    rejection_stage TEXT,
    kind            TEXT NOT NULL DEFAULT 'move' CHECK (kind IN ('move', 'undo', 'create')),
    undone_at       TEXT  -- set on a 'move' when it is undone; the undo is its own row
);
CREATE INDEX job_events_job ON job_events (job_id, id);
CREATE INDEX job_events_at ON job_events (at);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX contacts_job ON contacts (job_id);

-- Contact log: e-mails, calls and messages about a job.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    contact_id INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    direction  TEXT NOT NULL DEFAULT 'in' CHECK (direction IN ('in', 'out')),
    channel    TEXT NOT NULL DEFAULT 'email'
               CHECK (channel IN ('email', 'phone', 'video', 'message', 'in_person', 'other')),
    subject    TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL
);
CREATE INDEX messages_job ON messages (job_id, at);

CREATE TABLE company_research (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    company    TEXT NOT NULL,
    brief      TEXT NOT NULL DEFAULT '{}',  -- JSON: section name → text
    sources    TEXT NOT NULL DEFAULT '[]',  -- JSON list of URLs consulted
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE interview_prep (
    job_id         INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    talking_points TEXT NOT NULL DEFAULT '',
    practice_qa    TEXT NOT NULL DEFAULT '[]',  -- JSON list of {question, answer}
    recruiter_reply TEXT NOT NULL DEFAULT '',
    notes          TEXT NOT NULL DEFAULT '',
    updated_at     TEXT NOT NULL
);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    type        TEXT NOT NULL,
    job_id      INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    params      TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                    'queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    stage       TEXT NOT NULL DEFAULT '',
    progress    REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    result      TEXT,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
-- One active task per (type, job): a duplicate request finds the existing row.
CREATE UNIQUE INDEX tasks_one_active
    ON tasks (type, coalesce(job_id, 0)) WHERE status IN ('queued', 'running');
CREATE INDEX tasks_status ON tasks (status, id);

CREATE TABLE cover_letters (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    feedback   TEXT NOT NULL DEFAULT '',   -- what the user asked for when refining
    origin     TEXT NOT NULL DEFAULT 'edited' CHECK (origin IN ('generated', 'refined', 'edited')),
    backend    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (job_id, version)
);

-- Application questions: job_id NULL means a reusable saved answer.
CREATE TABLE application_answers (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE CASCADE,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX application_answers_job ON application_answers (job_id);

-- What exactly was sent when the user marked a job applied.
CREATE TABLE application_snapshots (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    letter_version INTEGER,
    letter_body    TEXT NOT NULL DEFAULT '',
    resume_version INTEGER,
    answers        TEXT NOT NULL DEFAULT '[]',
    created_at     TEXT NOT NULL
);
CREATE INDEX application_snapshots_job ON application_snapshots (job_id);

CREATE TABLE survey_responses (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- The single user's profile (one row).
CREATE TABLE profile (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    full_name     TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    location      TEXT NOT NULL DEFAULT '',
    links         TEXT NOT NULL DEFAULT '[]',  -- JSON list of URLs
    summary       TEXT NOT NULL DEFAULT '',
    voice         TEXT NOT NULL DEFAULT '',    -- how the user likes to sound
    mission_causes TEXT NOT NULL DEFAULT '[]', -- JSON list
    nda_companies TEXT NOT NULL DEFAULT '[]',  -- JSON list, masked in LLM prompts
    updated_at    TEXT NOT NULL
);

-- Structured résumé versions; the highest version is current.
CREATE TABLE resumes (
    id         INTEGER PRIMARY KEY,
    version    INTEGER NOT NULL UNIQUE,
    structured TEXT NOT NULL DEFAULT '{}',  -- JSON: experiences, skills, education…
    raw_text   TEXT NOT NULL DEFAULT '',
    filename   TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

CREATE TABLE search_profiles (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) BETWEEN 1 AND 100),
    titles             TEXT NOT NULL DEFAULT '[]',
    locations          TEXT NOT NULL DEFAULT '[]',
    remote_preference  TEXT NOT NULL DEFAULT 'any'
                       CHECK (remote_preference IN ('any', 'remote', 'hybrid', 'onsite')),
    sources            TEXT NOT NULL DEFAULT '[]',
    exclude_keywords   TEXT NOT NULL DEFAULT '[]',
    results_per_source INTEGER NOT NULL DEFAULT 50 CHECK (results_per_source BETWEEN 1 AND 1000),
    max_age_days       INTEGER NOT NULL DEFAULT 14 CHECK (max_age_days BETWEEN 1 AND 365),
    mission_tags       TEXT NOT NULL DEFAULT '[]',
    watch_companies    TEXT NOT NULL DEFAULT '[]',
    salary_floor       REAL,
    enabled            INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE blocklist (
    id    INTEGER PRIMARY KEY,
    kind  TEXT NOT NULL CHECK (kind IN ('company', 'industry', 'location')),
    value TEXT NOT NULL COLLATE NOCASE,
    UNIQUE (kind, value)
);

-- Keywords the scorer looks for: skills the user has, nice-to-haves, and terms to avoid.
CREATE TABLE keywords (
    id   INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('skill', 'preferred', 'exclude')),
    term TEXT NOT NULL COLLATE NOCASE,
    UNIQUE (kind, term)
);

-- Free-form preferences (scoring weights, follow-up days, LLM backends in local mode…).
CREATE TABLE preferences (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL  -- JSON
);

-- The user's own past letters, used as style examples.
CREATE TABLE past_letters (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per model call: which backend, how long, how many tokens.
CREATE TABLE llm_calls (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    backend           TEXT NOT NULL,
    model             TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        REAL NOT NULL,
    ok                INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX llm_calls_at ON llm_calls (at);
