-- Delivery ids are kept lower-cased (a GUID's case carries nothing, and a
-- signed body replayed under an upper-cased id must be the same delivery).
-- Rows stored with upper-case letters are lower-cased; where both spellings
-- were stored, the lower-case row stays.
DELETE FROM deliveries WHERE id <> lower(id) AND lower(id) IN (SELECT id FROM deliveries);
UPDATE deliveries SET id = lower(id) WHERE id <> lower(id);
