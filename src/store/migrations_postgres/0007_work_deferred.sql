-- When a work item was given back for GitHub's rate budget (`Store::defer`),
-- the time it was held back until: the pull request's page and `/status` say
-- that it waits, and until when. NULL for every other state; a claim clears it.
ALTER TABLE work_items ADD COLUMN deferred_until BIGINT;
