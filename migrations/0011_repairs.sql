-- Level 3: repairs. A proposal is now vetted before anyone is asked: one that
-- cannot be applied is kept as "unfit" (diagnosis only) with the reason, and
-- has no question. SQLite cannot relax a NOT NULL or widen a CHECK in place,
-- so proposals is rebuilt (nothing references it yet).

CREATE TABLE proposals_new (
  id           TEXT    PRIMARY KEY,
  diagnosis_id INTEGER NOT NULL REFERENCES diagnoses (id),
  kind         TEXT    NOT NULL CHECK (kind IN ('steps', 'command', 'diff')),
  content      TEXT    NOT NULL CHECK (json_valid(content)),
  summary      TEXT    NOT NULL,
  question_id  TEXT    REFERENCES questions (id),      -- null: never asked (unfit)
  status       TEXT    NOT NULL DEFAULT 'proposed'
                       CHECK (status IN ('proposed', 'approved', 'rejected', 'expired', 'unfit', 'cancelled', 'needs_human')),
  decided_by   TEXT,
  decided_at   INTEGER,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  target       TEXT,                                  -- the repair target it applies to
  signature    TEXT,                                  -- the failure it is meant to fix
  checked      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(checked)),  -- what was checked before asking
  unfit_reason TEXT
);
INSERT INTO proposals_new (id, diagnosis_id, kind, content, summary, question_id, status, decided_by, decided_at, created_at, expires_at)
  SELECT id, diagnosis_id, kind, content, summary, question_id, status, decided_by, decided_at, created_at, expires_at FROM proposals;
DROP TABLE proposals;
ALTER TABLE proposals_new RENAME TO proposals;
CREATE INDEX proposals_question ON proposals (question_id);

-- One row per repair (at most one per proposal); `state` is committed before
-- each step acts, so a restart knows what to finish or undo.
CREATE TABLE repairs (
  id          TEXT    PRIMARY KEY,                    -- the proposal's id
  proposal_id TEXT    NOT NULL UNIQUE REFERENCES proposals (id),
  target      TEXT    NOT NULL,
  signature   TEXT    NOT NULL,
  state       TEXT    NOT NULL CHECK (state IN ('backing-up', 'applying', 'verifying', 'committing', 'committed',
                                                'rolling-back', 'rolled-back', 'cancelled', 'interrupted', 'restore-failed')),
  by          TEXT    NOT NULL,                       -- who started it (auto-repair, or /apply)
  backup      TEXT    CHECK (backup IS NULL OR json_valid(backup)),
  tests       TEXT    CHECK (tests IS NULL OR json_valid(tests)),  -- the ratchet's counts after the change
  commit_sha  TEXT,
  reason      TEXT,                                   -- why it failed or was cancelled
  child_pid   INTEGER,                                -- the process group of the step's command while it runs
  started_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX repairs_target_state ON repairs (target, state);
CREATE INDEX repairs_signature ON repairs (signature, state);

-- The ratchet: the best test counts each target has reached. Only moves forward.
CREATE TABLE ratchet_baselines (
  target      TEXT    PRIMARY KEY,
  passed      INTEGER NOT NULL,
  failed      INTEGER NOT NULL,
  format      TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL,
  repair_id   TEXT                                    -- null: the first run, before any repair
);
