// The key session's logic against a fake fetch and fake timers: renew schedule, backoff
// bounds, 410/409/401 handling, release. Real browsers and a real server: the Rust test
// keys-axum/tests/player_library.rs.
import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createKeySession, KeySessionError } from '../src/index.js';

const BASE = 'https://keys.example.com';
let clock;
let calls;
let answers; // (call) => [status, body] | Error
let tokens;
let randomValue;

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
  clock = 1_000_000;
  calls = [];
  tokens = 0;
  randomValue = 0;
  answers = () => [201, lease('L1')];
});
afterEach(() => mock.timers.reset());

function lease(id, ttl = 30, renewAfter = 10) {
  return { leaseId: id, contentId: 'movie', expiresAt: 'x', ttlSeconds: ttl, renewAfterSeconds: renewAfter };
}

async function fakeFetch(url, init) {
  const call = { url, method: init.method, headers: init.headers, body: init.body && JSON.parse(init.body), keepalive: init.keepalive };
  calls.push(call);
  const answer = answers(call);
  if (answer instanceof Error) throw answer;
  const [status, body] = answer;
  return { status, ok: status >= 200 && status < 300, text: async () => (body ? JSON.stringify(body) : '') };
}

function session(extra = {}) {
  return createKeySession({
    keyServerUrl: BASE + '/',
    contentId: 'movie',
    getToken: async () => `T${++tokens}`,
    fetch: fakeFetch,
    now: () => clock,
    random: () => randomValue,
    window: null,
    ...extra,
  });
}

// Advance the fake clock and timers, letting the promises they start settle.
async function advance(ms) {
  clock += ms;
  mock.timers.tick(ms);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function record(s, types) {
  const seen = [];
  for (const t of types) s.on(t, (d) => seen.push([t, d]));
  return seen;
}

test('start gets a token, creates the lease and attaches both to key requests only', async () => {
  const s = session();
  const seen = record(s, ['lease']);
  const body = await s.start();
  assert.equal(body.leaseId, 'L1');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, BASE + '/keys/leases');
  assert.equal(calls[0].method, 'POST');
  assert.equal(calls[0].headers.Authorization, 'Bearer T1');
  assert.deepEqual(calls[0].body, { contentId: 'movie' });
  assert.equal(seen.length, 1);
  assert.deepEqual(s.headers(), { Authorization: 'Bearer T1', 'X-Blindcast-Lease': 'L1' });
  assert.equal(s.keyUrl(BASE + '/keys/movie/3'), BASE + '/keys/movie/3');
  assert.ok(s.isKeyUrl(BASE + '/keys/movie'));
  assert.ok(s.isKeyUrl(BASE + '/keys/movie/3'));
  assert.ok(!s.isKeyUrl('https://cdn.example.com/keys/movie'), 'another origin');
  assert.ok(!s.isKeyUrl('https://keys.example.com:444/keys/movie'), 'another port');
  assert.ok(!s.isKeyUrl(BASE + '/media/seg001.ts'), 'not under /keys/');
  assert.ok(!s.isKeyUrl('not a url'));
});

test('a base path is kept: keys are under {keyServerUrl}/keys/', async () => {
  const s = createKeySession({ keyServerUrl: BASE + '/api', contentId: 'm', getToken: () => 't', fetch: fakeFetch, window: null });
  await s.start();
  assert.equal(calls[0].url, BASE + '/api/keys/leases');
  assert.ok(s.isKeyUrl(BASE + '/api/keys/m/1'));
  assert.ok(!s.isKeyUrl(BASE + '/keys/m/1'));
});

test('renewals follow renewAfterSeconds, at most jitter earlier', async () => {
  randomValue = 1; // the earliest: 10 s * (1 - 0.1)
  answers = (c) => (c.url.endsWith('/renew') ? [200, lease(c.body.leaseId)] : [201, lease('L1')]);
  const s = session();
  await s.start();
  await advance(8999);
  assert.equal(calls.length, 1, 'renewed before 90 % of renewAfterSeconds');
  randomValue = 0; // the next one at the latest: exactly renewAfterSeconds
  await advance(1);
  assert.equal(calls.length, 2);
  assert.equal(calls[1].url, BASE + '/keys/leases/renew');
  assert.deepEqual(calls[1].body, { leaseId: 'L1' });
  await advance(9999);
  assert.equal(calls.length, 2);
  await advance(1);
  assert.equal(calls.length, 3);
  assert.equal(s.renewals, 2);
});

