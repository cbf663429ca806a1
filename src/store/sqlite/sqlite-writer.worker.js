// The SQLite store's writer, on a worker thread so that commits (and their fsync) never
// block the event loop. Plain JavaScript: it runs as is under node and under jest.
// It receives batches of WriteOp (src/store/write-ops.ts) and answers, per op, null when
// it committed or the reason it did not.
import { parentPort, workerData } from 'node:worker_threads';
import Database from './sqlite-driver.js';

const { file, synchronous, historyMaxPerRoom, faultMarker } = workerData;
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${synchronous}`);
db.pragma('busy_timeout = 5000');

const sql = {
  insertRoom: db.prepare(
    `INSERT INTO rooms (id, name, private, owner, ttl_seconds, created_at, last_seq)
     VALUES (@id, @name, @private, @owner, @ttlSeconds, @createdAt, 0)`,
  ),
  deleteRoom: db.prepare('DELETE FROM rooms WHERE id = ?'),
  deleteRoomEvents: db.prepare('DELETE FROM room_events WHERE room_id = ?'),
  deleteRoomInvites: db.prepare('DELETE FROM invites WHERE room_id = ?'),
  deleteRoomReactions: db.prepare('DELETE FROM reactions WHERE room_id = ?'),
  deleteRoomReads: db.prepare('DELETE FROM read_state WHERE room_id = ?'),
  invite: db.prepare('INSERT OR IGNORE INTO invites (room_id, user_id) VALUES (?, ?)'),
  uninvite: db.prepare('DELETE FROM invites WHERE room_id = ? AND user_id = ?'),
  // Gapless: the event's seq must follow the room's last one exactly.
  advanceSeq: db.prepare(
    'UPDATE rooms SET last_seq = @seq WHERE id = @roomId AND last_seq = @seq - 1',
  ),
  insertEvent: db.prepare(
    'INSERT INTO room_events (room_id, seq, type, sender, body) VALUES (?, ?, ?, ?, ?)',
  ),
  trimEvents: db.prepare('DELETE FROM room_events WHERE room_id = ? AND seq <= ?'),
  trimReactions: db.prepare('DELETE FROM reactions WHERE room_id = ? AND seq <= ?'),
  // v2: a room_chat's state, changed in the transaction of the event that changes it.
  editMessage: db.prepare('UPDATE room_events SET edit = ? WHERE room_id = ? AND seq = ?'),
  deleteMessage: db.prepare(
    'UPDATE room_events SET deleted = 1, edit = NULL WHERE room_id = ? AND seq = ?',
  ),
  deleteReactions: db.prepare('DELETE FROM reactions WHERE room_id = ? AND seq = ?'),
  addReaction: db.prepare(
    `INSERT OR IGNORE INTO reactions (room_id, seq, emoji, user_id, created_at)
     VALUES (?, ?, ?, ?, ?)`,
  ),
  removeReaction: db.prepare(
    'DELETE FROM reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_id = ?',
  ),
  // Only for a room that exists: a mark never outlives its room.
  markRead: db.prepare(
    `INSERT INTO read_state (room_id, user_id, last_read)
     SELECT @roomId, @userId, @seq WHERE EXISTS (SELECT 1 FROM rooms WHERE id = @roomId)
     ON CONFLICT (room_id, user_id) DO UPDATE SET last_read = MAX(last_read, excluded.last_read)`,
  ),
  block: db.prepare('INSERT OR IGNORE INTO blocks (user_id, blocked_id) VALUES (?, ?)'),
  unblock: db.prepare('DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?'),
  insertSend: db.prepare(
    `INSERT INTO sends (user_id, client_msg_id, created_at, body, delivered)
     VALUES (@userId, @clientMsgId, @createdAt, @body, @delivered)`,
  ),
  insertMemo: db.prepare('INSERT INTO memos (id, recipient, created_at, body) VALUES (?, ?, ?, ?)'),
  probe: db.prepare(
    `INSERT INTO health (id, checked_at) VALUES (1, ?)
     ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`,
  ),
  deleteMemo: db.prepare('DELETE FROM memos WHERE id = ?'),
  pruneSends: db.prepare('DELETE FROM sends WHERE created_at < ?'),
};

function insertSend(send) {
  if (send === null) return;
  sql.insertSend.run({
    ...send,
    delivered: send.delivered === null ? null : Number(send.delivered),
  });
}

function applyEffect(roomId, effect) {
  switch (effect.kind) {
    case 'edit':
      sql.editMessage.run(effect.edit, roomId, effect.target);
      return;
    case 'delete':
      sql.deleteMessage.run(roomId, effect.target);
      sql.deleteReactions.run(roomId, effect.target);
      return;
    case 'react':
      if (effect.on) {
        sql.addReaction.run(roomId, effect.target, effect.emoji, effect.userId, effect.at);
      } else sql.removeReaction.run(roomId, effect.target, effect.emoji, effect.userId);
      return;
    default:
      throw new Error(`unknown effect ${effect.kind}`);
  }
}

function apply(op) {
  switch (op.kind) {
    case 'room': {
      const { room } = op;
      sql.insertRoom.run({
        id: room.id,
        name: room.name,
        private: room.private ? 1 : 0,
        owner: room.owner ?? null,
        ttlSeconds: room.ttlSeconds ?? null,
        createdAt: room.createdAt,
      });
      return;
    }
    case 'deleteRoom':
      sql.deleteRoomEvents.run(op.roomId);
      sql.deleteRoomInvites.run(op.roomId);
      sql.deleteRoomReactions.run(op.roomId);
      sql.deleteRoomReads.run(op.roomId);
      sql.deleteRoom.run(op.roomId);
      return;
    case 'invite':
      sql.invite.run(op.roomId, op.userId);
      return;
    case 'uninvite':
      sql.uninvite.run(op.roomId, op.userId);
      return;
    case 'event':
      if (sql.advanceSeq.run({ roomId: op.roomId, seq: op.seq }).changes !== 1) {
        throw new Error(`seq ${op.seq} of room ${op.roomId} does not follow the stored seq`);
      }
      sql.insertEvent.run(op.roomId, op.seq, op.type, op.sender, op.body);
      if (op.effect !== undefined) applyEffect(op.roomId, op.effect);
      if (op.seq > historyMaxPerRoom) {
        sql.trimEvents.run(op.roomId, op.seq - historyMaxPerRoom);
        sql.trimReactions.run(op.roomId, op.seq - historyMaxPerRoom);
      }
      insertSend(op.send);
      return;
    case 'send':
      insertSend(op.send);
      return;
    case 'memo':
      sql.insertMemo.run(op.id, op.recipient, op.createdAt, op.body);
      insertSend(op.send);
      return;
    case 'deleteMemos':
      for (const id of op.ids) sql.deleteMemo.run(id);
      return;
    case 'reads':
      for (const { roomId, userId, seq } of op.marks) sql.markRead.run({ roomId, userId, seq });
      return;
    case 'block':
      if (op.on) sql.block.run(op.userId, op.blockedId);
      else sql.unblock.run(op.userId, op.blockedId);
      return;
    case 'probe':
      sql.probe.run(op.at);
      return;
    default:
      throw new Error(`unknown write ${op.kind}`);
  }
}

const applyAll = db.transaction((ops) => {
  for (const op of ops) apply(op);
});
const applyOne = db.transaction((op) => apply(op));

let lastPrune = 0;

parentPort.on('message', (message) => {
  if (message.type === 'close') {
    db.close();
    parentPort.close(); // nothing else keeps the thread alive: it exits
    return;
  }
  const { id, ops, sendTtlMs } = message;
  let failures;
  try {
    applyAll(ops);
    failures = ops.map(() => null);
    if (
      faultMarker !== null &&
      ops.some((op) => op.kind === 'event' && op.body.includes(faultMarker))
    ) {
      // Tests only: committed, but the confirmation is "lost" on its way back.
      failures = ops.map(() => 'injected fault: committed, then reported failed');
    }
  } catch {
    // One bad write must not sink the others: retry each on its own.
    failures = ops.map((op) => {
      try {
        applyOne(op);
        return null;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    });
  }
  const now = Date.now();
  if (now - lastPrune > 60_000) {
    lastPrune = now;
    sql.pruneSends.run(now - sendTtlMs);
  }
  parentPort.postMessage({ type: 'batch', id, failures });
});
