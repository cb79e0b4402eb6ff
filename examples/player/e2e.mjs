// Drives examples/player/index.html (hls.js on @blindcast/keys-player) in Debian's headless Chromium (playwright-core, no
// browser download) and checks what a viewer would see. It starts no server itself.
//
//   node e2e.mjs --mode allowed|denied|refused --key-server URL --page URL [--screenshot PATH]
//     [--expect-status N]
//
// (or MODE, KEY_SERVER, PAGE_URL, SCREENSHOT in the environment; CHROMIUM overrides
// /usr/bin/chromium). PAGE_URL is the full page URL with its fragment (token, keyServer,
// src, ...); see page.js.
//
// allowed: playback advances past several segments and across a key rotation, with no
//   hls.js key-load error; every key request went to the key server's other origin after
//   a successful CORS preflight and its response allowed the page's origin; the lease was
//   renewed on schedule and released when the page went away. Saves a screenshot.
// denied: the page's origin is not in the key server's CORS_ORIGINS: the preflight of
//   each key request is answered without allowing the origin, the browser blocks the key
//   request, and hls.js reports a keyLoadError; nothing plays.
// refused: the key server answers the key requests itself, with CORS allowing the page,
//   but refuses them with HTTP --expect-status (410 for a retired key version): hls.js
//   reports a keyLoadError and nothing plays.
//
// Prints one JSON summary line and exits 0 when every check holds, 1 otherwise.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { executablePath, launch, newPage } from './chromium.mjs';

function option(name, envName) {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[envName];
}

const mode = option('mode', 'MODE') || 'allowed';
const keyServer = (option('key-server', 'KEY_SERVER') || '').replace(/\/+$/, '');
const pageUrl = option('page', 'PAGE_URL');
const screenshot = option('screenshot', 'SCREENSHOT');
// Playback needed: past 4 segments of 2 s, i.e. into the third key epoch (2 segments each).
const minTime = Number(process.env.MIN_PLAY_SECONDS || 9);
const deadlineMs = Number(process.env.E2E_TIMEOUT_MS || 60000);
const expectStatus = Number(option('expect-status', 'EXPECT_STATUS') || 0);

if (!['allowed', 'denied', 'refused'].includes(mode) || !keyServer || !pageUrl
    || (mode === 'refused' && !expectStatus)) {
  console.error('usage: node e2e.mjs --mode allowed|denied|refused --key-server URL --page URL [--screenshot PATH] [--expect-status N]');
  process.exit(2);
}
if (!existsSync(executablePath)) {
  console.error(`e2e: ${executablePath} is missing: apt-get install chromium`);
  process.exit(2);
}

const pageOrigin = new URL(pageUrl).origin;
const keyOrigin = new URL(keyServer).origin;
const token = new URLSearchParams(new URL(pageUrl).hash.slice(1)).get('token');
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const isKeyUrl = (url) => url.startsWith(`${keyServer}/keys/`) && !url.includes('/keys/leases');
const started = Date.now();

// Hard stop: a hung browser must not hang the test that runs this.
const killer = setTimeout(() => {
  console.error(`e2e: gave up after ${deadlineMs} ms`);
  process.exit(1);
}, deadlineMs + 15000);
killer.unref();

