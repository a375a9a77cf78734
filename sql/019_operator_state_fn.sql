-- An operator's state change placed in their timeline (see `store::operators`): the period
-- the change falls in ends at its time and the new state lasts until that period's old end
-- (the open one: until further notice), so periods never overlap even when changes reach
-- the database out of order. One function for the ACD's journal writes and the CLI's.
--
-- A function, not one statement, because of the lock: under READ COMMITTED a statement's
-- snapshot is taken before it waits for the lock on the operator, so a single statement
-- that locks and then reads the open period reads it as it was before the writer it waited
-- for committed. Two writers then both closed the same period and both opened one; the
-- unique index `operator_states_open` refused the second and its state was lost. In
-- PL/pgSQL each statement takes a fresh snapshot, so the reads after the lock see it.
-- Returns false (and writes nothing) for an unknown operator.
CREATE FUNCTION contactd_record_operator_state(
    p_operator bigint, p_state text, p_reason text, p_at timestamptz
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    cut_id    bigint;
    old_until timestamptz;
BEGIN
    PERFORM 1 FROM operators WHERE id = p_operator FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- the period the change falls in: the latest that began at or before it
    SELECT id, until INTO cut_id, old_until FROM operator_states
     WHERE operator = p_operator AND since <= p_at
     ORDER BY since DESC, id DESC LIMIT 1;
    IF FOUND THEN
        UPDATE operator_states SET until = p_at WHERE id = cut_id;
    ELSE
        -- before the first period logged: it lasts until that one began
        SELECT min(since) INTO old_until FROM operator_states WHERE operator = p_operator;
    END IF;
    INSERT INTO operator_states (operator, state, reason, since, until)
    VALUES (p_operator, p_state, p_reason, p_at, old_until);
    RETURN true;
END $$;
