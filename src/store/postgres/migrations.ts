/**
 * Versioned schema of the PostgreSQL store, applied in order under an advisory lock so
 * that instances starting together do not race. Append new versions, never edit one.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: rooms, their events with a gapless seq, invitations, memos, idempotency records.
  `
  CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    private     BOOLEAN NOT NULL,
    owner       TEXT,
    ttl_seconds INTEGER,
    created_at  TEXT NOT NULL,
    last_seq    BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE room_events (
    room_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (room_id, seq)
  );
  CREATE TABLE invites (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE TABLE memos (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    position   BIGSERIAL,
    body       TEXT NOT NULL
  );
  CREATE INDEX memos_by_recipient ON memos (recipient, created_at, position);
  CREATE TABLE sends (
    user_id       TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    body          TEXT NOT NULL,
    delivered     BOOLEAN,
    PRIMARY KEY (user_id, client_msg_id)
  );
  CREATE INDEX sends_by_age ON sends (created_at);
  `,
  // 2: memos are read in pages by position; a one-row table that readiness probes write to.
  `
  DROP INDEX memos_by_recipient;
  CREATE INDEX memos_by_recipient ON memos (recipient, position);
  CREATE TABLE health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT NOT NULL
  );
  `,
  // 3: cluster mode. Instances hold a lease; each room has one owner instance and a fencing
  //    epoch that every write of the room checks; members are stored with the room so a new
  //    owner keeps them; a memo is claimed by the instance delivering it.
  `
  CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
  );
  ALTER TABLE rooms ADD COLUMN owner_instance TEXT;
  ALTER TABLE rooms ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0;
  CREATE TABLE room_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_members_by_user ON room_members (user_id);
  ALTER TABLE memos ADD COLUMN claimed_by TEXT;
  ALTER TABLE memos ADD COLUMN claimed_until BIGINT;
  `,
  // 4: owner epochs come from one sequence, so a room id made again never reuses an epoch of
  //    its earlier life (an old owner's write fenced by it would pass).
  `
  CREATE SEQUENCE room_owner_epochs;
  SELECT setval('room_owner_epochs', GREATEST((SELECT COALESCE(MAX(owner_epoch), 0) FROM rooms), 1));
  `,
  // 5: contract v2. Each event's type and sender beside its body (unread counts); a room_chat's
  //    latest edit and deletion with it; reactions, read marks and blocks.
  `
  ALTER TABLE room_events ADD COLUMN type TEXT NOT NULL DEFAULT '';
  ALTER TABLE room_events ADD COLUMN sender TEXT NOT NULL DEFAULT '';
  ALTER TABLE room_events ADD COLUMN edit TEXT;
  ALTER TABLE room_events ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
  UPDATE room_events
     SET type = body::jsonb->>'type', sender = body::jsonb->'sender'->>'id';
  CREATE TABLE reactions (
    room_id    TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id)
  );
  CREATE TABLE read_state (
    room_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    last_read BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE TABLE blocks (
    user_id    TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
  );
  `,
];
