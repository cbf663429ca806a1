/**
 * The web client (public/) in a real browser: Debian's chromium driven by playwright-core,
 * against the real app on port 0. Pages sign in, chat, and are checked through the DOM
 * (data-testid); other users are plain socket.io clients where speed matters.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { browserAvailable, launchBrowser } from '../support/browser.js';
import { Clients, startApp, type RunningApp } from '../support/chat-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const SECRET = 'web-client-e2e-secret-long-enough-for-hs256-0123456789';
const SCREENSHOT = '/tmp/web-client.png';
const TIMEOUT = 30_000;

const run = browserAvailable() ? describe : describe.skip;

run('web client', () => {
  let browser: Browser;
  let app: RunningApp | undefined;
  let clients: Clients | undefined;
  const contexts: BrowserContext[] = [];
  const proxies: TcpProxy[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    clients?.closeAll();
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await app?.close();
    app = undefined;
    // Uncaught errors in the page fail the test that caused them.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  // ---- helpers -------------------------------------------------------------------------

  /** A fresh app; the seeding client needs more than the default burst of sends. */
  async function start(env: Record<string, string> = {}): Promise<RunningApp> {
    const running = await startApp({ RATE_LIMIT_BURST: '200', ...env });
    app = running;
    clients = new Clients(() => running.url);
    return running;
  }

  /** A page of the web client in a browser context of its own (its own cookies, storage). */
  async function openPage(url = app!.url): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 680 } });
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);
    return page;
  }

  async function signIn(page: Page, fields: { userId?: string; name?: string; token?: string }) {
    await page.getByTestId('signin-user-id').fill(fields.userId ?? '');
    await page.getByTestId('signin-name').fill(fields.name ?? '');
    await page.getByTestId('signin-token').fill(fields.token ?? '');
    await page.getByTestId('signin-submit').click();
  }

  async function as(userId: string, name: string, url?: string): Promise<Page> {
    const page = await openPage(url);
    await signIn(page, { userId, name });
    await page.getByTestId('chat-view').waitFor();
    return page;
  }

  const roomItem = (page: Page, roomId: string) =>
    page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`);

  /** Joins from the room list and waits until the join is answered. */
  async function join(page: Page, roomId: string): Promise<void> {
    await roomItem(page, roomId).getByTestId('room-join').click();
    await page.locator(`[data-testid="tab"][data-conv="room:${roomId}"].active`).waitFor();
    await roomItem(page, roomId).getByTestId('room-join').filter({ hasText: 'Open' }).waitFor();
  }

  const rows = (page: Page, conv: string) =>
    page.locator(`[data-testid="message-list"][data-conv="${conv}"] [data-testid="message"]`);

  /** The message row of one conversation whose content is exactly `text`. */
  const row = (page: Page, conv: string, text: string): Locator =>
    rows(page, conv).filter({
      has: page.getByTestId('message-content').getByText(text, { exact: true }),
    });

  async function send(page: Page, text: string): Promise<void> {
    await page.getByTestId('composer-input').fill(text);
    await page.getByTestId('composer-send').click();
  }

  /** seq and type of every row shown in a room, in DOM order. */
  const shownEvents = (page: Page, conv: string) =>
    rows(page, conv).evaluateAll((els) =>
      els.map((el) => ({
        seq: Number(el.getAttribute('data-seq')),
        type: el.getAttribute('data-type'),
        content: el.querySelector('[data-testid="message-content"]')?.textContent,
      })),
    );

  // ---- scenarios -----------------------------------------------------------------------

  it(
    'should refuse an identity that breaks the text rules with INVALID_AUTH',
    async () => {
      await start();
      const page = await openPage();

      await signIn(page, { userId: 'not valid!' });

      await page.getByTestId('signin-error').filter({ hasText: 'INVALID_AUTH' }).waitFor();
      expect(await page.getByTestId('chat-view').isHidden()).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'should sign in with a JWT and refuse a wrongly signed one with UNAUTHORIZED',
    async () => {
      await start({ AUTH_JWT_SECRET: SECRET });
      const sign = (secret: string) =>
        new SignJWT({ name: 'Dana' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('dana')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(secret));
      const page = await openPage();

      await signIn(page, { token: await sign(`${SECRET}-but-not-this-one`) });
      await page.getByTestId('signin-error').filter({ hasText: 'UNAUTHORIZED' }).waitFor();
      await signIn(page, { token: await sign(SECRET) });

      await page.getByTestId('chat-view').waitFor();
      await page.getByTestId('current-user').filter({ hasText: 'Dana (dana)' }).waitFor();
    },
    TIMEOUT,
  );

  it(
    'should let two users chat in a room, with member counts and a typing indicator',
    async () => {
      await start();
      const alice = await as('alice', 'Alice');
      const bob = await as('bob', 'Bob');
      await join(alice, 'general');
      await join(bob, 'general');

      for (const page of [alice, bob]) {
        await roomItem(page, 'general')
          .getByTestId('room-members')
          .filter({ hasText: /^2$/ })
          .waitFor();
      }
      expect(await roomItem(alice, 'dev').getByTestId('room-members').textContent()).toBe('0');

      // Content is data, not markup.
      await send(bob, '<b>not bold</b> & <img src=x onerror=alert(1)>');
      const markup = row(alice, 'room:general', '<b>not bold</b> & <img src=x onerror=alert(1)>');
      await markup.waitFor();
      expect(await markup.locator('b, img').count()).toBe(0);
      expect(await markup.getByTestId('message-sender').textContent()).toBe('Bob');

      await alice.getByTestId('composer-input').fill('hello bob');
      await bob.getByTestId('typing-indicator').filter({ hasText: 'Alice is typing…' }).waitFor();
      await bob.screenshot({ path: SCREENSHOT });
      await alice.getByTestId('composer-send').click();

      await row(bob, 'room:general', 'hello bob').waitFor();
      await row(alice, 'room:general', 'hello bob').waitFor();
      // Alice's message ends her typing at once.
      await bob.waitForFunction(
        `document.querySelector('[data-testid="typing-indicator"]').textContent === ''`,
      );
      const seen = await shownEvents(bob, 'room:general');
      expect(seen.filter((e) => e.content === 'hello bob')).toHaveLength(1);
      expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4]); // joins, bob's, alice's
    },
    TIMEOUT,
  );

  it(
    'should send a private message and memos to a user picked from the online list',
    async () => {
      await start();
      const alice = await as('alice', 'Alice');
      const bob = await as('bob', 'Bob');

      await alice.locator('[data-testid="user-item"][data-user-id="bob"]').click();
      await alice.locator('[data-testid="tab"][data-conv="user:bob"].active').waitFor();
      await send(alice, 'psst, private');

      await bob.locator('[data-testid="tab"][data-conv="user:alice"]').click();
      await row(bob, 'user:alice', 'psst, private').waitFor();
      expect(await row(bob, 'user:alice', 'psst, private').getAttribute('data-type')).toBe(
        'private_chat',
      );

      await alice.getByTestId('composer-memo').check();
      await send(alice, 'a memo for you');
      await row(bob, 'user:alice', 'a memo for you').waitFor();
      expect(await row(bob, 'user:alice', 'a memo for you').getAttribute('data-type')).toBe(
        'instant_message',
      );

      // A memo to someone who has gone offline waits for their next sign-in.
      await bob.getByTestId('signout').click();
      await alice
        .locator('[data-testid="user-item"][data-user-id="bob"]')
        .waitFor({ state: 'detached' });
      await send(alice, 'while you were out');
      await alice.getByTestId('note').filter({ hasText: 'offline' }).waitFor();
      await bob.getByTestId('signin-submit').click(); // the form still holds bob's identity
      await bob.locator('[data-testid="tab"][data-conv="user:alice"]').click();
      await row(bob, 'user:alice', 'while you were out').waitFor();
    },
    TIMEOUT,
  );

  it(
    'should load older history when scrolled to the top',
    async () => {
      await start();
      const carol = await clients!.as('carol', 'Carol');
      await carol.ok('room:join', { roomId: 'general' }); // seq 1
      await Promise.all(
        Array.from({ length: 70 }, (_, i) =>
          carol.ok('room:message', { roomId: 'general', content: `seed ${i + 1}` }),
        ),
      ); // seq 2-71; one socket's sends keep their order
      const alice = await as('alice', 'Alice');

      await join(alice, 'general'); // seq 72: the newest 50 events are seq 23-72
      await row(alice, 'room:general', 'seed 22').waitFor();
      expect(await rows(alice, 'room:general').count()).toBe(50);
      expect(await row(alice, 'room:general', 'seed 21').count()).toBe(0);

      await alice
        .locator('[data-testid="message-list"][data-conv="room:general"]')
        .evaluate((list) => (list.scrollTop = 0));

      await row(alice, 'room:general', 'seed 1').waitFor();
      const seqs = (await shownEvents(alice, 'room:general')).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 72 }, (_, i) => i + 1));
    },
    TIMEOUT,
  );

  it(
    'should show a banner while disconnected and recover what was missed on reconnect',
    async () => {
      const running = await start();
      // Alice's page reaches the server through a proxy that can drop her connection.
      const proxy = await new TcpProxy().start(running.url);
      proxies.push(proxy);
      const alice = await as('alice', 'Alice', proxy.url);
      await join(alice, 'general');
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      await rows(alice, 'room:general').nth(1).waitFor(); // bob's room_join
      const banner = alice.getByTestId('reconnect-banner');
      expect(await banner.isHidden()).toBe(true);

      proxy.refuse(true);
      proxy.cut();
      await banner.waitFor();
      await bob.waitFor((m) => m.type === 'room_leave' && m.user?.id === 'alice');
      // More than one page of events while alice is away (she left at seq 3): only a join
      // with since = her last seq brings back all of them.
      const away = Array.from({ length: 60 }, (_, i) => `away ${i + 1}`);
      await Promise.all(
        away.map((content) => bob.ok('room:message', { roomId: 'general', content })),
      );

      proxy.refuse(false);
      await banner.waitFor({ state: 'hidden' });
      await row(alice, 'room:general', 'away 60').waitFor();
      const seen = await shownEvents(alice, 'room:general');
      // Every event exactly once, gapless: seq 1-2 seen before, 3 her leave, 4-63 the
      // messages, 64 her new join.
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
      expect(seen.slice(3, 63).map((e) => e.content)).toEqual(away);
      expect(seen.at(-1)).toMatchObject({ type: 'room_join' });
      // Still a working chat after recovery.
      await send(alice, 'back again');
      await bob.waitFor((m) => m.content === 'back again');
    },
    TIMEOUT,
  );
  it(
    'should sign out, not come straight back, when the server disconnects the user on purpose',
    async () => {
      const running = await start();
      const alice = await as('alice', 'Alice');
      const res = await fetch(`${running.url}/api/users/alice/disconnect`, { method: 'POST' });
      expect(res.status).toBe(204);
      await alice.getByTestId('signin-view').waitFor();
      expect(await alice.getByTestId('signin-error').textContent()).toContain(
        'Disconnected by the server',
      );
      // Signed out for good: the server sees no new socket of hers.
      const bob = await clients!.as('bob', 'Bob');
      expect((await bob.ok('user:list')).users.map((u) => u.id)).toEqual(['bob']);
    },
    TIMEOUT,
  );
  it(
    'should retry by itself, not sign out, when the server refuses for a while (RATE_LIMITED)',
    async () => {
      // One new connection per address per 2 s: a second sign-in at once is refused first.
      await start({ CONNECT_RATE_PER_IP: '1', CONNECT_RATE_WINDOW_MS: '2000' });
      await as('alice', 'Alice');
      const bob = await openPage();
      await signIn(bob, { userId: 'bob', name: 'Bob' });
      await bob.getByText('Server busy (RATE_LIMITED): retrying…').waitFor();
      await bob.getByTestId('chat-view').waitFor();
      expect(await bob.getByTestId('signin-view').isHidden()).toBe(true);
    },
    TIMEOUT,
  );
});
