// @blindcast/keys-player: the key session and the three player adapters.
export { createKeySession, KeySessionError } from './session.js';
export { hlsConfig } from './hls.js';
export { attachShaka } from './shaka.js';
export { attachVideojs } from './videojs.js';
