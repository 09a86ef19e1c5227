-- The audit trail (DESIGN.md, Data rules): approvals, consent changes and
-- operator decisions, append-only and hash-chained, so `nightshift audit
-- verify` can prove no row was changed, removed or inserted afterwards.
CREATE TABLE audit (
  id        INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  subject   TEXT    NOT NULL,
  detail    TEXT    NOT NULL CHECK (json_valid(detail)),
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL UNIQUE
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
  SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
  SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
