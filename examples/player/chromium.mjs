// Debian's headless Chromium through playwright-core (no browser download), as both test
// drivers use it: e2e.mjs (the hls.js page) and browser.mjs (the per-player pages).
import { chromium } from 'playwright-core';

/** The browser binary: CHROMIUM, else Debian's /usr/bin/chromium. */
export const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

/** Starts headless Chromium with autoplay allowed and background traffic off. */
export function launch() {
  return chromium.launch({
    executablePath,
    headless: true,
    timeout: 30000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A page in a context of its own; its console lines and page errors go to `lines`. */
export async function newPage(browser, lines) {
  const context = await browser.newContext({ viewport: { width: 700, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  return page;
}
