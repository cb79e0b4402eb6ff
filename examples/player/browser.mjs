// A headless Chromium remote for tests: one JSON command per line on stdin, one JSON
// answer per line on stdout (playwright-core driving Debian's /usr/bin/chromium, no
// browser download; CHROMIUM overrides the path). It starts no server itself.
//
//   {"cmd":"open","page":"a","url":"http://..."}   open a page (own browser context)
//   {"cmd":"state","page":"a"}                      its window.__player
//   {"cmd":"close","page":"a"}                      close it (runs pagehide handlers)
//   {"cmd":"screenshot","page":"a","path":"..."}
//   {"cmd":"quit"}
//
// Answers: {"ok":true,...} or {"ok":false,"error":"..."}. "state" also returns the
// page's last console lines and page errors (`console`) and every request of the page
// that failed or was answered 400 or more (`refused`: status 0 for a failure).
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { executablePath, launch, newPage } from './chromium.mjs';

if (!existsSync(executablePath)) {
  console.log(JSON.stringify({ ok: false, error: `${executablePath} is missing: apt-get install chromium` }));
  process.exit(2);
}
const browser = await launch();
const pages = new Map();

async function run(c) {
  switch (c.cmd) {
    case 'open': {
      const lines = [];
      const page = await newPage(browser, lines);
      // Every refused or failed request, in full (the console keeps only its last lines).
      const refused = [];
      page.on('response', (r) => {
        if (r.status() >= 400) refused.push({ status: r.status(), method: r.request().method(), url: r.url() });
      });
      page.on('requestfailed', (r) => {
        refused.push({ status: 0, method: r.method(), url: r.url(), error: r.failure()?.errorText });
      });
      pages.set(c.page, { context: page.context(), page, lines, refused });
      await page.goto(c.url, { waitUntil: 'load' });
      return {};
    }
    case 'state': {
      const p = pages.get(c.page);
      const state = await p.page.evaluate(() => window.__player ?? null);
      return { state, console: p.lines.slice(-30), refused: p.refused };
    }
    case 'screenshot': {
      await pages.get(c.page).page.screenshot({ path: c.path });
      return {};
    }
    case 'close': {
      const p = pages.get(c.page);
      pages.delete(c.page);
      // Closing runs unload handlers (pagehide), as a tab being closed does.
      await p.page.close({ runBeforeUnload: true });
      await p.context.close();
      return {};
    }
    case 'quit':
      await browser.close();
      console.log(JSON.stringify({ ok: true }));
      process.exit(0);
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { ok: true, ...(await run(JSON.parse(line))) };
  } catch (error) {
    answer = { ok: false, error: String((error && error.stack) || error) };
  }
  console.log(JSON.stringify(answer));
}
await browser.close();
