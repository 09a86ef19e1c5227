-- Chat: the persisted outbox, questions waiting for an answer, de-duplication
-- of incoming updates, channel cursors, and the state /disable-surgery sets.

-- Every outgoing message, per channel, written before it is sent. Delivered in
-- id order per channel; `key` makes a message unique per channel (idempotency).
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  channel         TEXT    NOT NULL,
  key             TEXT    NOT NULL,
  payload         TEXT    NOT NULL CHECK (json_valid(payload)),
  status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  platform_id     TEXT,
  UNIQUE (channel, key)
);
CREATE INDEX outbox_pending ON outbox (channel, id) WHERE status = 'pending';

-- A question Nightshift asked (consent, a proposal): answered once, by an
-- authorised operator, on any channel; `code` is the one-time code shown in
-- the push, which ntfy replies must carry.
CREATE TABLE questions (
  id               TEXT    PRIMARY KEY,
  kind             TEXT    NOT NULL,
  subject          TEXT    NOT NULL,
  prompt           TEXT    NOT NULL,
  code             TEXT    NOT NULL UNIQUE,
  required_role    TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'answered', 'expired')),
  answer           TEXT    CHECK (answer IS NULL OR answer IN ('yes', 'no')),
  answered_by      TEXT,
  answered_channel TEXT,
  answered_at      INTEGER,
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL
);
CREATE INDEX questions_pending ON questions (status, expires_at);

-- Which platform message carried which question (a Telegram reply points at its message).
CREATE TABLE question_messages (
  channel     TEXT NOT NULL,
  platform_id TEXT NOT NULL,
  question_id TEXT NOT NULL REFERENCES questions (id),
  PRIMARY KEY (channel, platform_id)
);

-- Incoming updates already handled, by platform id: a redelivered update is ignored.
CREATE TABLE seen_updates (
  channel   TEXT    NOT NULL,
  update_id TEXT    NOT NULL,
  at        INTEGER NOT NULL,
  PRIMARY KEY (channel, update_id)
);

-- Where each channel resumes reading (Telegram offset, ntfy message id).
CREATE TABLE cursors (
  channel TEXT PRIMARY KEY,
  value   TEXT NOT NULL,
  at      INTEGER NOT NULL
);

-- One-time action tokens (ntfy buttons) already used.
CREATE TABLE used_tokens (
  token_id TEXT PRIMARY KEY,
  used_at  INTEGER NOT NULL
);

-- Switches an operator sets from chat: surgery enabled/disabled, and later the
-- consent answers. Survives restarts.
CREATE TABLE switches (
  name       TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  changed_at INTEGER NOT NULL,
  changed_by TEXT NOT NULL,
  channel    TEXT NOT NULL
);

ALTER TABLE incidents ADD COLUMN last_notified_at INTEGER;
