// What the three player pages share: parameters, the key session of @blindcast/keys-player,
// a status box, and everything observable mirrored into window.__player for tests.
//
// Parameters come from the URL fragment (kept out of server logs and Referer headers), or
// the query string:
//   keyServer  the key server's base URL, e.g. http://127.0.0.1:8081 (another origin)
//   token      a viewer's JWT; or
//   tokenUrl   a URL answering a fresh token (a real app's sign-in backend), asked again
//              whenever the key server answers 401
//   src        the playlist URL (default media/rotating/index.m3u8)
//   content    the content id the lease is for (default demo-movie)
//   lease      optional: a lease id created elsewhere (e.g. by the app's backend)
//   buffer     optional: seconds to buffer ahead (small values fetch keys during playback)
//   frames     1: hash every presented frame (WebCodecs VideoFrame, SHA-256 of its I420
//              planes) into window.__player.frames, to compare with the source's frames
import { createKeySession } from './node_modules/@blindcast/keys-player/src/index.js';

export function setup(player) {
  const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
  const keyServer = params.get('keyServer') || '';
  const tokenUrl = params.get('tokenUrl');
  const state = {
    player,
    phase: 'starting',
    origin: location.origin,
    keyServer,
    contentId: params.get('content') || 'demo-movie',
    leaseId: null,
    leaseCreated: false,
    leaseIds: [],
    renewAfterSeconds: null,
    renewals: 0,
    renewErrors: [],
    retries: [],
    tokenRefreshes: 0,
    limit: null,
    denied: null,
    released: [],
    events: [],
    errors: [],
    currentTime: 0,
    ended: false,
    frames: [],
    frameErrors: [],
  };
  window.__player = state;
  const statusBox = document.getElementById('status');
  const show = () => {
    statusBox.textContent = [
      `${player}: ${state.phase}  time ${state.currentTime.toFixed(2)}s`,
      `lease ${state.leaseId || '-'}  renewals ${state.renewals}  retries ${state.retries.length}`,
      state.limit ? `limit reached: ${state.limit.active} of ${state.limit.max} streams in use` : '',
      ...state.errors.slice(-3).map((e) => `error ${JSON.stringify(e)}`),
    ]
      .filter(Boolean)
      .join('\n');
  };
  const fail = (phase, error) => {
    state.phase = phase;
    state.errors.push({ type: 'page', details: String((error && error.message) || error) });
    show();
  };

  const session = createKeySession({
    keyServerUrl: keyServer,
    contentId: state.contentId,
    leaseId: params.get('lease') || undefined,
    getToken: tokenUrl
      ? async () => {
          const response = await fetch(tokenUrl);
          if (!response.ok) throw new Error(`token: HTTP ${response.status}`);
          return (await response.text()).trim();
        }
      : () => params.get('token') || '',
  });
  const log = (type, detail) => {
    const { error, ...rest } = detail || {};
    state.events.push({ type, at: performance.now(), ...rest });
    show();
  };
  session.on('lease', (l) => {
    log('lease', l);
    if (state.leaseId === l.leaseId) state.renewals += 1;
    state.leaseId = l.leaseId;
    state.leaseIds.push(l.leaseId);
    state.renewAfterSeconds = l.renewAfterSeconds;
  });
  session.on('recreate', (l) => {
    log('recreate', l);
    state.leaseId = l.leaseId;
    state.leaseIds.push(l.leaseId);
  });
  session.on('retry', (r) => {
    log('retry', r);
    state.retries.push({ attempt: r.attempt, status: r.status, delayMs: r.delayMs });
    state.renewErrors.push(`retry ${r.attempt}: ${r.status}`);
  });
  session.on('token', () => {
    state.tokenRefreshes += 1;
    log('token');
  });
  session.on('limit', (l) => {
    state.limit = { active: l.active, max: l.max };
    state.phase = 'limit';
    log('limit', l);
  });
  session.on('denied', (d) => {
    state.denied = { status: d.status, code: d.code };
    state.renewErrors.push(d.code);
    log('denied', d);
  });
  session.on('error', (d) => {
    state.renewErrors.push(d.code);
    log('error', d);
  });
  session.on('expired', (d) => log('expired', d));
  session.on('release', (d) => {
    state.released.push(d.leaseId);
    log('release', d);
  });

  function watch(video) {
    video.addEventListener('playing', () => {
      state.phase = 'playing';
      show();
    });
    video.addEventListener('ended', () => {
      state.phase = 'ended';
      state.ended = true;
      show();
    });
    video.addEventListener('timeupdate', () => {
      state.currentTime = video.currentTime;
      show();
    });
    if (params.get('frames') === '1') hashFrames(video, state);
  }

  // Creates the lease, then plays; a refused lease (409 limit, 401/403) plays nothing.
  async function start(play) {
    if (!keyServer || !(tokenUrl || params.get('token'))) {
      fail('error', 'missing keyServer and token or tokenUrl');
      return;
    }
    try {
      state.phase = 'lease';
      await session.start();
      state.leaseCreated = true;
      state.leaseId = session.leaseId;
    } catch (error) {
      if (state.phase !== 'limit') fail('error', error);
      return;
    }
    show();
    try {
      await play();
    } catch (error) {
      fail('error', error);
    }
  }

  const buffer = params.get('buffer') ? Number(params.get('buffer')) : null;
  const src = params.get('src') || 'media/rotating/index.m3u8';
  return { params, session, state, show, fail, watch, start, buffer, src };
}

// Each presented frame: its media time and the SHA-256 of its pixels as decoded (I420).
function hashFrames(video, state) {
  if (!video.requestVideoFrameCallback || typeof VideoFrame === 'undefined') {
    state.frameErrors.push('no requestVideoFrameCallback or VideoFrame in this browser');
    return;
  }
  const onFrame = async (_now, meta) => {
    video.requestVideoFrameCallback(onFrame);
    let frame = null;
    try {
      frame = new VideoFrame(video);
      const bytes = new Uint8Array(frame.allocationSize());
      await frame.copyTo(bytes);
      const { format, codedWidth, codedHeight } = frame;
      frame.close();
      frame = null;
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      state.frames.push({ t: meta.mediaTime, hash, format, w: codedWidth, h: codedHeight });
    } catch (error) {
      if (frame) frame.close();
      if (state.frameErrors.length < 5) state.frameErrors.push(String(error));
    }
  };
  video.requestVideoFrameCallback(onFrame);
}
