// Video.js (VHS): an onRequest hook puts token and lease on key requests to the key
// server, an onResponse hook gets a new token or lease when a key request was refused;
// VHS retries its only playlist's failed segment (and key) by itself.

/** Hooks a Video.js `player` to `session` (before its source is set); returns an unhook function. */
export function attachVideojs(player, session) {
  let xhr = null;
  const onRequest = (options) => {
    if (!session.isKeyUrl(options.uri)) return options;
    return {
      ...options,
      uri: session.keyUrl(options.uri),
      headers: { ...options.headers, ...session.headers() },
    };
  };
  const onResponse = (request, error, response) => {
    if (!session.isKeyUrl(request.uri)) return;
    const status = response ? response.statusCode : 0;
    if (error || status >= 400 || status === 0) session.keyError(status);
  };
  // VHS exists per source; it says when its hooks can be set.
  const hook = () => {
    xhr = player.tech({ IWillNotUseThisInPlugins: true }).vhs.xhr;
    xhr.onRequest(onRequest);
    xhr.onResponse(onResponse);
  };
  player.on('xhr-hooks-ready', hook);
  return () => {
    player.off('xhr-hooks-ready', hook);
    if (xhr) {
      xhr.offRequest(onRequest);
      xhr.offResponse(onResponse);
    }
  };
}
