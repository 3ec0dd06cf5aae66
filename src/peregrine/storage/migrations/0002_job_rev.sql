-- Schema v2: a revision mark on every job, so caches of what a job looks like (the review
-- page's rendered cards, the API's serialised rows) can tell a changed job from an unchanged
-- one by reading two integers instead of decoding the whole row.
--
-- Triggers keep it, not the code: some writers do not touch updated_at (flags, the demo
-- seeder), and a writer added later cannot forget a trigger. The mark is random rather than
-- a counter: a restored backup or a reused id (a deleted job's id is handed out again) must
-- never bring back a (job id, rev) pair that a cache saw holding other content.

ALTER TABLE jobs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET rev = random();

CREATE TRIGGER jobs_rev_insert AFTER INSERT ON jobs
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.id;
END;

-- "WHEN NEW.rev = OLD.rev": an update that already set a new mark (this trigger's own, or
-- the insert trigger's) does not need another.
CREATE TRIGGER jobs_rev_update AFTER UPDATE ON jobs WHEN NEW.rev = OLD.rev
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.id;
END;

-- A card lists every source that found the job.
CREATE TRIGGER job_sources_rev_insert AFTER INSERT ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.job_id;
END;

CREATE TRIGGER job_sources_rev_update AFTER UPDATE ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id IN (OLD.job_id, NEW.job_id);
END;

CREATE TRIGGER job_sources_rev_delete AFTER DELETE ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id = OLD.job_id;
END;
