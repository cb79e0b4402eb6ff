// Type declarations of @blindcast/keys-player (hand-written; the source is plain ES2020).

/** What `POST /keys/leases` and `/keys/leases/renew` answer. */
export interface Lease {
  leaseId: string;
  contentId: string;
  expiresAt: string;
  ttlSeconds: number;
  renewAfterSeconds: number;
}

export interface KeySessionOptions {
  /** The key server's base URL, e.g. `https://keys.example.com` (key URIs are `{it}/keys/...`). */
  keyServerUrl: string;
  /** The content id the lease is for. */
  contentId: string;
  /** The viewer's current token; called at start and again when the server answers 401. */
  getToken: () => string | Promise<string>;
  /** A lease created elsewhere (the app's backend): renewed from the start instead of created. */
  leaseId?: string;
  /** `headers` (default): Authorization and X-Blindcast-Lease; `query`: `token` and `lease` query parameters. */
  credentials?: 'headers' | 'query';
  /** Fraction of `renewAfterSeconds` subtracted at random (default 0.1). */
  jitter?: number;
  /** First and largest delay between renewal retries, ms (defaults 500 and 8000). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** For tests: fetch, clock, randomness and window (null: no pagehide handling). */
  fetch?: typeof fetch;
  now?: () => number;
  random?: () => number;
  window?: Pick<Window, 'addEventListener' | 'removeEventListener'> | null;
}

export interface KeySessionEvents {
  /** A lease was created or renewed. */
  lease: Lease & { renewals: number };
  /** The lease was gone (410/404) or refused for a key (403/410) and a new one was made. */
  recreate: Lease & { renewals: number };
  /** A renewal failed (network, 408, 429, 5xx) and is retried after `delayMs`. */
  retry: { attempt: number; delayMs: number; status: number; error: KeySessionError };
  /** The lease's lifetime passed without a successful renewal; retries continue. */
  expired: { leaseId: string | null };
  /** 409 lease_limit_reached: the viewer already watches `active` of `max` streams. */
  limit: { active: number; max: number; error: KeySessionError };
  /** 401 (after one new token) or 403: renewals stopped. */
  denied: { status: number; code: string; error: KeySessionError };
  /** Any other refusal: renewals stopped. */
  error: { status: number; code: string; error: KeySessionError };
  /** getToken() supplied a new token. */
  token: Record<string, never>;
  /** The lease is being given back (`keepalive` on pagehide). */
  release: { leaseId: string; keepalive: boolean };
}

export declare class KeySessionError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  status: number;
  /** The server's error code (`lease_limit_reached`, `unauthenticated`, ...), or `network_error`. */
  code: string;
  active?: number;
  max?: number;
}

export interface KeySession {
  readonly token: string | null;
  readonly leaseId: string | null;
  readonly renewals: number;
  /** Local time (ms) the lease expires at unless renewed. */
  readonly expiresAt: number;
  start(): Promise<Lease>;
  isKeyUrl(url: string): boolean;
  headers(): Record<string, string>;
  keyUrl(url: string): string;
  ready(): Promise<void>;
  keyError(status: number): Promise<unknown>;
  on<K extends keyof KeySessionEvents>(type: K, listener: (detail: KeySessionEvents[K]) => void): () => void;
  destroy(): Promise<void>;
}

export declare function createKeySession(options: KeySessionOptions): KeySession;

/** An hls.js config (`new Hls(hlsConfig(session, yourConfig))`). */
export declare function hlsConfig<C extends object>(session: KeySession, config?: C): C & {
  xhrSetup: (xhr: XMLHttpRequest, url: string, context?: unknown) => void | Promise<void>;
  keyLoadPolicy: { default: Record<string, unknown> };
};

/** Hooks a shaka.Player (before load); returns the unhook function. */
export declare function attachShaka(
  player: {
    getNetworkingEngine(): any;
    getConfiguration(): any;
    configure(config: object): boolean;
  },
  session: KeySession,
  options?: { minAttempts?: number },
): () => void;

/** Hooks a Video.js player (before its source is set); returns the unhook function. */
export declare function attachVideojs(
  player: { on(type: string, fn: () => void): void; off(type: string, fn: () => void): void; tech(options?: object): any },
  session: KeySession,
): () => void;
