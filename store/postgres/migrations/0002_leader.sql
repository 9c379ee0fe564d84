-- 0002_leader: the leader lease of the instances sharing the database.
--
-- leader holds at most one row, the running term of leadership. The leader
-- runs the maintenance work (recovering dead instances' resolutions,
-- removing dead instances and old finished tasks). A term is running until
-- expires_at; the leader extends it while it lives, and deletes it when it
-- stops. UNLOGGED: the lease is cheap to write and not worth replicating;
-- after a crash or a failover the table is empty and a new election takes
-- place, which is what a lost lease should lead to anyway.
--   name        always 'default'.
--   instance_id the leading instance.
--   elected_at  when the term began; with instance_id, it names the term.
--   expires_at  when the term ends unless extended.
CREATE UNLOGGED TABLE leader (
    name        text        PRIMARY KEY DEFAULT 'default' CHECK (name = 'default'),
    instance_id bigint      NOT NULL,
    elected_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
