-- The latest evidence of every check: when it last ran, when it was last
-- healthy, how long it took and what it said. One row per check, rewritten
-- on every run; /status, /healthz and staleness are computed from it.
CREATE TABLE check_state (
  name                 TEXT PRIMARY KEY,
  kind                 TEXT    NOT NULL,
  severity             TEXT    NOT NULL,
  status               TEXT    NOT NULL CHECK (status IN ('unknown', 'ok', 'failing')),
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_run_at          INTEGER,
  last_ok_at           INTEGER,
  last_change_at       INTEGER,
  last_duration_ms     REAL,
  last_message         TEXT,
  runs                 INTEGER NOT NULL DEFAULT 0,
  failures             INTEGER NOT NULL DEFAULT 0
);

-- Small named values the bot keeps across restarts (start counts, cursors).
CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
