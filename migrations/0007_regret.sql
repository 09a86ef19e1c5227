-- The regret index: flags raised by the audit of scored actions. A flagged
-- category (all restarts) or action (restart of worker-a) is skipped by the
-- heal path until an operator clears the flag.
CREATE TABLE flags (
  id         INTEGER PRIMARY KEY,
  kind       TEXT    NOT NULL CHECK (kind IN ('category', 'action')),
  category   TEXT    NOT NULL,
  target     TEXT    NOT NULL DEFAULT '',   -- the check, for an action flag
  reason     TEXT    NOT NULL,
  flagged_at INTEGER NOT NULL,
  cleared_at INTEGER,
  cleared_by TEXT
);
CREATE UNIQUE INDEX flags_active ON flags (kind, category, target) WHERE cleared_at IS NULL;
CREATE INDEX actions_category_scored ON actions (category, scored_at);
