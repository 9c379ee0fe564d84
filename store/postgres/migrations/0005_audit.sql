-- 0005_audit: the audit trail of the writes the API makes.
--
-- audit: one write on a task or its resolution. It goes with its task (ON
-- DELETE CASCADE); it outlives the resolution it names (start over).
--   public_id            the id clients see (a UUID), the paging cursor and
--                        the sealing binding.
--   resolution_public_id the resolution concerned, '' when none.
--   at                   when the write was made.
--   username             the caller, in clear.
--   admin                whether the caller acted as an administrator.
--   operation            the operation id of the API route.
--   sealed_detail        what changed (JSON), sealed with the entry's public
--                        id as associated data; NULL when there is none.
CREATE TABLE audit (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id            text        NOT NULL UNIQUE,
    task_id              bigint      NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    resolution_public_id text        NOT NULL,
    at                   timestamptz NOT NULL,
    username             text        NOT NULL,
    admin                boolean     NOT NULL,
    operation            text        NOT NULL,
    sealed_detail        bytea
);

-- The listing of a task's trail, and the cascade from the task.
CREATE INDEX audit_task ON audit (task_id, id);
