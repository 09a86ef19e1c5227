-- Level-1 recovery: incidents, heal actions (scored later by the regret
-- index), escalations, heartbeat pings and per-check probe state.

ALTER TABLE check_state ADD COLUMN last_details TEXT CHECK (last_details IS NULL OR json_valid(last_details));
ALTER TABLE check_state ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE check_state ADD COLUMN muted_until INTEGER;
-- Heal bookkeeping for the cooldown: when the last heal ran, whether it held
-- (the check stayed healthy through its next patrol), and how many heals in a
-- row did not hold (the backoff exponent).
ALTER TABLE check_state ADD COLUMN last_heal_at INTEGER;
ALTER TABLE check_state ADD COLUMN heal_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE check_state ADD COLUMN unheld_heals INTEGER NOT NULL DEFAULT 0;

-- A failure that lasted failAfter runs. A symptom points at the incident of
-- the dependency that caused it (root_id) and is never healed on its own.
CREATE TABLE incidents (
  id            INTEGER PRIMARY KEY,
  check_name    TEXT    NOT NULL,
  severity      TEXT    NOT NULL,
  opened_at     INTEGER NOT NULL,
  closed_at     INTEGER,
  root_id       INTEGER REFERENCES incidents (id),
  first_message TEXT    NOT NULL,
  last_message  TEXT    NOT NULL,
  failures      INTEGER NOT NULL DEFAULT 1,
  escalated_at  INTEGER,
  acked_at      INTEGER,
  acked_by      TEXT
);
CREATE INDEX incidents_open ON incidents (check_name) WHERE closed_at IS NULL;
CREATE INDEX incidents_opened ON incidents (opened_at);

-- Every autonomous action (heal step, escalation): what, on what, why, and
-- how it went. score/scored_at are filled in by the regret index.
CREATE TABLE actions (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  category    TEXT    NOT NULL,          -- restart, command, rotate-log, ..., escalate
  target      TEXT    NOT NULL,          -- the check it acted for
  trigger     TEXT    NOT NULL,          -- e.g. incident:12
  incident_id INTEGER REFERENCES incidents (id),
  result      TEXT    NOT NULL CHECK (result IN ('ok', 'failed', 'skipped')),
  message     TEXT    NOT NULL,
  details     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
  score       INTEGER CHECK (score IS NULL OR score BETWEEN -2 AND 1),
  scored_at   INTEGER,
  score_note  TEXT
);
CREATE INDEX actions_target_at ON actions (target, at);
CREATE INDEX actions_at ON actions (at);

CREATE TABLE escalations (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  check_name  TEXT    NOT NULL,
  incident_id INTEGER REFERENCES incidents (id),
  day         TEXT    NOT NULL,          -- YYYY-MM-DD in the bot's time zone: one per check per day
  reason      TEXT    NOT NULL,
  file        TEXT,
  UNIQUE (check_name, day)
);

-- Dead-man's-switch pings from jobs (/ping/<name>, /start, /fail).
CREATE TABLE heartbeats (
  name          TEXT PRIMARY KEY,
  last_ping_at  INTEGER,
  last_start_at INTEGER,
  last_fail_at  INTEGER,
  last_fail_body TEXT,
  pings         INTEGER NOT NULL DEFAULT 0
);

-- State a probe keeps across restarts of Nightshift (a supervised child's pid, a log offset).
CREATE TABLE probe_state (
  check_name TEXT PRIMARY KEY,
  value      TEXT NOT NULL CHECK (json_valid(value))
);
