// Shaka Player: a request filter puts token and lease on key requests to the key server
// (HLS AES-128 keys, RequestType.KEY); the networking engine's retries (its `retry`
// event) get a new token or lease first when the key server asked for one.

/**
 * Hooks `player` (a shaka.Player, before `load()`) to `session`; returns a function that
 * unhooks it. Raises `manifest.retryParameters.maxAttempts` (Shaka fetches HLS keys with
 * the manifest's retry parameters) to `minAttempts` so a key server restart is survived.
 */
export function attachShaka(player, session, { minAttempts = 6 } = {}) {
  const net = player.getNetworkingEngine();
  const isKey = (request) => request.uris.some((u) => session.isKeyUrl(u));
  const filter = async (_type, request) => {
    if (!isKey(request)) return;
    await session.ready();
    request.uris = request.uris.map((u) => (session.isKeyUrl(u) ? session.keyUrl(u) : u));
    Object.assign(request.headers, session.headers());
  };
  const onRetry = (event) => {
    const error = event.error;
    // BAD_HTTP_STATUS (1001) carries [uri, status, ...]; HTTP_ERROR (1002) [uri, ...].
    if (error && error.data && session.isKeyUrl(error.data[0])) {
      session.keyError(error.code === 1001 ? error.data[1] : 0);
    }
  };
  const retry = player.getConfiguration().manifest.retryParameters;
  if (retry.maxAttempts < minAttempts) {
    player.configure({ manifest: { retryParameters: { maxAttempts: minAttempts } } });
  }
  net.registerRequestFilter(filter);
  net.addEventListener('retry', onRetry);
  return () => {
    net.unregisterRequestFilter(filter);
    net.removeEventListener('retry', onRetry);
  };
}
