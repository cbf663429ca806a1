/**
 * Hostile input (issue #6, "Trust") at every admin HTTP route: random and malformed paths,
 * queries and bodies, generated with fast-check. docs/PROTOCOL.md, "HTTP": never a 5xx, errors
 * are JSON `{ statusCode, error, message }`, a bad body is a 400 (checked before the room or
 * user is looked up); and the chat goes on for two bystanders in the meantime.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Clients, startApp, type RunningApp, type TestClient } from '../support/chat-app.js';
import { HIGH_RATE, roomMarker } from '../support/e2e.js';
import {
  anything,
  ATTACKER,
  BYSTANDERS,
  deepJson,
  fieldValue,
  hostileValue,
  joinBystanders,
  prototypeKeys,
  ROOM,
  runs,
  weirdNumber,
  weirdString,
} from '../support/hostile.js';

// ---- requests ------------------------------------------------------------------------------

interface HttpCall {
  method: string;
  path: string;
  query: string;
  body?: string;
  contentType?: string;
}

interface Route {
  method: string;
  /** Builds the path from encoded segments. */
  path: (a: string, b: string) => string;
  /** Whether the route reads a JSON body (so a non-object one is a 400). */
  body: boolean;
}

const ROUTES: Record<string, Route> = {
  'GET /api/snapshot': { method: 'GET', path: () => '/api/snapshot', body: false },
  'POST /api/rooms': { method: 'POST', path: () => '/api/rooms', body: true },
  'PUT /api/rooms/:id': { method: 'PUT', path: (a) => `/api/rooms/${a}`, body: true },
  'DELETE /api/rooms/:id': { method: 'DELETE', path: (a) => `/api/rooms/${a}`, body: false },
  'POST /api/rooms/:id/members': {
    method: 'POST',
    path: (a) => `/api/rooms/${a}/members`,
    body: true,
  },
  'DELETE /api/rooms/:id/members/:userId': {
    method: 'DELETE',
    path: (a, b) => `/api/rooms/${a}/members/${b}`,
    body: false,
  },
  'POST /api/rooms/:id/notices': {
    method: 'POST',
    path: (a) => `/api/rooms/${a}/notices`,
    body: true,
  },
  'POST /api/users/:id/disconnect': {
    method: 'POST',
    path: (a) => `/api/users/${a}/disconnect`,
    body: false,
  },
};

/** UTF-8 percent-encoding that also takes lone surrogates (as U+FFFD, as a browser would). */
const encode = (text: string) => encodeURIComponent(text.toWellFormed());

/** A path segment: an id the app knows, random text, or malformed escapes. Never a bystander. */
const pathSegment = fc.oneof(
  fc.constantFrom(ROOM, 'game', 'ghost', 'mine', ATTACKER, '__proto__', 'constructor', 'system'),
  fc.string({ unit: 'binary', maxLength: 70 }).map(encode),
  weirdString.filter((s) => s.length < 500).map(encode),
  fc.constantFrom(
    '%',
    '%ZZ',
    '%00',
    '%2F',
    '%2e%2e',
    '%C0%AF',
    '%ED%A0%80',
    '%FF',
    '%u0041',
    'a'.repeat(5000),
    '..%2F..%2Fetc',
    '%252F',
  ),
);

const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.string({ unit: 'binary-ascii', maxLength: 10 }).map(encode),
        fc.constantFrom(
          '__proto__[polluted]',
          'constructor[prototype][polluted]',
          'a[__proto__][polluted]',
          'a[b][c][d][e][f][g][h][i][j][k]',
          'a[]',
          '[]',
          'a'.repeat(2000),
          '%',
        ),
      ),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }).map(encode),
        fc.constantFrom('%', '%ZZ', ''),
      ),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const bodyFields = fc.record(
  {
    id: fc.oneof(fc.constantFrom('fuzz-room', '__proto__'), hostileValue),
    name: fieldValue('name'),
    private: fieldValue('private'),
    ttlSeconds: fc.oneof(fc.integer({ min: -5, max: 700_000 }), weirdNumber, hostileValue),
    userId: fc.oneof(fc.constantFrom(ATTACKER, 'ghost'), hostileValue),
    content: fieldValue('content'),
  },
  { requiredKeys: [] },
);

/** JSON text of any value (`undefined` becomes `null`). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

const httpBody: fc.Arbitrary<{ body?: string; contentType?: string }> = fc.oneof(
  {
    weight: 4,
    arbitrary: bodyFields.map((b) => ({ body: json(b), contentType: 'application/json' })),
  },
  {
    weight: 2,
    arbitrary: anything.map((b) => ({ body: json(b), contentType: 'application/json' })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '',
        '{',
        '{"id":',
        '[',
        'null',
        '"general"',
        '42',
        'true',
        '1e999',
        '[{"id":"general"}]',
        '{"__proto__":{"polluted":true},"id":"fuzz"}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"content":"a\\u0000b"}',
        '{"content":"\\ud800"}',
        '\ufeff{"id":"bom"}',
        '{"id":"dup","id":"dup2"}',
        deepJson(5000, '"x"'),
        `{"content":"${'x'.repeat(300_000)}"}`, // past the body parser's limit
      )
      .map((body) => ({ body, contentType: 'application/json' })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      body: fc.oneof(
        fc.constantFrom('id=form&name=x', '__proto__[polluted]=1', 'a[b][c][d][e]=1', '{"id":"x"}'),
        fc.string({ unit: 'binary', maxLength: 50 }).map((s) => s.toWellFormed()),
      ),
      contentType: fc.constantFrom(
        'application/x-www-form-urlencoded',
        'text/plain',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json; charset=',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({}) },
);

/** False when an empty or dot segment makes the path another route's (or none). */
function namesTheRoute(path: string): boolean {
  const segments = path.split('/').slice(1);
  return segments.every((s) => s !== '') && new URL(path, 'http://host').pathname === path;
}

