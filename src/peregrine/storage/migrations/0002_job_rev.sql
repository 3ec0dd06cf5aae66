-- Schema v2: change marks, so caches of what jobs look like (the review page, its cards, the
-- API's rows) can tell changed from unchanged by reading an integer instead of the rows.
--
-- - jobs.rev: a mark per job, new on every change to the job or to its source links;
-- - job_changes.mark: one mark for the whole jobs list, new on every change to any job.
--
-- Triggers keep them, not the code: some writers do not touch updated_at (flags, the demo
-- seeder), and a writer added later cannot forget a trigger. Marks are random rather than
-- counters: a restored backup or a reused id (a deleted job's id is handed out again) must
-- never bring back a mark that a cache saw with other content.

ALTER TABLE jobs ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET rev = random();

-- No primary key on purpose: a restore copies this table's rows into a fresh database whose
-- own triggers may already have written one. Readers take the newest row; every change
-- gives all rows the same new mark.
CREATE TABLE job_changes (mark INTEGER NOT NULL);
INSERT INTO job_changes (mark) VALUES (random());

CREATE TRIGGER jobs_rev_insert AFTER INSERT ON jobs
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.id;
    UPDATE job_changes SET mark = random();
END;

-- "WHEN NEW.rev = OLD.rev": an update that already set a new mark (this trigger's own, or
-- another trigger's) needs no other.
CREATE TRIGGER jobs_rev_update AFTER UPDATE ON jobs WHEN NEW.rev = OLD.rev
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.id;
    UPDATE job_changes SET mark = random();
END;

CREATE TRIGGER jobs_rev_delete AFTER DELETE ON jobs
BEGIN
    UPDATE job_changes SET mark = random();
END;

-- A card lists every source that found the job.
CREATE TRIGGER job_sources_rev_insert AFTER INSERT ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.job_id;
    UPDATE job_changes SET mark = random();
END;

CREATE TRIGGER job_sources_rev_update AFTER UPDATE ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id IN (OLD.job_id, NEW.job_id);
    UPDATE job_changes SET mark = random();
END;

CREATE TRIGGER job_sources_rev_delete AFTER DELETE ON job_sources
BEGIN
    UPDATE jobs SET rev = random() WHERE id = OLD.job_id;
    UPDATE job_changes SET mark = random();
END;
