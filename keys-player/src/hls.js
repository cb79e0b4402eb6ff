// hls.js: token and lease go on key requests to the key server (xhrSetup), nothing else
// is touched; key requests are retried through outages and after a new token or lease.

/**
 * Returns an hls.js config: `config` plus an `xhrSetup` (chained to yours) and a
 * `keyLoadPolicy` whose retries cover a key server that is briefly away.
 */
export function hlsConfig(session, config = {}) {
  const userSetup = config.xhrSetup;
  const policy = (config.keyLoadPolicy && config.keyLoadPolicy.default) || {};
  function shouldRetry(retryConfig, count, isTimeout, response, retry) {
    if (!response || !session.isKeyUrl(response.url)) return retry;
    const status = response.code;
    if (status === 401 || status === 403 || status === 410) {
      // A new token or lease, then one more try (xhrSetup waits for it).
      session.keyError(status);
      return count < 2;
    }
    // hls.js's request retry skips status 0 when the browser is online, which is what a
    // key server that is down or restarting answers: retry those too (up to maxNumRetry).
    // (Without this, hls.js 1.7 still reloads the fragment of a single-rendition stream
    // later on its own; the tests cannot tell the two apart.)
    return count < retryConfig.maxNumRetry && (status === 0 || status === 408 || status === 429 || status >= 500 || retry);
  }
  return {
    ...config,
    xhrSetup(xhr, url, context) {
      if (!session.isKeyUrl(url)) return userSetup && userSetup.call(this, xhr, url, context);
      return session.ready().then(() => {
        // Headers can be set only on an opened request; hls.js skips its own open then.
        xhr.open('GET', session.keyUrl(url), true);
        const headers = session.headers();
        for (const name in headers) xhr.setRequestHeader(name, headers[name]);
      });
    },
    keyLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 8000,
        maxLoadTimeMs: 20000,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 1000, maxRetryDelayMs: 4000 },
        ...policy,
        errorRetry: {
          maxNumRetry: 6,
          retryDelayMs: 500,
          maxRetryDelayMs: 4000,
          backoff: 'exponential',
          ...policy.errorRetry,
          shouldRetry,
        },
      },
    },
  };
}