/** True when `text` is JSON whose top level is not an object (a bad body for any route). */
function jsonButNotAnObject(text: string | undefined): boolean {
  if (text === undefined || text.length > 100_000) return false;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value !== 'object' || value === null || Array.isArray(value);
  } catch {
    return false;
  }
}

interface HttpAnswer {
  status: number;
  type: string;
  text: string;
}

/** Never a 5xx; every error is JSON `{ statusCode, error, message }`. */
function expectNo5xxAndJsonErrors(res: HttpAnswer): void {
  expect(res.status).toBeLessThan(500);
  // 431: Node's HTTP parser refuses an over-long request line before any app code runs.
  if (res.status < 400 || res.status === 431) return;
  expect(res.type).toContain('application/json');
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toMatchObject({ statusCode: res.status, error: expect.any(String) });
  const message = body.message;
  const isText = typeof message === 'string';
  const isList = Array.isArray(message) && message.every((m) => typeof m === 'string');
  expect(isText || isList).toBe(true);
}

describe('hostile requests at every admin route', () => {
  let app: RunningApp;
  let clients: Clients;
  let bystanders: TestClient[];
  const before = prototypeKeys();

  beforeAll(async () => {
    app = await startApp(HIGH_RATE);
    clients = new Clients(() => app.url);
    bystanders = await joinBystanders(clients);
    await clients.as(ATTACKER);
  });

  afterAll(async () => {
    clients.closeAll();
    await app.close();
  });

  async function send(req: HttpCall): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    const res = await fetch(`${app.url}${req.path}${req.query}`, {
      method: req.method,
      headers,
      body: req.body,
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      text: await res.text(),
    };
  }

  async function expectUndisturbed(): Promise<void> {
    const [a, b] = bystanders;
    await roomMarker(a, ROOM, [a, b]);
    const snapshot = await send({ method: 'GET', path: '/api/snapshot', query: '' });
    expect(snapshot.status).toBe(200);
    const general = (
      JSON.parse(snapshot.text) as { rooms: Array<{ id: string; members: string[] }> }
    ).rooms.find((r) => r.id === ROOM);
    expect(general?.members).toEqual(expect.arrayContaining([...BYSTANDERS]));
    expect(prototypeKeys()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }

  it.each(Object.keys(ROUTES))(
    'should answer %s with no 5xx and JSON errors, whatever the path, query and body',
    async (key) => {
      const route = ROUTES[key];
      const request = fc
        .record({ a: pathSegment, b: pathSegment, query: queryString, body: httpBody })
        .map(({ a, b, query, body }): HttpCall => ({
          method: route.method,
          path: route.path(a, b),
          query,
          ...(route.method === 'GET' ? {} : body),
        }));

      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const res = await send(req);

          expect(res.status).toBeGreaterThanOrEqual(200);
          expectNo5xxAndJsonErrors(res);
          if (
            route.body &&
            namesTheRoute(req.path) &&
            res.status !== 431 &&
            req.contentType === 'application/json' &&
            jsonButNotAnObject(req.body)
          ) {
            expect(res.status).toBe(400); // checked before the room or user is looked up
          }
        }),
        runs(100),
      );

      await expectUndisturbed();
    },
  );

  it('should answer unknown paths and methods under /api with a JSON 4xx', async () => {
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
      path: fc
        .array(pathSegment, { minLength: 1, maxLength: 4 })
        .map((segments) => `/api/${segments.join('/')}`),
    });

    await fc.assert(
      fc.asyncProperty(request, async ({ method, path }) => {
        const res = await send({ method, path, query: '' });

        expectNo5xxAndJsonErrors(res);
      }),
      runs(100),
    );

    await expectUndisturbed();
  });

  it('should refuse a compressed body (no decompression bomb) with a JSON 415', async () => {
    const { gzipSync } = await import('node:zlib');
    // 10 MB of zeros in about 10 kB: never inflated.
    const bomb = gzipSync(Buffer.from(`{"content":"${'0'.repeat(10_000_000)}"}`));
    const res = await fetch(`${app.url}/api/rooms/${ROOM}/notices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ statusCode: 415, error: expect.any(String) });
    await expectUndisturbed();
  });

  it.each([
    ['a body past the size limit', 'application/json', `{"content":"${'x'.repeat(300_000)}"}`, 413],
    ['an unsupported charset', 'application/json; charset=latin1', '{"userId":"mallory"}', 415],
    // UTF-16 is a charset the parser knows: ASCII bytes read as UTF-16 are not JSON.
    ['ASCII bytes labelled UTF-16', 'application/json; charset=utf-16', '{"userId":"x"}', 400],
  ])(
    'should answer %s as JSON { statusCode, error, message }',
    async (_label, type, body, status) => {
      const res = await send({
        method: 'POST',
        path: `/api/rooms/${ROOM}/members`,
        query: '',
        body,
        contentType: type,
      });

      expect(res.status).toBe(status);
      expect(res.type).toContain('application/json');
      expect(JSON.parse(res.text)).toEqual({
        statusCode: res.status,
        error: expect.any(String),
        message: expect.any(String),
      });
    },
  );
});
