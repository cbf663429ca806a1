/**
 * The web client (public/) in a real browser: Debian's chromium driven by playwright-core,
 * against the real app on port 0. Pages sign in, chat, and are checked through the DOM
 * (data-testid); other users are plain socket.io clients where speed matters.
 *
 * The README's screenshots come from the last scenario, skipped unless asked for:
 * WEB_SCREENSHOTS=1 npm test -- test/e2e/web-client -t screenshots
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { browserAvailable, launchBrowser } from '../support/browser.js';
import { Clients, startApp, type RunningApp } from '../support/chat-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { takeWebScreenshots } from '../support/web-screenshots.js';

const SECRET = 'web-client-e2e-secret-long-enough-for-hs256-0123456789';
const SCREENSHOT = '/tmp/web-client.png';
const TIMEOUT = 30_000;
const DESKTOP = { width: 1100, height: 680 };
const PHONE = { width: 390, height: 844 };
/** Long enough for a reload: nobody sees the user go offline and come back. */
const RELOAD_GRACE = { PRESENCE_GRACE_MS: '5000' };

const run = browserAvailable() ? describe : describe.skip;
const screenshots = process.env.WEB_SCREENSHOTS === '1' ? it : it.skip;

run('web client', () => {
  let browser: Browser;
  let app: RunningApp | undefined;
  let clients: Clients | undefined;
  const contexts: BrowserContext[] = [];
  const proxies: TcpProxy[] = [];
  const pageErrors: string[] = [];
  /** What each page sent the server (socket.io packets, either transport), in order. */
  const sentBy = new Map<Page, string[]>();

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    clients?.closeAll();
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    sentBy.clear();
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

  interface PageOptions {
    url?: string;
    viewport?: { width: number; height: number };
  }

  /** A page of the web client in a browser context of its own (its own cookies, storage). */
  async function openPage({ url = app!.url, viewport = DESKTOP }: PageOptions = {}): Promise<Page> {
    const context = await browser.newContext({ viewport });
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const sent: string[] = [];
    sentBy.set(page, sent);
    page.on('websocket', (ws) =>
      ws.on('framesent', (frame) => typeof frame.payload === 'string' && sent.push(frame.payload)),
    );
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().includes('/socket.io/')) {
        sent.push(request.postData() ?? '');
      }
    });
    await page.goto(url);
    return page;
  }

  async function signIn(page: Page, fields: { userId?: string; name?: string; token?: string }) {
    // The form shows only the fields this server wants (GET /info): a token, or a user id.
    if (fields.token !== undefined) {
      await page.getByTestId('signin-token').fill(fields.token);
    } else {
      await page.getByTestId('signin-user-id').fill(fields.userId ?? '');
      await page.getByTestId('signin-name').fill(fields.name ?? '');
    }
    await page.getByTestId('signin-submit').click();
  }

  async function as(userId: string, name: string, options?: PageOptions): Promise<Page> {
    const page = await openPage(options);
    await signIn(page, { userId, name });
    await page.getByTestId('chat-view').waitFor();
    return page;
  }

  const tab = (page: Page, conv: string) =>
    page.locator(`[data-testid="tab"][data-conv="${conv}"]`);
  const activeTab = (page: Page, conv: string) =>
    page.locator(`[data-testid="tab"][data-conv="${conv}"].active`);

  const roomItem = (page: Page, roomId: string) =>
    page.locator(`[data-testid="room-item"][data-room-id="${roomId}"]`);

  /** Joins from the room list and waits until the join is answered. */
  async function join(page: Page, roomId: string): Promise<void> {
    await roomItem(page, roomId).getByTestId('room-join').click();
    await activeTab(page, `room:${roomId}`).waitFor();
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

  /** The conversation tabs open in a page, in order. */
  const openTabs = (page: Page) =>
    page.getByTestId('tab').evaluateAll((els) => els.map((el) => el.getAttribute('data-conv')));

  /** Asserts that an element lies wholly within the viewport. */
  async function expectOnScreen(locator: Locator, viewport: { width: number; height: number }) {
    const box = await locator.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width);
    expect(box!.y + box!.height).toBeLessThanOrEqual(viewport.height);
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
    'should ask for a name in open mode, and refuse one that breaks the text rules in words',
    async () => {
      await start();
      const page = await openPage();

      // GET /info says open: a user id and a name, no token field.
      await page.getByTestId('signin-user-id').waitFor();
      expect(await page.getByTestId('signin-token').isVisible()).toBe(false);
      await signIn(page, { userId: 'not valid!' });

      const error = page.getByTestId('signin-error');
      await error.filter({ hasText: 'That user id or name is not allowed.' }).waitFor();
      expect(await error.getAttribute('title')).toBe('INVALID_AUTH'); // the code, for debugging
      expect(await page.getByTestId('chat-view').isHidden()).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'should ask only for a token in jwt mode, sign in with it and refuse a wrongly signed one',
    async () => {
      await start({ AUTH_JWT_SECRET: SECRET });
      const sign = (secret: string) =>
        new SignJWT({ name: 'Dana' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('dana')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(secret));
      const page = await openPage();

      // GET /info says jwt: the token field only.
      const token = page.getByTestId('signin-token');
      await token.waitFor();
      expect(await page.getByTestId('signin-user-id').isVisible()).toBe(false);
      expect(await page.getByTestId('signin-name').isVisible()).toBe(false);
      await token.fill(await sign(`${SECRET}-but-not-this-one`));
      await page.getByTestId('signin-submit').click();
      const error = page.getByTestId('signin-error');
      await error.filter({ hasText: 'That token was not accepted' }).waitFor();
      expect(await error.getAttribute('title')).toBe('UNAUTHORIZED');
      await token.fill(await sign(SECRET));
      await page.getByTestId('signin-submit').click();

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

      // Alice's own message looks like hers: on the right, marked "You"; Bob's on the left.
      const mine = row(alice, 'room:general', 'hello bob');
      await mine.getByText('You', { exact: true }).waitFor();
      const [mineBox, theirsBox] = [await mine.boundingBox(), await markup.boundingBox()];
      expect(mineBox!.x).toBeGreaterThan(theirsBox!.x);
      expect(mineBox!.x + mineBox!.width).toBeGreaterThan(theirsBox!.x + theirsBox!.width);
      const background = (locator: Locator) =>
        locator.evaluate(
          (el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor,
        );
      expect(await background(mine)).not.toBe(await background(markup));
      // ... and the same message is Bob's to read, on the left with Alice's name.
      const hers = row(bob, 'room:general', 'hello bob');
      expect(await hers.getByText('You', { exact: true }).count()).toBe(0);
      expect(await hers.getByTestId('message-sender').isVisible()).toBe(true);
      expect((await hers.boundingBox())!.x).toBeLessThan(mineBox!.x);
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
      const alice = await as('alice', 'Alice', { url: proxy.url });
      await join(alice, 'general');
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      await rows(alice, 'room:general').nth(1).waitFor({ state: 'attached' }); // bob's room_join
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
      // One new connection per address per 5 s: a second sign-in at once is refused first
      // (5 s, not less: opening a browser page on a busy machine can take a second or two).
      await start({ CONNECT_RATE_PER_IP: '1', CONNECT_RATE_WINDOW_MS: '5000' });
      await as('alice', 'Alice');
      const bob = await openPage();
      await signIn(bob, { userId: 'bob', name: 'Bob' });
      await bob.getByText('The server is busy: trying again in a moment…').waitFor();
      // Its retries back off (about 1, 2, 4 s) until the window has passed.
      await bob.getByTestId('chat-view').waitFor({ timeout: 20_000 });
      expect(await bob.getByTestId('signin-view').isHidden()).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'should keep the user signed in across a reload, in the same rooms and tabs, catching up with since',
    async () => {
      await start(RELOAD_GRACE);
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' }); // seq 1
      const alice = await as('alice', 'Alice');
      await join(alice, 'dev');
      await join(alice, 'general'); // seq 2
      await send(alice, 'before the reload'); // seq 3
      // Shown on alice's page too: the page knows seq 3 before it reloads.
      await row(alice, 'room:general', 'before the reload').waitFor();
      await bob.waitFor((m) => m.content === 'before the reload');
      const bobSawBefore = bob.received.length;
      const sent = sentBy.get(alice)!;

      // Bob speaks while the page is between two documents (the new one waits for its script):
      // only a join with since brings it back.
      await alice.route('**/app.js', async (route) => {
        await bob.ok('room:message', { roomId: 'general', content: 'while you reloaded' }); // 4
        await route.continue();
      });
      sent.length = 0;
      await alice.reload();

      await row(alice, 'room:general', 'while you reloaded').waitFor();
      expect(await alice.getByTestId('signin-view').isHidden()).toBe(true);
      expect(await alice.getByTestId('current-user').textContent()).toBe('Alice (alice)');
      expect(await openTabs(alice)).toEqual(['room:dev', 'room:general']);
      await activeTab(alice, 'room:general').waitFor();
      const seen = await shownEvents(alice, 'room:general');
      expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4]); // each once, no new join
      expect(sent.join('\n')).toContain('"room:join",{"roomId":"general","since":3}');
      expect(sent.join('\n')).toContain('"room:join",{"roomId":"dev","since":1}');

      // Still a chat, and nobody saw a reload: no offline, online, leave or join for alice.
      await send(alice, 'after the reload');
      await bob.waitFor((m) => m.content === 'after the reload');
      expect(bob.received.slice(bobSawBefore).map((m) => [m.type, m.sender.id])).toEqual([
        ['room_chat', 'bob'],
        ['room_chat', 'alice'],
      ]);
    },
    TIMEOUT,
  );

  it(
    'should keep private conversations across a reload, and forget everything on sign-out',
    async () => {
      await start(RELOAD_GRACE);
      const bob = await clients!.as('bob', 'Bob');
      const alice = await as('alice', 'Alice');
      await bob.ok('private:message', { to: 'alice', content: 'are you there?' });
      await tab(alice, 'user:bob').click();
      await row(alice, 'user:bob', 'are you there?').waitFor();
      await send(alice, 'yes, here');
      await bob.waitFor((m) => m.content === 'yes, here');

      await alice.reload();

      await activeTab(alice, 'user:bob').waitFor();
      await row(alice, 'user:bob', 'are you there?').waitFor();
      await row(alice, 'user:bob', 'yes, here').getByText('You', { exact: true }).waitFor();
      // Connected again (the online list comes from the server): the talk goes on in that tab.
      await alice.locator('[data-testid="user-item"][data-user-id="bob"]').waitFor();
      await bob.ok('private:message', { to: 'alice', content: 'welcome back' });
      await row(alice, 'user:bob', 'welcome back').waitFor();
      expect(await openTabs(alice)).toEqual(['user:bob']);
      expect(await rows(alice, 'user:bob').count()).toBe(3);

      // A real sign-out clears the session: a reload then asks who you are.
      await alice.getByTestId('signout').click();
      await alice.getByTestId('signin-view').waitFor();
      await alice.reload();
      await alice.getByTestId('signin-view').waitFor();
      expect(await alice.getByTestId('chat-view').isHidden()).toBe(true);
    },
    TIMEOUT,
  );

  it(
    'should fit the conversation on a 390 px wide phone, with rooms and people in a drawer',
    async () => {
      await start();
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      const alice = await as('alice', 'Alice', { viewport: PHONE });

      // The rooms and people are out of the way until asked for.
      expect(await alice.getByTestId('room-list').isVisible()).toBe(false);
      await expectOnScreen(alice.getByTestId('sidebar-toggle'), PHONE);
      await alice.getByTestId('sidebar-toggle').click();
      await roomItem(alice, 'general').getByTestId('room-join').click();
      await activeTab(alice, 'room:general').waitFor();
      await alice.getByTestId('room-list').waitFor({ state: 'hidden' }); // the drawer closed

      // The conversation fits: the message box and Send on screen, no sideways scrolling.
      for (const testId of ['tabs', 'composer-input', 'composer-send']) {
        await expectOnScreen(alice.getByTestId(testId), PHONE);
      }
      expect(await alice.evaluate('document.documentElement.scrollWidth')).toBe(PHONE.width);
      await send(alice, 'hello from my phone');
      await bob.waitFor((m) => m.content === 'hello from my phone');
      await bob.ok('room:message', { roomId: 'general', content: 'hi phone' });
      await expectOnScreen(row(alice, 'room:general', 'hi phone'), PHONE);

      // People are in the drawer too; a private chat (with "as memo") still fits.
      await alice.getByTestId('sidebar-toggle').click();
      await alice.locator('[data-testid="user-item"][data-user-id="bob"]').click();
      await activeTab(alice, 'user:bob').waitFor();
      for (const testId of ['composer-input', 'composer-memo-label', 'composer-send']) {
        await expectOnScreen(alice.getByTestId(testId), PHONE);
      }
      await send(alice, 'psst');
      await bob.waitFor((m) => m.content === 'psst');
    },
    TIMEOUT,
  );

  it(
    'should fold a run of joins and leaves into one quiet line',
    async () => {
      await start();
      const alice = await as('alice', 'Alice');
      await join(alice, 'general'); // seq 1
      const [bob, carol, dave] = await Promise.all([
        clients!.as('bob', 'Bob'),
        clients!.as('carol', 'Carol'),
        clients!.as('dave', 'Dave'),
      ]);
      await bob.ok('room:join', { roomId: 'general' }); // 2
      await bob.ok('room:message', { roomId: 'general', content: 'hi all' }); // 3
      await carol.ok('room:join', { roomId: 'general' }); // 4
      await dave.ok('room:join', { roomId: 'general' }); // 5
      await carol.ok('room:leave', { roomId: 'general' }); // 6

      const list = alice.locator('[data-testid="message-list"][data-conv="room:general"]');
      await list.locator('[data-seq="6"]').waitFor({ state: 'attached' });
      const folds = list.getByTestId('message-fold').filter({ visible: true });
      expect(await folds.allTextContents()).toEqual([
        'Alice, Bob joined',
        'Carol, Dave joined · Carol left',
      ]);
      // The five events are still there, one by one, but only the two lines show.
      expect((await shownEvents(alice, 'room:general')).map((e) => e.type)).toEqual([
        'room_join',
        'room_join',
        'room_chat',
        'room_join',
        'room_join',
        'room_leave',
      ]);
      const quiet = list.locator('[data-type="room_join"], [data-type="room_leave"]');
      expect(await quiet.filter({ visible: true }).count()).toBe(2);
      expect(await quiet.getByTestId('message-content').filter({ visible: true }).count()).toBe(0);
    },
    TIMEOUT,
  );

  it(
    'should count unread messages on the tabs and rooms not looked at',
    async () => {
      await start();
      const [bob, carol] = await Promise.all([
        clients!.as('bob', 'Bob'),
        clients!.as('carol', 'Carol'),
      ]);
      await bob.ok('room:join', { roomId: 'general' });
      const alice = await as('alice', 'Alice');
      await join(alice, 'general');
      await join(alice, 'dev'); // looking at dev now

      await bob.ok('room:message', { roomId: 'general', content: 'one' });
      await bob.ok('room:message', { roomId: 'general', content: 'two' });
      await carol.ok('room:join', { roomId: 'general' }); // a join is not a message to read
      await alice
        .locator('[data-conv="room:general"] [data-type="room_join"]')
        .nth(2)
        .waitFor({ state: 'attached' });

      const generalTab = tab(alice, 'room:general');
      expect(await generalTab.getByTestId('tab-unread').textContent()).toBe('2');
      expect(await roomItem(alice, 'general').getByTestId('room-unread').textContent()).toBe('2');
      expect(await tab(alice, 'room:dev').getByTestId('tab-unread').textContent()).toBe('');
      expect(await alice.title()).toBe('(2) actor-chat');

      await generalTab.click(); // read: the counts go (the click's handler updates at once)
      expect(await generalTab.getByTestId('tab-unread').textContent()).toBe('');
      expect(await roomItem(alice, 'general').getByTestId('room-unread').textContent()).toBe('');
      expect(await alice.title()).toBe('actor-chat');
    },
    TIMEOUT,
  );

  it(
    'should edit (arrow up), delete and react, and show what others change as it happens',
    async () => {
      await start();
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      const alice = await as('alice', 'Alice');
      alice.on('dialog', (dialog) => void dialog.accept()); // "Delete this message?"
      await join(alice, 'general');
      const { message: bobs } = await bob.ok('room:message', {
        roomId: 'general',
        content: 'hello there',
      });
      await row(alice, 'room:general', 'hello there').waitFor();

      // Arrow up in the empty box edits one's last message.
      await send(alice, 'my mesage');
      await row(alice, 'room:general', 'my mesage').waitFor();
      const input = alice.getByTestId('composer-input');
      await input.press('ArrowUp');
      expect(await input.inputValue()).toBe('my mesage');
      await input.fill('my message');
      await input.press('Enter');
      const mine = row(alice, 'room:general', 'my message');
      await mine.getByTestId('message-edited').waitFor();
      expect(await bob.waitFor((m) => m.type === 'room_edit')).toMatchObject({
        content: 'my message',
        sender: { id: 'alice' },
      });
      expect(await row(alice, 'room:general', 'my mesage').count()).toBe(0);

      // Bob's edit and reaction show on Alice's page live.
      await bob.ok('room:edit', { roomId: 'general', seq: bobs.seq!, content: 'hello, Alice' });
      const theirs = row(alice, 'room:general', 'hello, Alice');
      await theirs.getByTestId('message-edited').waitFor();
      await theirs.hover(); // the actions show on hover (always on touch screens)
      await theirs.getByTestId('message-react').click();
      await theirs.getByTestId('emoji-option').filter({ hasText: '👍' }).click();
      const thumbs = theirs.locator('[data-testid="reaction"][data-emoji="👍"]');
      await thumbs.filter({ hasText: '👍 1' }).waitFor();
      expect(await thumbs.getAttribute('aria-pressed')).toBe('true');
      expect(await bob.waitFor((m) => m.type === 'room_reaction')).toMatchObject({
        target: bobs.seq,
        emoji: '👍',
        on: true,
        user: { id: 'alice' },
      });
      await bob.ok('room:react', { roomId: 'general', seq: bobs.seq!, emoji: '👍' });
      await thumbs.filter({ hasText: '👍 2' }).waitFor();
      await thumbs.click(); // taken back
      await thumbs.filter({ hasText: '👍 1' }).waitFor();
      expect(await thumbs.getAttribute('aria-pressed')).toBe('false');

      // Deleted by its sender (Bob, elsewhere) and by Alice here.
      await bob.ok('room:delete', { roomId: 'general', seq: bobs.seq! });
      await alice
        .locator(`[data-conv="room:general"] [data-seq="${bobs.seq}"].deleted`)
        .getByText('Message deleted')
        .waitFor();
      await mine.hover();
      await mine.getByTestId('message-delete').click();
      await bob.waitFor((m) => m.type === 'room_delete' && m.sender.id === 'alice');
      expect(await row(alice, 'room:general', 'my message').count()).toBe(0);

      // After a reload the history shows the same state, from the server.
      await alice.reload();
      await activeTab(alice, 'room:general').waitFor();
      expect(await alice.locator('[data-conv="room:general"] .msg.deleted').count()).toBe(2);
    },
    TIMEOUT,
  );

  it(
    'should mark read what is on screen, show receipts in a small room, and take unread counts from the server',
    async () => {
      await start();
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      const alice = await as('alice', 'Alice');
      await join(alice, 'general');
      const { message } = await bob.ok('room:message', { roomId: 'general', content: 'read me' });
      await row(alice, 'room:general', 'read me').waitFor();
      // Alice is looking at the room: her page marks it read, and Bob gets the receipt.
      expect(
        await bob.waitForEvent('read', (e) => e.user.id === 'alice' && e.seq >= message.seq!),
      ).toMatchObject({ roomId: 'general' });

      await send(alice, 'did you see?');
      await bob.waitFor((m) => m.content === 'did you see?');
      const { lastRead } = await bob.ok('room:read', { roomId: 'general', seq: 1_000 });
      await row(alice, 'room:general', 'did you see?')
        .getByTestId('message-seen')
        .filter({ hasText: 'Seen by Bob' })
        .waitFor();
      expect(lastRead).toBeGreaterThan(message.seq!);

      // Unread while looking elsewhere; read on another device of Alice's, gone here too.
      await join(alice, 'dev');
      await bob.ok('room:message', { roomId: 'general', content: 'one' });
      await bob.ok('room:message', { roomId: 'general', content: 'two' });
      const unread = tab(alice, 'room:general').getByTestId('tab-unread');
      await unread.filter({ hasText: /^2$/ }).waitFor();
      const phone = await as('alice', 'Alice', { viewport: PHONE });
      await phone.getByTestId('sidebar-toggle').click();
      await roomItem(phone, 'general').getByTestId('room-join').click();
      await activeTab(phone, 'room:general').waitFor();
      await row(phone, 'room:general', 'two').waitFor();
      await bob.waitForEvent('read', (e) => e.user.id === 'alice' && e.seq >= lastRead + 2);
      await alice.getByTestId('room-refresh').click();
      await alice.waitForFunction(
        `document.querySelector('[data-conv="room:general"] [data-testid="tab-unread"]').textContent === ''`,
      );
    },
    TIMEOUT,
  );

  it(
    'should block and unblock a user from the online list',
    async () => {
      await start();
      const bob = await clients!.as('bob', 'Bob');
      const alice = await as('alice', 'Alice');
      const block = alice.locator('[data-testid="user-block"][data-user-id="bob"]');
      await block.filter({ hasText: 'Block' }).click();
      await block.filter({ hasText: 'Unblock' }).waitFor();
      const refused = await bob.request('private:message', { to: 'alice', content: 'psst' });
      expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(await bob.ok('user:list')).toBeDefined();

      // Still blocked after a reload: the list comes from the server.
      await alice.reload();
      await block.filter({ hasText: 'Unblock' }).click();
      await block.filter({ hasText: /^Block$/ }).waitFor();
      await bob.ok('private:message', { to: 'alice', content: 'hello again' });
      await row(alice, 'user:bob', 'hello again').waitFor();
    },
    TIMEOUT,
  );

  it(
    'should say what went wrong in words, next to the control that failed',
    async () => {
      const running = await start();
      const admin = (method: string, path: string, body?: unknown) =>
        fetch(`${running.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      expect((await admin('POST', '/api/rooms', { id: 'standup' })).status).toBe(201);
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:create', { roomId: 'book-club' }); // bob owns it
      const alice = await as('alice', 'Alice');
      await roomItem(alice, 'standup').waitFor();

      // A room closed between listing and joining: the failed join is told by the rooms list.
      expect((await admin('DELETE', '/api/rooms/standup')).status).toBe(204);
      await roomItem(alice, 'standup').getByTestId('room-join').click();
      const roomError = alice.getByTestId('sidebar').getByTestId('room-error');
      await roomError.filter({ hasText: 'standup: That room no longer exists.' }).waitFor();
      const listBox = (await alice.getByTestId('room-list').boundingBox())!;
      const roomErrorBox = (await roomError.boundingBox())!;
      expect(roomErrorBox.y).toBeGreaterThanOrEqual(listBox.y + listBox.height - 1);
      expect(roomErrorBox.y).toBeLessThan(listBox.y + listBox.height + 24);
      expect(await alice.getByTestId('composer-error').isVisible()).toBe(false);

      // A room id that is taken: told under the create form.
      await alice.getByTestId('room-create-id').fill('general');
      await alice.getByTestId('room-create-submit').click();
      await alice
        .getByTestId('room-create-error')
        .filter({ hasText: 'A room with that id already exists: join it from the list.' })
        .waitFor();

      // Muted by the room's owner: the failed send is told under the message box, text kept.
      await join(alice, 'book-club');
      await bob.ok('room:mute', { roomId: 'book-club', userId: 'alice', seconds: 60 });
      await send(alice, 'can anyone hear me?');
      const sendError = alice.getByTestId('composer-error');
      await sendError.filter({ hasText: 'muted' }).waitFor();
      expect(await sendError.textContent()).toBe(
        'You can’t post in this room right now: its owner has muted you.',
      );
      const composerBox = (await alice.getByTestId('composer').boundingBox())!;
      const sendErrorBox = (await sendError.boundingBox())!;
      expect(sendErrorBox.y).toBeGreaterThanOrEqual(composerBox.y + composerBox.height - 1);
      expect(sendErrorBox.y).toBeLessThan(composerBox.y + composerBox.height + 24);
      expect(await alice.getByTestId('composer-input').inputValue()).toBe('can anyone hear me?');
      // Never a wire code where a person reads.
      expect(await alice.locator('body').innerText()).not.toMatch(
        /FORBIDDEN|NOT_FOUND|ALREADY_EXISTS|INVALID_PAYLOAD/,
      );
    },
    TIMEOUT,
  );

  it(
    'should refuse in the page a message over the server limit, counted in code points',
    async () => {
      await start({ MAX_MESSAGE_LENGTH: '20' });
      const bob = await clients!.as('bob', 'Bob');
      await bob.ok('room:join', { roomId: 'general' });
      const alice = await as('alice', 'Alice');
      await join(alice, 'general');

      const fits = '🙂'.repeat(20); // 40 UTF-16 units, 20 code points: allowed
      await send(alice, fits);
      await bob.waitFor((m) => m.content === fits);

      const tooLong = 'x'.repeat(19) + '🙂🙂'; // 21 code points
      const sent = sentBy.get(alice)!;
      const sentBefore = sent.length;
      await send(alice, tooLong);
      await alice
        .getByTestId('composer-error')
        .filter({
          hasText: 'That message is 21 characters long; the limit is 20. Shorten it by 1.',
        })
        .waitFor();
      expect(await alice.getByTestId('composer-counter').textContent()).toBe('21 / 20');
      expect(await alice.getByTestId('composer-input').inputValue()).toBe(tooLong);
      expect(sent.slice(sentBefore).filter((p) => p.includes('room:message'))).toEqual([]);

      // Shortened, it goes.
      await alice.getByTestId('composer-input').press('End');
      await alice.getByTestId('composer-input').press('Backspace');
      await alice.getByTestId('composer-send').click();
      await bob.waitFor((m) => m.content === 'x'.repeat(19) + '🙂');
      await alice.getByTestId('composer-error').waitFor({ state: 'hidden' });
    },
    TIMEOUT,
  );

  screenshots(
    'should take the README screenshots (docs/images/web-*.png)',
    async () => {
      const running = await start();
      const outDir = fileURLToPath(new URL('../../docs/images/', import.meta.url));
      await takeWebScreenshots(browser, running.url, clients!, outDir);
    },
    TIMEOUT * 2,
  );
});
