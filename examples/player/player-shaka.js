// Shaka Player on @blindcast/keys-player: attachShaka() registers a request filter that
// adds token and lease to key requests (RequestType.KEY) of the key server only.
import { attachShaka } from './node_modules/@blindcast/keys-player/src/index.js';
import { setup } from './page.js';

const page = setup('shaka');
const { state, show } = page;
const video = document.getElementById('video');
page.watch(video);

page.start(async () => {
  shaka.polyfill.installAll();
  if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka Player does not support this browser');
  const player = new shaka.Player();
  await player.attach(video);
  if (page.buffer) player.configure({ streaming: { bufferingGoal: page.buffer, rebufferingGoal: 1 } });
  attachShaka(player, page.session);
  player.addEventListener('error', (event) => {
    const e = event.detail;
    state.errors.push({ type: 'shaka', details: String(e.code), fatal: e.severity === 2, data: String(e.data && e.data[0]) });
    if (e.severity === 2) state.phase = 'error';
    show();
  });
  window.__shaka = player;
  await player.load(page.src);
  state.phase = 'loading';
  show();
  await video.play();
});
