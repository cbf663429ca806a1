/**
 * Helpers shared by the e2e specs (test/e2e): the per-test app harness, message
 * predicates, markers and common assertions. Built on chat-app.ts.
 */
import { afterEach, beforeEach, expect } from '@jest/globals';
import type { ChatMessage } from '../../src/contract/events.js';
import { Clients, startApp, type RunningApp, type TestClient } from './chat-app.js';

/** The sender of every server-made message. */
export const SYSTEM = { id: 'system', name: 'system' };

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

// ---- assertions ------------------------------------------------------------------------

/** Asserts that the message is there and has none of the given keys. */
export function expectAbsent(message: ChatMessage | undefined, ...keys: string[]): void {
  expect(message).toBeDefined();
  for (const key of keys) expect(Object.hasOwn(message as ChatMessage, key)).toBe(false);
}
