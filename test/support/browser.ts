/**
 * A real browser for the web client's e2e test: Debian's chromium driven by playwright-core
 * (no browser download). When chromium is missing the suite says so loudly and skips; with
 * REQUIRE_SERVICES=1 (CI) it fails instead, like the other backing services.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * True when chromium is installed. Otherwise prints a loud notice and returns false, or
 * throws when REQUIRE_SERVICES=1.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const message = `chromium is missing at ${CHROMIUM_PATH} (apt-get install chromium): the browser tests are SKIPPED`;
  if (process.env.REQUIRE_SERVICES === '1') {
    throw new Error(`${message.replace('SKIPPED', 'required')} because REQUIRE_SERVICES=1`);
  }
  console.warn(`\n${'!'.repeat(78)}\n!! ${message}\n${'!'.repeat(78)}\n`);
  return false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
}
