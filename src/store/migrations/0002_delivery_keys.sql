-- Delivery ids are stored time-first (`columns::delivery_key`): GitHub's are
-- version-1 UUIDs, whose text leads with the fastest-moving bits of their
-- timestamp, so stored as sent every new delivery landed on a random page of
-- the deduplication index. A version-1 UUID `tttttttt-mmmm-1hhh-cccc-nnnn…`
-- becomes `hhhmmmmtttttttt cccc-nnnn…`; other ids are kept. New keys hold a
-- space, which no stored id does, so no row can collide while this runs.
UPDATE deliveries
SET id = substr(id, 16, 3) || substr(id, 10, 4) || substr(id, 1, 8) || ' ' || substr(id, 20)
WHERE length(id) = 36
  AND substr(id, 9, 1) = '-'
  AND substr(id, 14, 1) = '-'
  AND substr(id, 15, 1) = '1'
  AND substr(id, 19, 1) = '-'
  AND substr(id, 24, 1) = '-'
  AND id NOT GLOB '*[^0-9a-fA-F-]*';