test('failed renewals back off exponentially, capped, and always retry before the lease expires', async () => {
  randomValue = 0.999;
  let down = true;
  answers = (c) => {
    if (!c.url.endsWith('/renew')) return [201, lease('L1', 30, 10)];
    if (down) return calls.length % 2 ? new TypeError('Failed to fetch') : [503, { error: 'lease_store_unavailable' }];
    return [200, lease('L1', 30, 10)];
  };
  const s = session({ retryMinMs: 500, retryMaxMs: 8000 });
  const seen = record(s, ['retry', 'expired', 'lease', 'recreate']);
  await s.start();
  const leaseEnd = clock + 30_000;
  await advance(10_000); // first renewal fails
  const delays = [];
  while (clock < leaseEnd + 20_000 && delays.length < 12) {
    const last = seen.filter(([t]) => t === 'retry').at(-1)[1];
    delays.push(last.delayMs);
    await advance(last.delayMs);
  }
  // 500, 1000, 2000, 4000, 8000 (x ~1 with this random), then capped at 8000.
  assert.deepEqual(delays.slice(0, 5).map((d) => Math.round(d / 100) * 100), [500, 1000, 2000, 4000, 8000]);
  assert.ok(delays.every((d) => d <= 8000), `a delay over the cap: ${delays}`);
  // No wait carries past the expiry: one try lands within retryMinMs before it.
  const tries = calls.filter((c) => c.url.endsWith('/renew')).length;
  assert.ok(tries >= 6, `${tries} renewal tries`);
  assert.ok(seen.some(([t]) => t === 'expired'), 'the lapsed lease was reported');
  assert.ok(seen.some(([t, d]) => t === 'retry' && d.status === 503));
  assert.ok(seen.some(([t, d]) => t === 'retry' && d.status === 0));
  // The server comes back: the lease is renewed and retries stop.
  down = false;
  const last = seen.filter(([t]) => t === 'retry').at(-1)[1];
  await advance(last.delayMs);
  assert.equal(seen.at(-1)[0], 'lease');
  assert.equal(s.renewals, 1);
});

test('a retry is scheduled before the expiry when the backoff would pass it', async () => {
  randomValue = 0.999;
  answers = (c) => (c.url.endsWith('/renew') ? new TypeError('down') : [201, lease('L1', 6, 2)]);
  const s = session({ retryMinMs: 500, retryMaxMs: 60_000 });
  const seen = record(s, ['retry']);
  await s.start();
  const expiry = s.expiresAt;
  await advance(2000);
  for (let i = 0; i < 4; i++) {
    const d = seen.at(-1)[1].delayMs;
    assert.ok(clock + d < expiry || clock >= expiry, `retry ${i} at ${clock + d} passes the expiry ${expiry}`);
    await advance(d);
  }
});

test('410 on renew makes a new lease, which key requests then carry', async () => {
  let n = 0;
  answers = (c) => (c.url.endsWith('/renew') ? [410, { error: 'lease_expired' }] : [201, lease(`L${++n}`)]);
  const s = session();
  const seen = record(s, ['recreate']);
  await s.start();
  await advance(10_000);
  assert.deepEqual(calls.map((c) => c.url.slice(BASE.length)), ['/keys/leases', '/keys/leases/renew', '/keys/leases']);
  assert.equal(seen.length, 1);
  assert.equal(seen[0][1].leaseId, 'L2');
  assert.equal(s.headers()['X-Blindcast-Lease'], 'L2');
});

test('409 on create: a limit event with active and max, a typed rejection, no renewals', async () => {
  answers = () => [409, { error: 'lease_limit_reached', message: 'limit', active: 2, max: 2 }];
  const s = session();
  const seen = record(s, ['limit', 'lease']);
  await assert.rejects(s.start(), (e) => e instanceof KeySessionError && e.code === 'lease_limit_reached' && e.status === 409 && e.active === 2 && e.max === 2);
  assert.deepEqual(seen.map(([t, d]) => [t, d.active, d.max]), [['limit', 2, 2]]);
  await advance(120_000);
  assert.equal(calls.length, 1, 'nothing more was sent');
});

