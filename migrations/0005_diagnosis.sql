-- Level 2: diagnoses (the deterministic causal analysis, the LLM's
-- explanation when it answered) and the fixes they propose.

CREATE TABLE diagnoses (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  trigger     TEXT    NOT NULL,          -- recurrence, weekly, command
  signature   TEXT,                      -- the failure signature that triggered it
  subject     TEXT,                      -- the check asked about, if any
  analysis    TEXT    NOT NULL CHECK (json_valid(analysis)),
  llm         TEXT    CHECK (llm IS NULL OR json_valid(llm)),
  llm_error   TEXT,
  message     TEXT    NOT NULL
);
CREATE INDEX diagnoses_signature_at ON diagnoses (signature, at);

CREATE TABLE proposals (
  id           TEXT    PRIMARY KEY,      -- short id, e.g. p12
  diagnosis_id INTEGER NOT NULL REFERENCES diagnoses (id),
  kind         TEXT    NOT NULL CHECK (kind IN ('steps', 'command', 'diff')),
  content      TEXT    NOT NULL CHECK (json_valid(content)),
  summary      TEXT    NOT NULL,
  question_id  TEXT    NOT NULL REFERENCES questions (id),
  status       TEXT    NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'rejected', 'expired')),
  decided_by   TEXT,
  decided_at   INTEGER,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
