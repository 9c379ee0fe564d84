-- 0006_partial_list_indexes: the jsonb list indexes of task leave out the
-- tasks whose list is NULL.
--
-- Most tasks have no watchers, no resolvers of their own and no tags: their
-- lists are NULL, and a GIN index still stores an entry for each of them, on
-- every insert and on every update that moves the row (the last activity
-- changes at each save). The filters that use these indexes (@>, ?|) never
-- match a NULL list, so the planner still picks the partial indexes for them.
DROP INDEX task_watcher_usernames;
DROP INDEX task_resolver_usernames;
DROP INDEX task_watcher_groups;
DROP INDEX task_resolver_groups;
DROP INDEX task_tags;
CREATE INDEX task_watcher_usernames ON task USING gin (watcher_usernames jsonb_path_ops)
    WHERE watcher_usernames IS NOT NULL;
CREATE INDEX task_resolver_usernames ON task USING gin (resolver_usernames jsonb_path_ops)
    WHERE resolver_usernames IS NOT NULL;
CREATE INDEX task_watcher_groups ON task USING gin (watcher_groups)
    WHERE watcher_groups IS NOT NULL;
CREATE INDEX task_resolver_groups ON task USING gin (resolver_groups)
    WHERE resolver_groups IS NOT NULL;
CREATE INDEX task_tags ON task USING gin (tags jsonb_path_ops)
    WHERE tags IS NOT NULL;
