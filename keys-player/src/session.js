// The key session: one lease of one viewer for one content, kept alive while a player
// plays, and the token and lease that key requests to the key server carry.
//
// Lease routes (keys-axum): POST {base}/keys/leases, POST {base}/keys/leases/renew,
// DELETE {base}/keys/leases/{id}; every error is JSON {"error", "message", ...}.

const LEASE_HEADER = 'X-Blindcast-Lease';

/** A lease call the server refused, or that could not reach it (status 0). */
export class KeySessionError extends Error {
  constructor(status, body) {
    super(`${status || 'network'}: ${body.message || body.error || 'request failed'}`);
    this.name = 'KeySessionError';
    this.status = status;
    this.code = body.error || (status ? 'http_' + status : 'network_error');
    if (body.active !== undefined) this.active = body.active;
    if (body.max !== undefined) this.max = body.max;
  }
}

// Worth another try later: no answer, a timeout, throttling, or the server's own trouble.
const transient = (status) => status === 0 || status === 408 || status === 429 || status >= 500;

export function createKeySession(options) {
  const base = new URL(options.keyServerUrl);
  const root = base.href.replace(/\/+$/, '');
  const keysPath = base.pathname.replace(/\/+$/, '') + '/keys/';
  const { contentId, getToken } = options;
  const doFetch = options.fetch || ((...a) => globalThis.fetch(...a));
  const now = options.now || Date.now;
  const random = options.random || Math.random;
  const jitter = options.jitter ?? 0.1;
  const retryMinMs = options.retryMinMs ?? 500;
  const retryMaxMs = options.retryMaxMs ?? 8000;
  const useQuery = options.credentials === 'query';
  const win = options.window === undefined ? globalThis.window : options.window;

  const listeners = {};
  let token = null;
  let lease = null; // the server's lease body
  let expiresAt = 0; // local clock, from ttlSeconds and the time the call was sent
  let timer = null;
  let refreshing = null;
  let refreshedAt = -Infinity;
  let recreating = null;
  let stopped = true;
  let destroyed = false;
  let renewals = 0;
  let failures = 0;
  let expiredSent = false;

  function emit(type, detail) {
    for (const fn of listeners[type] || []) {
      try {
        fn(detail);
      } catch (e) {
        setTimeout(() => { throw e; });
      }
    }
  }

  async function refreshToken() {
    refreshing ||= (async () => {
      try {
        token = await getToken();
        refreshedAt = now();
        emit('token', {});
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // One lease call; a 401 gets a new token from getToken() and one more try.
  async function call(method, path, body, retried) {
    if (refreshing) await refreshing;
    let response;
    try {
      response = await doFetch(root + '/keys/leases' + path, {
        method,
        headers: body
          ? { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }
          : { Authorization: 'Bearer ' + token },
        body: body && JSON.stringify(body),
        keepalive: method === 'DELETE',
      });
    } catch (e) {
      throw new KeySessionError(0, { message: String(e && e.message || e) });
    }
    if (response.status === 401 && !retried) {
      await refreshToken();
      return call(method, path, body, true);
    }
    const text = response.status === 204 ? '' : await response.text().catch(() => '');
    let json = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {}
    if (!response.ok) throw new KeySessionError(response.status, json);
    return json;
  }

  function accept(body, sentAt, recreated) {
    lease = body;
    expiresAt = sentAt + body.ttlSeconds * 1000;
    failures = 0;
    expiredSent = false;
    emit(recreated ? 'recreate' : 'lease', { ...body, renewals });
    const delay = body.renewAfterSeconds * 1000 * (1 - jitter * random());
    schedule(delay);
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(renew, Math.max(0, ms));
  }

  // Refusals the session cannot fix itself end renewals; the page decides what to show.
  function refused(error) {
    stopped = true;
    clearTimeout(timer);
    if (error.status === 409) {
      emit('limit', { active: error.active, max: error.max, error });
    } else if (error.status === 401 || error.status === 403) {
      emit('denied', { status: error.status, code: error.code, error });
    } else {
      emit('error', { status: error.status, code: error.code, error });
    }
  }

  async function create(recreated) {
    const sentAt = now();
    const body = await call('POST', '', { contentId });
    if (stopped) return body;
    accept(body, sentAt, recreated);
    return body;
  }

  // A lease the server no longer has (410 expired, 404 purged): make a new one.
  function recreate() {
    recreating ||= create(true)
      .catch((error) => {
        if (transient(error.status)) retryLater(error);
        else refused(error);
      })
      .finally(() => {
        recreating = null;
      });
    return recreating;
  }

  function retryLater(error) {
    failures += 1;
    const left = expiresAt - now();
    if (left <= 0 && !expiredSent) {
      expiredSent = true;
      emit('expired', { leaseId: lease && lease.leaseId });
    }
    // Exponential backoff with jitter, but one more try still before the lease expires.
    let delay = Math.min(retryMaxMs, retryMinMs * 2 ** (failures - 1)) * (0.5 + random() / 2);
    if (left > retryMinMs) delay = Math.min(delay, left - retryMinMs / 2);
    emit('retry', { attempt: failures, delayMs: Math.round(delay), status: error.status, error });
    schedule(delay);
  }

  async function renew() {
    if (stopped || !lease) return;
    const sentAt = now();
    try {
      const body = await call('POST', '/renew', { leaseId: lease.leaseId });
      if (stopped) return;
      renewals += 1;
      accept(body, sentAt, false);
    } catch (error) {
      if (stopped) return;
      if (error.status === 410 || error.status === 404) return recreate();
      if (transient(error.status)) return retryLater(error);
      refused(error);
    }
  }

  async function release(keepalive) {
    const id = lease && lease.leaseId;
    stopped = true;
    clearTimeout(timer);
    lease = null;
    if (!id) return;
    emit('release', { leaseId: id, keepalive });
    try {
      await call('DELETE', '/' + encodeURIComponent(id), null, true);
    } catch {} // an unreleased lease expires by itself after its TTL
  }

  function onPageHide() {
    release(true);
  }
  function onPageShow(event) {
    // Back from the back/forward cache: the lease was given back, take a new one.
    if (event.persisted && !destroyed) session.start().catch(() => {});
  }

  const session = {
    get token() {
      return token;
    },
    get leaseId() {
      return lease && lease.leaseId;
    },
    get renewals() {
      return renewals;
    },
    get expiresAt() {
      return expiresAt;
    },

    /** Gets a token, creates the lease and keeps it renewed; rejects with KeySessionError. */
    async start() {
      if (destroyed) throw new KeySessionError(0, { error: 'destroyed', message: 'the session was destroyed' });
      stopped = false;
      if (win && win.addEventListener) {
        win.addEventListener('pagehide', onPageHide);
        win.addEventListener('pageshow', onPageShow);
      }
      if (token === null) await refreshToken();
      if (options.leaseId && !lease) {
        // A lease the app's backend created: renew it now, which also checks it.
        lease = { leaseId: options.leaseId };
        expiresAt = now();
        renew();
        return lease;
      }
      try {
        return await create(false);
      } catch (error) {
        refused(error);
        throw error;
      }
    },

    /** Whether a URL is a key of this key server (`{keyServerUrl}/keys/...`, same origin). */
    isKeyUrl(url) {
      try {
        const u = new URL(url, win && win.location ? win.location.href : undefined);
        return u.origin === base.origin && u.pathname.startsWith(keysPath);
      } catch {
        return false;
      }
    },

    /** The headers a key request carries (empty in query mode). */
    headers() {
      if (useQuery) return {};
      const h = { Authorization: 'Bearer ' + token };
      if (lease) h[LEASE_HEADER] = lease.leaseId;
      return h;
    },

    /** The URL a key request goes to: with `token` and `lease` in query mode. */
    keyUrl(url) {
      if (!useQuery) return url;
      const u = new URL(url);
      u.searchParams.set('token', token);
      if (lease) u.searchParams.set('lease', lease.leaseId);
      return u.href;
    },

    /** Resolves when no token refresh or lease re-creation is under way. */
    async ready() {
      while (refreshing || recreating) await (refreshing || recreating);
    },

    /**
     * An adapter reports a failed key request: a 401 fetches a new token (at most once a
     * second, however many requests failed together); 403/410 make a new lease.
     */
    keyError(status) {
      if (status === 401) {
        if (refreshing || now() - refreshedAt < 1000) return this.ready();
        return refreshToken().catch(() => {});
      }
      if ((status === 410 || status === 403) && !stopped) return recreate();
      return this.ready();
    },

    /** Adds a listener; returns the function that removes it. */
    on(type, fn) {
      (listeners[type] ||= new Set()).add(fn);
      return () => listeners[type].delete(fn);
    },

    /** Stops renewing and releases the lease. */
    async destroy() {
      destroyed = true;
      if (win && win.removeEventListener) {
        win.removeEventListener('pagehide', onPageHide);
        win.removeEventListener('pageshow', onPageShow);
      }
      await release(false);
    },
  };
  return session;
}
