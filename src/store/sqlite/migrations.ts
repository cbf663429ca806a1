/**
 * Versioned schema of the SQLite store; PRAGMA user_version records how far a file is.
 * Append new versions, never edit a released one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: rooms, their events with a gapless seq, invitations, memos, idempotency records.
  `
  CREATE TABLE rooms (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    private     INTEGER NOT NULL,
    owner       TEXT,
    ttl_seconds INTEGER,
    created_at  TEXT NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE room_events (
    room_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (room_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE invites (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE memos (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
  );
  CREATE INDEX memos_by_recipient ON memos (recipient, created_at);
  CREATE TABLE sends (
    user_id       TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    body          TEXT NOT NULL,
    delivered     INTEGER,
    PRIMARY KEY (user_id, client_msg_id)
  ) WITHOUT ROWID;
  CREATE INDEX sends_by_age ON sends (created_at);
  `,
  // 2: memos get a position that only grows (the cursor of delivery in pages); a one-row
  //    table that readiness probes write to.
  `
  CREATE TABLE memos_v2 (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    recipient  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT NOT NULL
  );
  INSERT INTO memos_v2 (id, recipient, created_at, body)
    SELECT id, recipient, created_at, body FROM memos ORDER BY created_at, rowid;
  DROP TABLE memos;
  ALTER TABLE memos_v2 RENAME TO memos;
  CREATE INDEX memos_by_recipient ON memos (recipient, position);
  CREATE TABLE health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
  );
  `,
  // 3: contract v2. Each event's type and sender beside its body (unread counts); a room_chat's
  //    latest edit and deletion with it; reactions, read marks and blocks.
  `
  ALTER TABLE room_events ADD COLUMN type TEXT NOT NULL DEFAULT '';
  ALTER TABLE room_events ADD COLUMN sender TEXT NOT NULL DEFAULT '';
  ALTER TABLE room_events ADD COLUMN edit TEXT;
  ALTER TABLE room_events ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
  UPDATE room_events
     SET type = json_extract(body, '$.type'), sender = json_extract(body, '$.sender.id');
  CREATE TABLE reactions (
    room_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE read_state (
    room_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    last_read INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) WITHOUT ROWID;
  CREATE TABLE blocks (
    user_id    TEXT NOT NULL,
    blocked_id TEXT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
  ) WITHOUT ROWID;
  `,
];