const browser = await launch();
const summary = { mode, pageOrigin, keyOrigin };
try {
  const consoleLines = [];
  const page = await newPage(browser, consoleLines);

  // What the page did on the wire, as Playwright sees it.
  const keyRequests = [];
  page.on('request', (r) => {
    if (isKeyUrl(r.url())) keyRequests.push({ url: r.url(), method: r.method(), status: null, acao: null, failure: null });
  });
  page.on('response', async (r) => {
    if (!isKeyUrl(r.url())) return;
    const entry = keyRequests.find((k) => k.url === r.url() && k.status === null);
    if (!entry) return;
    entry.status = r.status();
    entry.acao = (await r.allHeaders())['access-control-allow-origin'] ?? null;
  });
  page.on('requestfailed', (r) => {
    const entry = keyRequests.find((k) => k.url === r.url() && k.failure === null);
    if (entry) entry.failure = r.failure()?.errorText ?? 'failed';
  });

  // Preflights are not Playwright requests; the DevTools protocol reports them.
  const preflights = new Map();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.method === 'OPTIONS' && isKeyUrl(e.request.url)) {
      preflights.set(e.requestId, { url: e.request.url, requestHeaders: e.request.headers, status: null, headers: {} });
    }
  });
  cdp.on('Network.responseReceived', (e) => {
    const p = preflights.get(e.requestId);
    if (!p) return;
    p.status = e.response.status;
    p.headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
  });

  await page.goto(pageUrl, { waitUntil: 'load' });
  const state = () => page.evaluate(() => window.__player);
  const waitFor = async (predicate, ms) => {
    const until = Math.min(Date.now() + ms, started + deadlineMs);
    for (;;) {
      const s = await state();
      if (predicate(s)) return s;
      if (Date.now() > until) return s;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  if (mode === 'allowed') {
    const s = await waitFor(
      (p) => p.currentTime >= minTime || p.errors.some((e) => e.fatal) || p.phase === 'error',
      minTime * 1000 + 30000,
    );
    if (screenshot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot });
    }
    const keyErrors = s.errors.filter((e) => /key/i.test(e.details || ''));
    const epochs = new Set(s.fragments.map((f) => f.key).filter(Boolean));
    Object.assign(summary, {
      currentTime: s.currentTime, fragmentsLoaded: s.fragmentsLoaded, keyLoads: s.keyLoads,
      fragmentKeys: [...epochs], renewals: s.renewals, renewAfterSeconds: s.renewAfterSeconds,
      errors: s.errors, keyRequests, preflights: [...preflights.values()],
    });
    check(s.currentTime >= minTime, `playback reached ${s.currentTime}s, wanted >= ${minTime}s (phase ${s.phase})`);
    check(s.fragmentsLoaded >= 4, `only ${s.fragmentsLoaded} fragments loaded`);
    check(keyErrors.length === 0, `hls.js key errors: ${JSON.stringify(keyErrors)}`);
    check(epochs.size >= 2, `played fragments used ${epochs.size} key URI(s); wanted a rotation`);
    check(s.keyLoads.length >= 2, `only ${s.keyLoads.length} key loads`);
    check(pageOrigin !== keyOrigin, 'page and key server share an origin: CORS is not exercised');
    check(keyRequests.length >= 2, `saw ${keyRequests.length} key requests`);
    for (const k of keyRequests) {
      check(k.method === 'GET' && k.status === 200, `key request ${k.url}: ${k.method} ${k.status} ${k.failure ?? ''}`);
      check(k.acao === pageOrigin, `key response ${k.url} allowed origin ${k.acao}, wanted ${pageOrigin}`);
    }
    // Authorization and X-Blindcast-Lease are not CORS-safelisted: each key URL needs a
    // preflight that allows the origin, GET and both headers.
    const keyUrls = new Set(keyRequests.map((k) => k.url));
    for (const url of keyUrls) {
      const p = [...preflights.values()].find((x) => x.url === url);
      check(p, `no preflight seen for ${url}`);
      if (!p) continue;
      const allowHeaders = (p.headers['access-control-allow-headers'] || '').toLowerCase();
      check(p.status >= 200 && p.status < 300, `preflight ${url}: status ${p.status}`);
      check(p.headers['access-control-allow-origin'] === pageOrigin, `preflight ${url}: allow-origin ${p.headers['access-control-allow-origin']}`);
      check(allowHeaders.includes('authorization') && allowHeaders.includes('x-blindcast-lease'),
        `preflight ${url}: allow-headers "${allowHeaders}"`);
    }
    check(s.leaseCreated && s.leaseId, 'the page created no lease');
    check(s.renewErrors.length === 0, `renewal errors: ${s.renewErrors}`);
    // Unconditional: the test sets a lease lifetime whose renewal interval falls well
    // inside the playback this mode requires, so no renewal is a failure.
    check(s.renewAfterSeconds > 0 && s.renewAfterSeconds < minTime,
      `renewAfterSeconds ${s.renewAfterSeconds} is not below the ${minTime} s of playback`);
    check(s.renewals >= 1, `no renewal in ${s.currentTime}s with renewAfterSeconds ${s.renewAfterSeconds}`);

    // Leaving the page releases the lease (pagehide + fetch keepalive): renewing it then
    // answers 404.
    await page.goto('about:blank');
    let renewStatus = null;
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${keyServer}/keys/leases/renew`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ leaseId: s.leaseId }),
      });
      renewStatus = r.status;
      if (renewStatus === 404) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    summary.renewAfterLeaving = renewStatus;
    check(renewStatus === 404, `lease still renewable after leaving the page (HTTP ${renewStatus})`);
  } else if (mode === 'refused') {
    // hls.js does not retry a key load that got a 4xx: the error comes at once.
    const s = await waitFor((p) => p.errors.some((e) => e.details === 'keyLoadError'), 30000);
    // Give a wrongly working player time to show it plays.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await state();
    if (screenshot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot });
    }
    Object.assign(summary, { currentTime: after.currentTime, errors: after.errors, keyRequests });
    check(after.errors.some((e) => e.details === 'keyLoadError'), `no keyLoadError (errors: ${JSON.stringify(s.errors)})`);
    check(after.currentTime < 0.5, `video played to ${after.currentTime}s without a key`);
    check(after.keyLoads.length === 0, `keys loaded: ${after.keyLoads}`);
    // The refusal is the key server's answer, readable by the page: not a CORS failure.
    check(keyRequests.length >= 1, 'no key request was made');
    for (const k of keyRequests) {
      check(k.status === expectStatus, `key request ${k.url}: status ${k.status} ${k.failure ?? ''}, wanted ${expectStatus}`);
      check(k.acao === pageOrigin, `key response ${k.url} allowed origin ${k.acao}, wanted ${pageOrigin}`);
    }
  } else {
    // The library retries a key request that got no answer (status 0, as a CORS refusal
    // looks to the page) for about 16 s, since that is also what a restarting key server
    // looks like; the error comes after.
    const s = await waitFor((p) => p.errors.some((e) => e.details === 'keyLoadError'), 45000);
    // Give a wrongly working player time to show it plays.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await state();
    if (screenshot) {
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot });
    }
    Object.assign(summary, { currentTime: after.currentTime, errors: after.errors, keyRequests, preflights: [...preflights.values()] });
    const keyLoadErrors = after.errors.filter((e) => e.details === 'keyLoadError');
    check(keyLoadErrors.length >= 1, `no keyLoadError (errors: ${JSON.stringify(s.errors)})`);
    check(after.currentTime < 0.5, `video played to ${after.currentTime}s without a key`);
    check(after.keyLoads.length === 0, `keys loaded despite CORS: ${after.keyLoads}`);
    // The failure must be CORS, not any key-load failure: a preflight for every key URL
    // the page tried, answered by the server but without allowing this origin, and every
    // key request blocked in the browser.
    check(preflights.size >= 1, 'no CORS preflight was sent: the failure is not CORS');
    const tried = new Set(keyRequests.map((k) => k.url));
    for (const url of tried) {
      check([...preflights.values()].some((p) => p.url === url), `no preflight seen for ${url}`);
    }
    for (const p of preflights.values()) {
      check(p.status !== null, `preflight ${p.url} got no answer from the key server`);
      check(!p.headers['access-control-allow-origin'], `preflight ${p.url} allowed ${p.headers['access-control-allow-origin']}`);
    }
    check(keyRequests.length >= 1 && keyRequests.every((k) => k.failure !== null && k.status === null),
      `a key request was not blocked by the browser: ${JSON.stringify(keyRequests)}`);
  }
  summary.console = consoleLines.slice(-20);
} catch (error) {
  failures.push(`e2e crashed: ${error && error.stack ? error.stack : error}`);
} finally {
  await browser.close().catch(() => {});
}
summary.failures = failures;
summary.ms = Date.now() - started;
console.log(JSON.stringify(summary));
if (failures.length) {
  console.error(`e2e ${mode}: FAIL\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`e2e ${mode}: PASS`);
process.exit(0);
