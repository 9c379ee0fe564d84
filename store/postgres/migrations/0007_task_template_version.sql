-- 0007_task_template_version: task.template_version_id is no longer a
-- foreign key, and has no index.
--
-- Every task of a template refers to the same template_version row: the
-- foreign key made each task insert lock that one row (FOR KEY SHARE, a
-- logged row lock, and a multixact as soon as two creations overlap), the
-- hottest row of the database under load. utask never removes a template
-- version (versions are kept for the tasks that ran them), and a task
-- insert reads its version from template_version anyway, refusing an
-- unknown one; the index served only the foreign key's check of a removal.
-- A version removed by hand leaves its tasks unable to run, as any damaged
-- row would.
ALTER TABLE task DROP CONSTRAINT task_template_version_id_fkey;
DROP INDEX task_template_version;
