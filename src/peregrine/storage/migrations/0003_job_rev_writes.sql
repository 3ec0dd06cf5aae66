-- Schema v3: a job found by discovery is written once, not three times.
--
-- Under v2 every inserted job was rewritten whole (its long description included) by
-- jobs_rev_insert, and again by job_sources_rev_insert when its first source link went in:
-- a third of the cost of storing a listing. Now:
--
-- - an INSERT that gives the job a mark itself (rev <> 0, as discovery's insert does with
--   random()) keeps it; one that leaves the default 0 still gets one from the trigger, so
--   every other writer (manual add, upsert, demo seeder, restore) needs no change;
-- - a source link changes the job's mark only when it changes what a card shows: the list
--   of source names, which is the job's own source while it has no link. The first link of
--   a job, naming the job's own source, leaves the list as it was.
--
-- The conditions sit in the UPDATE's WHERE, not in a WHEN, so the list-wide mark
-- (job_changes) still changes on every insert of either kind from the same trigger. An
-- UPDATE whose WHERE matches no row writes nothing.

DROP TRIGGER jobs_rev_insert;

CREATE TRIGGER jobs_rev_insert AFTER INSERT ON jobs
BEGIN
    UPDATE jobs SET rev = random() WHERE id = NEW.id AND NEW.rev = 0;
    UPDATE job_changes SET mark = random();
END;

DROP TRIGGER job_sources_rev_insert;

CREATE TRIGGER job_sources_rev_insert AFTER INSERT ON job_sources
BEGIN
    UPDATE jobs SET rev = random()
    WHERE id = NEW.job_id
        AND (NEW.source IS NOT jobs.source
             OR EXISTS (SELECT 1 FROM job_sources WHERE job_id = NEW.job_id AND id <> NEW.id));
    UPDATE job_changes SET mark = random();
END;
