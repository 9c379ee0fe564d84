-- 0005_audit: the audit trail of the writes the API makes.
--
-- audit: one write on a task or its resolution. It goes with its task (ON
-- DELETE CASCADE); it outlives the resolution it names (start over).
--   public_id            the id clients see (a UUID), the paging cursor and
--                        the sealing binding.
--   resolution_public_id the resolution concerned, '' when none.
--   at                   when the write was made (microseconds, UTC).
--   username             the caller, in clear.
--   admin                1 when the caller acted as an administrator.
--   operation            the operation id of the API route.
--   sealed_detail        what changed (JSON), sealed with the entry's public
--                        id as associated data; NULL when there is none.
CREATE TABLE audit (
    id                   INTEGER PRIMARY KEY,
    public_id            TEXT    NOT NULL UNIQUE,
    task_id              INTEGER NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    resolution_public_id TEXT    NOT NULL,
    at                   INTEGER NOT NULL,
    username             TEXT    NOT NULL,
    admin                INTEGER NOT NULL,
    operation            TEXT    NOT NULL,
    sealed_detail        BLOB
) STRICT;

-- The listing of a task's trail, and the cascade from the task.
CREATE INDEX audit_task ON audit (task_id, id);
