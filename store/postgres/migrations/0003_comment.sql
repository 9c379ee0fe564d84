-- 0003_comment: the comments users leave on tasks.
--
-- comment: one note on a task. It goes with its task (ON DELETE CASCADE).
--   public_id      the id clients see (a UUID) and the sealing binding.
--   username       the author, in clear.
--   created        when it was written; with id, the listing order.
--   updated        when its content last changed.
--   sealed_content the text, sealed with the comment's public id as
--                  associated data: comments are user data like inputs.
CREATE TABLE comment (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id      text        NOT NULL UNIQUE,
    task_id        bigint      NOT NULL REFERENCES task (id) ON DELETE CASCADE,
    username       text        NOT NULL,
    created        timestamptz NOT NULL,
    updated        timestamptz NOT NULL,
    sealed_content bytea       NOT NULL
);

-- The listing of a task's comments, and the cascade from the task.
CREATE INDEX comment_task ON comment (task_id, created, id);
