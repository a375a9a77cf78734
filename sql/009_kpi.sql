-- KPIs (store::kpi) read the state periods that began in a range across every operator: a
-- range scan of this index, so a year of history does not slow today's wallboard.
CREATE INDEX operator_states_since ON operator_states (since) INCLUDE (operator, state, until);
