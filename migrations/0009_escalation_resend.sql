-- An unacknowledged critical escalation is re-sent, louder, every
-- chat.escalateAfter: how many times it has gone out, and when last, so a
-- restart neither resends early nor starts the ladder again.
ALTER TABLE incidents ADD COLUMN escalation_sends INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN escalation_sent_at INTEGER;
