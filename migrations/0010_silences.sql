-- Silences (/silence <matcher> <duration> [reason]): while one is active, the
-- checks its matcher covers alert, remind and heal nobody. Kept after they
-- end or are removed, so /silences and the audit trail can say who silenced
-- what, when and why.
CREATE TABLE silences (
  id INTEGER PRIMARY KEY,
  matcher TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  until INTEGER NOT NULL,
  reason TEXT,
  removed_at INTEGER,
  removed_by TEXT
);
CREATE INDEX silences_active ON silences (until) WHERE removed_at IS NULL;
