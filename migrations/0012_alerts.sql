-- Alerts received from Prometheus Alertmanager on POST /alertmanager, one row
-- per alert (Alertmanager's fingerprint of its labels). A firing alert stays
-- firing until Alertmanager says it resolved, across restarts of Nightshift;
-- `alert` checks read this table, so remote alerts become incidents like
-- local failures.
CREATE TABLE alerts (
  fingerprint TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
  labels TEXT NOT NULL,
  annotations TEXT NOT NULL,
  starts_at INTEGER,
  ends_at INTEGER,
  group_key TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX alerts_firing ON alerts (status) WHERE status = 'firing';
