/**
 * Half-open engine.io sessions, against the built service as a real process, with plain
 * HTTP requests: a session that never sends its socket.io CONNECT is closed after
 * HANDSHAKE_TIMEOUT_MS, and one address holds at most MAX_PENDING_HANDSHAKES_PER_IP of them
 * (engine.io answers the next handshake 403) until they connect or close. Also: no
 * `X-Powered-By` header.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { io } from 'socket.io-client';
import { ServerProcess } from '../support/server-process.js';

const BOUND = 50;
const HANDSHAKE_TIMEOUT_MS = 1000;

interface PollResult {
  status: number;
  body: string;
}

describe('half-open engine.io sessions', () => {
  let server: ServerProcess;
  let url = '';

  beforeAll(async () => {
    server = new ServerProcess({
      STORE: 'memory',
      HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
      MAX_PENDING_HANDSHAKES_PER_IP: String(BOUND),
      // The socket.io CONNECT rate has a test of its own: here only the bound under test.
      CONNECT_RATE_PER_IP: '0',
    });
    url = await server.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  const engineUrl = (sid?: string): string =>
    `${url}/socket.io/?EIO=4&transport=polling` + (sid === undefined ? '' : `&sid=${sid}`);

  /** An engine.io polling handshake: its sid (the open packet is "0" and JSON). */
  async function handshake(): Promise<string> {
    const response = await fetch(engineUrl());
    const body = await response.text();
    if (response.status !== 200) throw new Error(`handshake: ${response.status} ${body}`);
    expect(body.startsWith('0')).toBe(true);
    return (JSON.parse(body.slice(1)) as { sid: string }).sid;
  }

  function handshakes(count: number): Promise<string[]> {
    return Promise.all(Array.from({ length: count }, () => handshake()));
  }

  /** A long poll: what the server sends the session next, or its refusal. */
  async function poll(sid: string): Promise<PollResult> {
    const response = await fetch(engineUrl(sid));
    return { status: response.status, body: await response.text() };
  }

  /** Sends engine.io packets to the session. */
  async function send(sid: string, packets: string): Promise<void> {
    const response = await fetch(engineUrl(sid), {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: packets,
    });
    expect({ status: response.status, body: await response.text() }).toEqual({
      status: 200,
      body: 'ok',
    });
  }

  /** engine.io's close packet: the server ends the session before answering. */
  const closeSession = (sid: string): Promise<void> => send(sid, '1');

  it('should refuse a handshake past the bound with 403 and let a real client in once the half-open ones timed out', async () => {
    // An attacker's sessions, each long-polling: the server answers the poll when it closes it.
    const sessions = await Promise.all(
      Array.from({ length: BOUND }, async () => ({ closed: poll(await handshake()) })),
    );

    const refused = await fetch(engineUrl());
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ code: 4, message: 'RATE_LIMITED' });
    // A WebSocket handshake opens a session too: refused all the same.
    const overWebSocket = io(url, {
      auth: { userId: 'alice' },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    await new Promise<void>((resolve, reject) => {
      overWebSocket.once('connect', () => reject(new Error('connected past the bound')));
      overWebSocket.once('connect_error', () => resolve());
    });
    overWebSocket.disconnect();

    // After HANDSHAKE_TIMEOUT_MS each gets engine.io's close packet, "1".
    expect(await Promise.all(sessions.map((session) => session.closed))).toEqual(
      Array.from({ length: BOUND }, () => ({ status: 200, body: '1' })),
    );

    // A real client from the same address (default transports: polling, then the upgrade).
    const client = io(url, { auth: { userId: 'alice' }, reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('connect_error', (error) => reject(error));
      });
      expect(client.connected).toBe(true);
    } finally {
      client.disconnect();
    }
  });

  it('should close a session that never sends its CONNECT after HANDSHAKE_TIMEOUT_MS', async () => {
    const started = Date.now();
    const sid = await handshake();

    expect(await poll(sid)).toEqual({ status: 200, body: '1' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 4000);

    // The sid is gone: engine.io answers 400 "Session ID unknown".
    const later = await poll(sid);
    expect(later.status).toBe(400);
    expect(JSON.parse(later.body)).toEqual({ code: 1, message: 'Session ID unknown' });
  });

  it('should give a session its slot back once it completes its CONNECT', async () => {
    // Each sends the socket.io CONNECT ("4" message, "0" CONNECT, then the auth) at once.
    const connected = await Promise.all(
      Array.from({ length: BOUND }, async (_, n) => {
        const sid = await handshake();
        await send(sid, `40${JSON.stringify({ userId: `user${n}` })}`);
        return sid;
      }),
    );
    // The server's CONNECT back ("40{sid}") means the socket.io connection is complete.
    for (const reply of await Promise.all(connected.map((sid) => poll(sid)))) {
      expect(reply.status).toBe(200);
      expect(reply.body).toMatch(/^40\{"sid":/);
    }

    // Still open, but connected: the whole bound is free again, and no more than it.
    const pending = await handshakes(BOUND);
    expect((await fetch(engineUrl())).status).toBe(403);

    await Promise.all([...connected, ...pending].map(closeSession));
    // Closed sessions gave theirs back too.
    const again = await handshakes(BOUND);
    await Promise.all(again.map(closeSession));
  });

  it('should not count a WebSocket handshake that failed after it was allowed', async () => {
    // Allowed (no Origin), then refused by the WebSocket server: no Sec-WebSocket-Key.
    const statuses = await Promise.all(Array.from({ length: BOUND + 10 }, () => badUpgrade()));
    expect(new Set(statuses)).toEqual(new Set([400]));

    const sids = await handshakes(BOUND);
    expect((await fetch(engineUrl())).status).toBe(403);
    await Promise.all(sids.map(closeSession));
  });

  it.each(['/health', '/api/snapshot'])(
    'should send no x-powered-by header on %s',
    async (path) => {
      const response = await fetch(`${url}${path}`);
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      expect(response.headers.get('x-powered-by')).toBeNull();
    },
  );

  /** A WebSocket upgrade request without a key: resolves with the HTTP status it gets. */
  function badUpgrade(): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${url}/socket.io/?EIO=4&transport=websocket`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' },
      });
      request.once('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.once('upgrade', () => reject(new Error('upgraded without a key')));
      request.once('error', reject);
      request.end();
    });
  }
});
