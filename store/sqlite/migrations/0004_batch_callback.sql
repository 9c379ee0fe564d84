-- 0004_batch_callback: batches of tasks, and the callbacks steps wait for.
--
-- batch: the tasks created together from one template (POST /batch, the
-- batch action). It holds no data of its own; a task names its batch. A
-- batch no task refers to any more is removed with the finished tasks.
--   public_id the id clients see (a UUID).
CREATE TABLE batch (
    id        INTEGER PRIMARY KEY,
    public_id TEXT    NOT NULL UNIQUE
) STRICT;

-- task.batch_id: the batch of a task, NULL when none. A batch referred to
-- cannot be removed.
ALTER TABLE task ADD COLUMN batch_id INTEGER REFERENCES batch (id);

-- The listing of one batch's tasks, its count of unfinished tasks, and the
-- removal of batches without a task.
CREATE INDEX task_batch ON task (batch_id, last_activity DESC, id DESC) WHERE batch_id IS NOT NULL;

-- callback: a one-shot URL a step hands out and then waits for. It goes
-- with its task and with its resolution (ON DELETE CASCADE).
--   public_id         the id in the URL (a UUID) and the sealing binding.
--   created, updated  when it was made and last written.
--   called            when the URL was called; NULL until then.
--   resolver_username the requester of the task, in clear.
--   sealed_schema     the JSON schema the body must satisfy; NULL if none.
--   sealed_secret     the token a call must present.
--   sealed_body       the JSON of the body received; NULL until called.
CREATE TABLE callback (
    id                INTEGER PRIMARY KEY,
    public_id         TEXT    NOT NULL UNIQUE,
    task_id           INTEGER NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    resolution_id     INTEGER NOT NULL REFERENCES resolution (id) ON DELETE CASCADE,
    created           INTEGER NOT NULL,
    updated           INTEGER NOT NULL,
    called            INTEGER,
    resolver_username TEXT    NOT NULL,
    sealed_schema     BLOB,
    sealed_secret     BLOB    NOT NULL,
    sealed_body       BLOB
) STRICT;

-- The cascades from the task and from the resolution.
CREATE INDEX callback_task ON callback (task_id);
CREATE INDEX callback_resolution ON callback (resolution_id);
