-- 0001_init: the first schema of the PostgreSQL store.
--
-- The tables, their columns and their meaning are those of the embedded
-- store; only the types are PostgreSQL's. Conventions used by every table:
--   * Times are timestamptz (microseconds, UTC on the way out). NULL means
--     "not set".
--   * Lists of names (usernames, groups) and tag maps are jsonb, in clear, so
--     listings can filter on them with containment (@>) and "any element of"
--     (?|). NULL stands for a nil Go value, which keeps nil and empty ([] or
--     {}) apart.
--   * Public ids are text, compared byte for byte: the id a client sent is
--     the associated data of its row's ciphertexts, unchanged.
--   * sealed_* columns hold ciphertext made by the store's Sealer from the JSON
--     form of the value, with the row's public id as associated data (step
--     rows: the resolution's public id, "/", the step name), so a ciphertext
--     copied onto another row does not open. NULL means "no value". Nothing
--     that is sealed is ever written in clear.

-- template_version: every distinct document a template name has had. A task
-- points at the version it was created from, so changing a template never
-- changes the tasks already made from it.
--   hash     lowercase hex SHA-256 of document; (name, hash) finds a version.
--   document the template in its JSON form, in clear, byte for byte as given.
CREATE TABLE template_version (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     text   NOT NULL,
    hash     text   NOT NULL,
    document bytea  NOT NULL,
    UNIQUE (name, hash)
);

-- instance: one row per engine process that ever started on this database.
--   heartbeat the last time the instance said it was alive.
CREATE TABLE instance (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    heartbeat timestamptz NOT NULL
);

-- task: one request to run a template. Everything but the input and the
-- result is in clear, because listings filter and sort on it.
--   id                  internal id, used by joins and the listing cursor.
--   public_id           the id clients see (a UUID) and the sealing binding.
--   template_version_id the version the task was created from; a version in
--                       use cannot be removed.
--   last_activity       the listing order, with id as the tie-breaker.
--   sealed_input        the requester's input.
--   sealed_result       the task's result.
CREATE TABLE task (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id           text        NOT NULL UNIQUE,
    template_name       text        NOT NULL,
    template_version_id bigint      NOT NULL REFERENCES template_version (id),
    title               text        NOT NULL,
    requester_username  text        NOT NULL,
    requester_groups    jsonb,
    watcher_usernames   jsonb,
    watcher_groups      jsonb,
    resolver_usernames  jsonb,
    resolver_groups     jsonb,
    created             timestamptz NOT NULL,
    last_activity       timestamptz NOT NULL,
    state               text        NOT NULL,
    steps_done          integer     NOT NULL,
    steps_total         integer     NOT NULL,
    tags                jsonb,
    sealed_input        bytea,
    sealed_result       bytea
);

-- The listing order, alone and under its two common filters.
CREATE INDEX task_last_activity ON task (last_activity DESC, id DESC);
CREATE INDEX task_state ON task (state, last_activity DESC, id DESC);
CREATE INDEX task_template ON task (template_name, last_activity DESC, id DESC);
-- Foreign key checks when a template version is removed.
CREATE INDEX task_template_version ON task (template_version_id);
-- The visibility rules and the tag filter: a requester by equality, a
-- username in a list by containment, a group by "any of these elements".
CREATE INDEX task_requester ON task (requester_username);
CREATE INDEX task_watcher_usernames ON task USING gin (watcher_usernames jsonb_path_ops);
CREATE INDEX task_resolver_usernames ON task USING gin (resolver_usernames jsonb_path_ops);
CREATE INDEX task_watcher_groups ON task USING gin (watcher_groups);
CREATE INDEX task_resolver_groups ON task USING gin (resolver_groups);
CREATE INDEX task_tags ON task USING gin (tags jsonb_path_ops);

-- resolution: the execution record of a task; a task has at most one.
--   instance_id           the engine instance that holds it, if any. No
--                         foreign key: the value outlives instance rows.
--   next_retry            when a waiting or failed resolution is due again.
--   sealed_resolver_input the resolver's input.
CREATE TABLE resolution (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id             text        NOT NULL UNIQUE,
    task_id               bigint      NOT NULL UNIQUE REFERENCES task (id) ON DELETE CASCADE,
    resolver_username     text        NOT NULL,
    state                 text        NOT NULL,
    instance_id           bigint,
    created               timestamptz NOT NULL,
    last_start            timestamptz,
    last_stop             timestamptz,
    next_retry            timestamptz,
    run_count             integer     NOT NULL,
    run_max               integer     NOT NULL,
    sealed_resolver_input bytea
);

-- The claims. resolution_due holds the resolutions that are runnable or
-- will become runnable by the passing of time, keyed by the time they are
-- due (TO_AUTORUN ones: at once, hence -infinity): a claim reads the first
-- rows of it up to now, and the next wakeup is its first row, whatever the
-- number of finished or idle resolutions. The queries use the same
-- expression and predicate (resolution.go: dueAt, wakeable), so that the
-- planner matches them with the index.
-- resolution_held holds the resolutions an instance is running, for the
-- claim of orphans.
CREATE INDEX resolution_due ON resolution (
    (CASE WHEN state = 'TO_AUTORUN' THEN '-infinity'::timestamptz ELSE next_retry END), created, id)
    WHERE state = 'TO_AUTORUN'
       OR (state IN ('ERROR', 'TO_AUTORUN_DELAYED') AND next_retry IS NOT NULL)
       OR (state = 'WAITING' AND next_retry > last_start);
CREATE INDEX resolution_held ON resolution (instance_id)
    WHERE state IN ('RUNNING', 'RETRY', 'AUTORUNNING', 'CRASHED');

-- step: the state of one step of a resolution, foreach children included.
-- Changing a step rewrites this one row, whatever the size of the resolution.
--   name        compared and sorted byte by byte (COLLATE "C"), whatever the
--               database's collation.
--   sealed_data output, metadata, children, error, item, child step names,
--               tags and definition override, as one sealed JSON object.
CREATE TABLE step (
    resolution_id bigint      NOT NULL REFERENCES resolution (id) ON DELETE CASCADE,
    name          text        COLLATE "C" NOT NULL,
    state         text        NOT NULL,
    try_count     integer     NOT NULL,
    max_retries   integer     NOT NULL,
    last_run      timestamptz,
    sealed_data   bytea,
    PRIMARY KEY (resolution_id, name)
);
