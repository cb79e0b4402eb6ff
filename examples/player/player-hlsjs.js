// hls.js on @blindcast/keys-player: hlsConfig() adds token and lease to key requests only.
import { hlsConfig } from './node_modules/@blindcast/keys-player/src/index.js';
import { setup } from './page.js';

const page = setup('hls.js');
const { state, show } = page;
state.levels = 0;
state.fragmentsLoaded = 0;
state.fragments = [];
state.keyLoads = [];
const video = document.getElementById('video');
page.watch(video);

page.start(() => {
  if (!Hls.isSupported()) throw new Error('this browser has no Media Source Extensions');
  const base = page.buffer ? { maxBufferLength: page.buffer, maxMaxBufferLength: page.buffer } : {};
  const hls = new Hls(hlsConfig(page.session, base));
  hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
    state.levels = data.levels.length;
    state.phase = 'loading';
    video.play().catch((error) => page.fail('error', error));
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
    });
    if (data.fatal) state.phase = 'error';
    show();
  });
  hls.loadSource(page.src);
  hls.attachMedia(video);
  window.__hls = hls;
});
