/**
 * Helpers shared by the e2e specs (test/e2e): the per-test app harness, message
 * predicates, markers and common assertions. Built on chat-app.ts.
 */
import { afterEach, beforeEach, expect } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import type { ChatMessage, ErrorCode, Reply } from '../../src/contract/events.js';
import { Clients, startApp, type RunningApp, type TestClient } from './chat-app.js';

/** The sender of every server-made message. */
export const SYSTEM = { id: 'system', name: 'system' };

/** A message id. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A timestamp as `Date.toISOString()` writes it. */
export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Send limits out of the way, for tests that fill a room. */
export const HIGH_RATE = { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SECOND: '100000' };

// ---- harness ---------------------------------------------------------------------------

export interface Harness {
  app: RunningApp;
  clients: Clients;
}

/** A fresh app (and client tracker) for every test of the enclosing describe. */
export function useApp(env: Record<string, string> = {}): Harness {
  const h: Partial<Harness> = {};
  beforeEach(async () => {
    h.app = await startApp(env);
    const app = h.app;
    h.clients = new Clients(() => app.url);
  });
  afterEach(async () => {
    const { app, clients } = h;
    h.app = undefined;
    h.clients = undefined;
    clients?.closeAll();
    await app?.close();
  });
  return h as Harness;
}

// ---- message predicates ----------------------------------------------------------------

export const joinOf = (roomId: string, userId: string) => (m: ChatMessage) =>
  m.type === 'room_join' && m.roomId === roomId && m.user?.id === userId;
export const leaveOf = (roomId: string, userId: string) => (m: ChatMessage) =>
  m.type === 'room_leave' && m.roomId === roomId && m.user?.id === userId;
export const withId = (id: string) => (m: ChatMessage) => m.id === id;
export const connectOf = (userId: string) => (m: ChatMessage) =>
  m.type === 'user_connect' && m.user?.id === userId;
export const disconnectOf = (userId: string) => (m: ChatMessage) =>
  m.type === 'user_disconnect' && m.user?.id === userId;

// ---- untyped sends --------------------------------------------------------------------

/** The client's socket without the contract's types: any event name, any arguments. */
export function raw(client: TestClient): Socket {
  return client.socket as unknown as Socket;
}

/** Emits any event name with any arguments and resolves with the ack. */
export function rawRequest(
  client: TestClient,
  event: string,
  ...args: unknown[]
): Promise<unknown> {
  return raw(client)
    .timeout(3000)
    .emitWithAck(event, ...args);
}

// ---- markers ---------------------------------------------------------------------------

let markerCount = 0;

/** The next number for a marker's content; one counter per spec file. */
export function nextMarker(): number {
  return ++markerCount;
}

/**
 * Sends a room message and waits until every receiver has it. Within one room messages
 * arrive in seq order, so whatever the room produced before the marker has arrived too.
 */
export async function roomMarker(
  sender: TestClient,
  roomId: string,
  receivers: TestClient[],
): Promise<ChatMessage> {
  const { message } = await sender.ok('room:message', {
    roomId,
    content: `marker ${nextMarker()}`,
  });
  await Promise.all(receivers.map((r) => r.waitFor(withId(message.id))));
  return message;
}

/** Like roomMarker, with a memo: the user's own channel. */
export async function memoMarker(
  sender: TestClient,
  to: string,
  receivers: TestClient[],
): Promise<ChatMessage> {
  const { message } = await sender.ok('memo:send', { to, content: `memo marker ${nextMarker()}` });
  await Promise.all(receivers.map((r) => r.waitFor(withId(message.id))));
  return message;
}

// ---- room history ----------------------------------------------------------------------

/** Sends `count` room messages back to back (acks awaited together). */
export async function fill(
  client: TestClient,
  roomId: string,
  count: number,
): Promise<ChatMessage[]> {
  const replies = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.ok('room:message', { roomId, content: `m${i}` }),
    ),
  );
  return replies.map((r) => r.message);
}

export function seqs(messages: ChatMessage[]): number[] {
  return messages.map((m) => m.seq ?? Number.NaN);
}

/** The integers from `from` to `to`, both included. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

// ---- assertions ------------------------------------------------------------------------

/** Asserts that the message is there and has none of the given keys. */
export function expectAbsent(message: ChatMessage | undefined, ...keys: string[]): void {
  expect(message).toBeDefined();
  for (const key of keys) expect(Object.hasOwn(message as ChatMessage, key)).toBe(false);
}

/** Asserts an error reply with the given code and some message. */
export function expectError(reply: unknown, code: ErrorCode): void {
  expect(reply).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
}

/** The success data of a reply; throws on an error reply. */
export function data<T extends object>(reply: Reply<T>): T {
  if (!reply.ok)
    throw new Error(`unexpected error reply: ${reply.error.code} ${reply.error.message}`);
  return reply;
}
