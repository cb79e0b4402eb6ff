// Video.js (VHS) on @blindcast/keys-player: attachVideojs() adds token and lease to key
// requests of the key server only, through VHS's onRequest hook.
import { attachVideojs } from './node_modules/@blindcast/keys-player/src/index.js';
import { setup } from './page.js';

const page = setup('video.js');
const { state, show } = page;

page.start(() => {
  if (page.buffer) {
    videojs.Vhs.GOAL_BUFFER_LENGTH = page.buffer;
    videojs.Vhs.MAX_GOAL_BUFFER_LENGTH = page.buffer;
  }
  // MSE playback everywhere (Safari would otherwise play HLS natively, without the hooks).
  const player = videojs('video', { muted: true, html5: { vhs: { overrideNative: true } } });
  attachVideojs(player, page.session);
  player.on('error', () => {
    const e = player.error();
    state.errors.push({ type: 'videojs', details: e && e.message, code: e && e.code, fatal: true });
    state.phase = 'error';
    show();
  });
  window.__videojs = player;
  player.ready(() => {
    page.watch(player.tech({ IWillNotUseThisInPlugins: true }).el());
    player.src({ src: page.src, type: 'application/x-mpegURL' });
    state.phase = 'loading';
    show();
    player.play().catch((error) => page.fail('error', error));
  });
});
