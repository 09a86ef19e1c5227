-- The structured event log: every failure, recovery, heal, skip, escalation
-- and consent change is one row. Diagnosis reads it later, so it is
-- append-only: rows are never rewritten.
CREATE TABLE events (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,            -- ms since epoch
  type      TEXT    NOT NULL,            -- e.g. check.failed, check.recovered, instance.started
  subject   TEXT    NOT NULL,            -- what it is about: a check name, "nightshift", a channel
  severity  TEXT    NOT NULL CHECK (severity IN ('debug', 'info', 'warning', 'critical')),
  context   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(context))
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_subject_at ON events (subject, at);
CREATE INDEX events_type_at ON events (type, at);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'events are append-only');
END;
