-- 0001_init: the first schema of the embedded store.
--
-- Conventions used by every table:
--   * Times are INTEGER unix microseconds, UTC. NULL means "not set".
--   * Lists of names (usernames, groups) and tag maps are JSON text, in clear,
--     so listings can filter on them with json_each. NULL stands for a nil Go
--     value, which keeps nil and empty ([] or {}) apart.
--   * sealed_* columns hold ciphertext made by the store's Sealer from the JSON
--     form of the value, with the row's public id as associated data (step
--     rows: the resolution's public id, "/", the step name), so a ciphertext
--     copied onto another row does not open. NULL means "no value". Nothing
--     that is sealed is ever written in clear.
--   * Tables are STRICT: a value of the wrong type is refused, not converted.

-- template_version: every distinct document a template name has had. A task
-- points at the version it was created from, so changing a template never
-- changes the tasks already made from it.
--   hash     lowercase hex SHA-256 of document; (name, hash) finds a version.
--   document the template in its JSON form, in clear.
CREATE TABLE template_version (
    id       INTEGER PRIMARY KEY,
    name     TEXT    NOT NULL,
    hash     TEXT    NOT NULL,
    document BLOB    NOT NULL,
    UNIQUE (name, hash)
) STRICT;

-- instance: one row per engine process that ever started on this database.
--   heartbeat the last time the instance said it was alive.
CREATE TABLE instance (
    id        INTEGER PRIMARY KEY,
    heartbeat INTEGER NOT NULL
) STRICT;

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
    id                  INTEGER PRIMARY KEY,
    public_id           TEXT    NOT NULL UNIQUE,
    template_name       TEXT    NOT NULL,
    template_version_id INTEGER NOT NULL REFERENCES template_version (id),
    title               TEXT    NOT NULL,
    requester_username  TEXT    NOT NULL,
    requester_groups    TEXT,
    watcher_usernames   TEXT,
    watcher_groups      TEXT,
    resolver_usernames  TEXT,
    resolver_groups     TEXT,
    created             INTEGER NOT NULL,
    last_activity       INTEGER NOT NULL,
    state               TEXT    NOT NULL,
    steps_done          INTEGER NOT NULL,
    steps_total         INTEGER NOT NULL,
    tags                TEXT,
    sealed_input        BLOB,
    sealed_result       BLOB
) STRICT;

-- The listing order, alone and under its two common filters.
CREATE INDEX task_last_activity ON task (last_activity DESC, id DESC);
CREATE INDEX task_state ON task (state, last_activity DESC, id DESC);
CREATE INDEX task_template ON task (template_name, last_activity DESC, id DESC);
-- Foreign key checks when a template version is removed.
CREATE INDEX task_template_version ON task (template_version_id);

-- resolution: the execution record of a task; a task has at most one.
--   instance_id           the engine instance that holds it, if any. No
--                         foreign key: the value outlives instance rows.
--   next_retry            when a waiting or failed resolution is due again.
--   sealed_resolver_input the resolver's input.
CREATE TABLE resolution (
    id                    INTEGER PRIMARY KEY,
    public_id             TEXT    NOT NULL UNIQUE,
    task_id               INTEGER NOT NULL UNIQUE REFERENCES task (id) ON DELETE CASCADE,
    resolver_username     TEXT    NOT NULL,
    state                 TEXT    NOT NULL,
    instance_id           INTEGER,
    created               INTEGER NOT NULL,
    last_start            INTEGER,
    last_stop             INTEGER,
    next_retry            INTEGER,
    run_count             INTEGER NOT NULL,
    run_max               INTEGER NOT NULL,
    sealed_resolver_input BLOB
) STRICT;

-- The claims: runnable resolutions by state, then due time; orphans by
-- state (few rows are in the states an orphan can be in).
CREATE INDEX resolution_claim ON resolution (state, next_retry);

-- step: the state of one step of a resolution, foreach children included.
-- Changing a step rewrites this one row, whatever the size of the resolution.
--   sealed_data output, metadata, children, error, item, child step names,
--               tags and definition override, as one sealed JSON object.
CREATE TABLE step (
    resolution_id INTEGER NOT NULL REFERENCES resolution (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    try_count     INTEGER NOT NULL,
    max_retries   INTEGER NOT NULL,
    last_run      INTEGER,
    sealed_data   BLOB,
    PRIMARY KEY (resolution_id, name)
) STRICT, WITHOUT ROWID;
