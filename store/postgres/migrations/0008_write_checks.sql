-- 0008_write_checks: utask_fail, the failure of a write whose check does
-- not hold.
--
-- A transaction sends its deferred writes and its COMMIT in one round trip.
-- A write that finds nothing to write (a row not there, a resolution held
-- by another instance) must then stop the COMMIT itself: it fails on the
-- server, which skips the rest of the round trip. The statements call
-- utask_fail in the branch of a CASE that only a failed check reaches (a
-- volatile function is never evaluated ahead of its branch).
--
-- The error codes the store reads back: P0002 (no_data_found) for a row
-- that is not there, UT409 for a taken public id, UT423 for a resolution
-- another instance holds.
CREATE FUNCTION utask_fail(code text, message text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END
$$;
