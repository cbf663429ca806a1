/**
 * The README's screenshots of the web client: a desktop page (1280x800) and a phone
 * (390x844, the conversation and the rooms drawer), with a little realistic content.
 * Run by hand (it overwrites the PNGs): WEB_SCREENSHOTS=1 npm test -- test/e2e/web-client -t screenshots
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Clients } from './chat-app.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

export async function takeWebScreenshots(
  browser: Browser,
  url: string,
  clients: Clients,
  outDir: string,
): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const desktop = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const phone = await browser.newContext({ viewport: PHONE, locale: 'en-GB', hasTouch: true });
  try {
    const [carol, dave] = await Promise.all([
      clients.as('carol', 'Carol'),
      clients.as('dave', 'Dave'),
    ]);
    await carol.ok('room:join', { roomId: 'general' });
    await dave.ok('room:join', { roomId: 'general' });
    await dave.ok('room:join', { roomId: 'dev' });
    await carol.ok('room:create', { roomId: 'design-review', name: 'design-review' });

    const alice = await signIn(desktop, url, 'alice', 'Alice');
    const bob = await signIn(phone, url, 'bob', 'Bob');
    await joinFromList(alice, 'dev');
    await joinFromList(alice, 'general');
    await bob.getByTestId('sidebar-toggle').click();
    await joinFromList(bob, 'general');

    await carol.ok('room:message', {
      roomId: 'general',
      content: 'Morning all! Release 3.2 goes out at 15:00.',
    });
    await say(alice, 'Great: the migration finished overnight, so we are ready.');
    await say(bob, 'I will watch the dashboards during the rollout.');
    await dave.ok('room:message', {
      roomId: 'general',
      content: 'Release notes are in #dev, comments welcome.',
    });
    await say(alice, 'Thanks Dave, reading them now.');
    // Contract v2 on screen: an edit, reactions, a read receipt.
    const { messages } = await carol.ok('room:history', { roomId: 'general' });
    const release = messages.find((m) => m.content.startsWith('Morning all'))!.seq!;
    await carol.ok('room:edit', {
      roomId: 'general',
      seq: release,
      content: 'Morning all! Release 3.2 goes out at 15:30 (moved from 15:00).',
    });
    for (const [who, emoji] of [
      [dave, '🎉'],
      [carol, '👍'],
      [dave, '👍'],
    ] as const) {
      await who.ok('room:react', { roomId: 'general', seq: release, emoji });
    }
    await dave.ok('room:read', { roomId: 'general', seq: 1_000 });
    await alice
      .getByText(/Seen by .*Dave/)
      .first()
      .waitFor();
    await dave.ok('room:message', {
      roomId: 'dev',
      content: 'Draft notes: faster reconnects, a phone layout, unread counts.',
    });

    await carol.ok('private:message', {
      to: 'bob',
      content: 'Can you check the error rate after?',
    });
    // Bob asks Alice privately from his phone, then goes back to the room.
    await bob.getByTestId('sidebar-toggle').click();
    await bob.locator('[data-testid="user-item"][data-user-id="alice"]').click();
    await say(bob, 'Lunch after the release?');
    await bob.locator('[data-testid="tab"][data-conv="room:general"]').click();
    await alice
      .locator('[data-testid="tab"][data-conv="user:bob"] [data-testid="tab-unread"]')
      .filter({ hasText: '1' })
      .waitFor();
    await alice
      .locator('[data-testid="tab"][data-conv="room:dev"] [data-testid="tab-unread"]')
      .filter({ hasText: '1' })
      .waitFor();

    await bob.getByTestId('sidebar-unread').filter({ hasText: '1' }).waitFor();
    carol.socket.emit('typing', { roomId: 'general' }, () => {});
    await alice.getByText('Carol is typing…').waitFor();
    await bob.getByText('Carol is typing…').waitFor();
    await alice.mouse.move(0, 0);
    const paths = [
      join(outDir, 'web-desktop.png'),
      join(outDir, 'web-phone.png'),
      join(outDir, 'web-phone-rooms.png'),
    ];
    await alice.screenshot({ path: paths[0] });
    await bob.screenshot({ path: paths[1] });
    await bob.getByTestId('sidebar-toggle').click();
    await bob.getByTestId('room-list').waitFor();
    await bob.waitForFunction(
      `getComputedStyle(document.querySelector('aside')).transform === 'none'`,
    );
    await bob.screenshot({ path: paths[2] });
    return paths;
  } finally {
    await Promise.all([desktop.close(), phone.close()]);
  }
}

async function signIn(
  context: BrowserContext,
  url: string,
  userId: string,
  name: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByTestId('signin-user-id').fill(userId);
  await page.getByTestId('signin-name').fill(name);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('chat-view').waitFor();
  return page;
}

async function joinFromList(page: Page, roomId: string): Promise<void> {
  await page
    .locator(`[data-testid="room-item"][data-room-id="${roomId}"] [data-testid="room-join"]`)
    .click();
  await page.locator(`[data-testid="tab"][data-conv="room:${roomId}"].active`).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-send').click();
  await page.getByTestId('message-content').getByText(text, { exact: true }).waitFor();
}