test('401: getToken() again and one retry with the new token; a second 401 is denied', async () => {
  answers = (c) => (c.headers.Authorization === 'Bearer T1' ? [401, { error: 'unauthenticated' }] : [201, lease('L1')]);
  const s = session();
  const seen = record(s, ['token']);
  await s.start();
  assert.deepEqual(calls.map((c) => c.headers.Authorization), ['Bearer T1', 'Bearer T2']);
  assert.equal(seen.length, 2, 'the first token and the refreshed one');

  calls = [];
  tokens = 0;
  answers = () => [401, { error: 'unauthenticated' }];
  const denied = session();
  const deniedSeen = record(denied, ['denied']);
  await assert.rejects(denied.start(), (e) => e.status === 401 && e.code === 'unauthenticated');
  assert.equal(calls.length, 2, 'exactly one retry');
  assert.equal(deniedSeen.length, 1);
});

test('401 on a renewal mid-playback is fixed by a new token', async () => {
  let valid = 'T1';
  answers = (c) => (c.headers.Authorization !== `Bearer ${valid}` ? [401, {}] : [c.url.endsWith('/renew') ? 200 : 201, lease('L1')]);
  const s = session();
  await s.start();
  valid = 'T2'; // the first token expired
  await advance(10_000);
  assert.deepEqual(calls.slice(1).map((c) => [c.url.slice(BASE.length), c.headers.Authorization]), [
    ['/keys/leases/renew', 'Bearer T1'],
    ['/keys/leases/renew', 'Bearer T2'],
  ]);
  assert.equal(s.renewals, 1);
  assert.equal(s.headers().Authorization, 'Bearer T2');
});

test('key errors: 401 refreshes the token at most once a second, 410 makes a new lease', async () => {
  let n = 0;
  answers = () => [201, lease(`L${++n}`)];
  const s = session();
  await s.start();
  await s.keyError(401);
  assert.equal(tokens, 1, 'the token got at start is under a second old');
  await advance(1000);
  await Promise.all([s.keyError(401), s.keyError(401), s.keyError(401)]);
  assert.equal(tokens, 2);
  await s.keyError(401);
  assert.equal(tokens, 2, 'refreshed again within a second');
  await advance(1000);
  await s.keyError(401);
  assert.equal(tokens, 3);
  await s.keyError(410);
  assert.equal(s.leaseId, 'L2');
  await s.keyError(404);
  assert.equal(s.leaseId, 'L2');
});

test('pagehide releases with a keepalive DELETE carrying the token; destroy() releases too', async () => {
  const handlers = {};
  const win = { addEventListener: (t, f) => (handlers[t] = f), removeEventListener: (t) => delete handlers[t] };
  answers = (c) => (c.method === 'DELETE' ? [204, null] : [201, lease('L 1')]);
  const s = session({ window: win });
  const seen = record(s, ['release']);
  await s.start();
  handlers.pagehide({ persisted: false });
  const del = calls.at(-1);
  assert.equal(del.method, 'DELETE');
  assert.equal(del.url, BASE + '/keys/leases/L%201');
  assert.equal(del.keepalive, true);
  assert.equal(del.headers.Authorization, 'Bearer T1');
  assert.deepEqual(seen.map(([, d]) => d), [{ leaseId: 'L 1', keepalive: true }]);
  await advance(60_000);
  assert.equal(calls.length, 2, 'no renewal after release');

  calls = [];
  const t = session({ window: win });
  await t.start();
  await t.destroy();
  assert.deepEqual(calls.map((c) => c.method), ['POST', 'DELETE']);
  assert.equal(handlers.pagehide, undefined, 'listener removed');
  await assert.rejects(t.start());
});

test('query mode: token and lease in the key URL, no headers', async () => {
  const s = session({ credentials: 'query' });
  await s.start();
  assert.deepEqual(s.headers(), {});
  assert.equal(s.keyUrl(BASE + '/keys/movie/2?x=1'), BASE + '/keys/movie/2?x=1&token=T1&lease=L1');
});
