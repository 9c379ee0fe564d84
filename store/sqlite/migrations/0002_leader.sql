-- 0002_leader: the leader lease of the engine instances.
--
-- leader holds at most one row, the running term of leadership. The leader
-- runs the maintenance work (recovering dead instances' resolutions,
-- removing dead instances and old finished tasks). With the embedded store
-- one process holds the database, so its engine wins every election; the
-- table keeps the behaviour the same as the shared store's.
--   name        always 'default'.
--   instance_id the leading instance.
--   elected_at  when the term began (microseconds since the Unix epoch);
--               with instance_id, it names the term.
--   expires_at  when the term ends unless extended (microseconds).
CREATE TABLE leader (
    name        TEXT    PRIMARY KEY DEFAULT 'default' CHECK (name = 'default'),
    instance_id INTEGER NOT NULL,
    elected_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
