// A minimal viewer of Blindcast-encrypted HLS: sign in (a token), create a lease, renew it
// on the server's schedule, let hls.js fetch keys with token and lease attached, and give
// the lease back when the page goes away.
//
// Parameters come from the URL fragment (kept out of server logs and Referer headers), or
// the query string:
//   token      a viewer's JWT (a real app gets it from its sign-in, not from the URL)
//   keyServer  the key server's base URL, e.g. http://127.0.0.1:8080 (another origin)
//   src        the playlist URL (default media/rotating/index.m3u8)
//   content    the content id the lease is for (default demo-movie)
//   lease      optional: a lease id created elsewhere (e.g. by the app's backend)
//
// Everything observable is mirrored into window.__player for tests to read.
(function () {
  'use strict';

  const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
  const token = params.get('token') || '';
  const keyServer = (params.get('keyServer') || '').replace(/\/+$/, '');
  const src = params.get('src') || 'media/rotating/index.m3u8';
  const contentId = params.get('content') || 'demo-movie';

  const state = {
    phase: 'starting',
    origin: location.origin,
    keyServer,
    contentId,
    leaseId: params.get('lease'),
    leaseCreated: false,
    renewAfterSeconds: null,
    renewals: 0,
    renewErrors: [],
    releaseSent: false,
    levels: 0,
    fragmentsLoaded: 0,
    fragments: [],
    keyRequests: [],
    keyLoads: [],
    errors: [],
    currentTime: 0,
  };
  window.__player = state;

  const video = document.getElementById('video');
  const statusBox = document.getElementById('status');
  function show() {
    statusBox.textContent = [
      `phase ${state.phase}  time ${state.currentTime.toFixed(2)}s`,
      `lease ${state.leaseId || '-'}  renewals ${state.renewals}`,
      `fragments ${state.fragmentsLoaded}  keys ${state.keyLoads.length}  errors ${state.errors.length}`,
      ...state.errors.slice(-3).map((e) => `${e.fatal ? 'error' : 'warning'} ${e.details} ${e.responseCode ?? ''} ${(/key/i.test(e.details || '') && e.keyUri) || e.url || ''}`),
    ].join('\n');
  }
  function fail(phase, error) {
    state.phase = phase;
    state.errors.push({ type: 'page', details: String(error && error.message ? error.message : error) });
    show();
  }

  function authHeaders() {
    return { Authorization: `Bearer ${token}` };
  }
  function isKeyUrl(url) {
    return keyServer !== '' && url.startsWith(`${keyServer}/keys/`);
  }

  async function leaseCall(path, leaseId) {
    const response = await fetch(`${keyServer}/keys/leases${path}`, {
      method: 'POST',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify(leaseId ? { leaseId } : { contentId }),
    });
    if (!response.ok) {
      throw new Error(`lease ${path || 'create'}: HTTP ${response.status}`);
    }
    return response.json();
  }

  // Renew on the server's schedule (renewAfterSeconds), so the lease outlives the viewing.
  let renewTimer = null;
  function scheduleRenewal(seconds) {
    state.renewAfterSeconds = seconds;
    renewTimer = setTimeout(async () => {
      try {
        const lease = await leaseCall('/renew', state.leaseId);
        state.renewals += 1;
        scheduleRenewal(lease.renewAfterSeconds);
      } catch (error) {
        // A lost lease (404/410) ends renewals; keys already fetched stay usable.
        state.renewErrors.push(String(error.message || error));
      }
      show();
    }, seconds * 1000);
  }

  // Give the lease back as the page goes away; keepalive lets the request outlive it.
  window.addEventListener('pagehide', () => {
    if (!state.leaseId || state.releaseSent) return;
    state.releaseSent = true;
    clearTimeout(renewTimer);
    fetch(`${keyServer}/keys/leases/${encodeURIComponent(state.leaseId)}`, {
      method: 'DELETE',
      headers: authHeaders(),
      keepalive: true,
    }).catch(() => {});
  });

  function play() {
    const hls = new Hls({
      // Token and lease go to the key server only: segments and playlists never see them.
      xhrSetup(xhr, url) {
        if (!isKeyUrl(url)) return;
        state.keyRequests.push(url);
        // Headers can be set only on an opened request; hls.js skips its own open then.
        xhr.open('GET', url, true);
        xhr.setRequestHeader('Authorization', `Bearer ${token}`);
        xhr.setRequestHeader('X-Blindcast-Lease', state.leaseId);
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      state.levels = data.levels.length;
      state.phase = 'loading';
      video.play().catch((error) => fail('error', error));
      show();
    });
    hls.on(Hls.Events.KEY_LOADED, (_event, data) => {
      const info = data.keyInfo || {};
      const decrypt = info.decryptdata || (data.frag && data.frag.decryptdata) || {};
      state.keyLoads.push(decrypt.uri || '');
      show();
    });
    hls.on(Hls.Events.FRAG_LOADED, (_event, data) => {
      state.fragmentsLoaded += 1;
      state.fragments.push({ sn: data.frag.sn, key: data.frag.decryptdata ? data.frag.decryptdata.uri : null });
      show();
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      state.errors.push({
        type: data.type,
        details: data.details,
        fatal: data.fatal,
        responseCode: data.response ? data.response.code : undefined,
        url: (data.context && data.context.url) || (data.frag && data.frag.url) || data.url,
        keyUri: data.frag && data.frag.decryptdata ? data.frag.decryptdata.uri : undefined,
      });
      if (data.fatal) state.phase = 'error';
      show();
    });
    video.addEventListener('playing', () => { state.phase = 'playing'; show(); });
    video.addEventListener('ended', () => { state.phase = 'ended'; show(); });
    video.addEventListener('timeupdate', () => { state.currentTime = video.currentTime; show(); });
    hls.loadSource(src);
    hls.attachMedia(video);
    window.__hls = hls;
  }

  async function start() {
    if (!token || !keyServer) {
      fail('error', 'missing token or keyServer parameter (see player.js)');
      return;
    }
    if (!Hls.isSupported()) {
      fail('error', 'this browser has no Media Source Extensions');
      return;
    }
    try {
      if (!state.leaseId) {
        state.phase = 'lease';
        const lease = await leaseCall('', null);
        state.leaseId = lease.leaseId;
        state.leaseCreated = true;
        scheduleRenewal(lease.renewAfterSeconds);
      } else {
        scheduleRenewal(1);
      }
    } catch (error) {
      fail('error', error);
      return;
    }
    show();
    play();
  }

  start();
})();
