-- Planned re-runs of a work item (merge pending, head moved) are counted
-- apart from failed runs: `attempts` decides when a failing job gives up,
-- and a run that only asked to look again later has not failed.
ALTER TABLE work_items ADD COLUMN reruns INTEGER NOT NULL DEFAULT 0;
