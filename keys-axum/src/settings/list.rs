//! [`SETTINGS`]: every environment setting of the server and of Lambda, with where it
//! applies, its default, its meaning and a value it refuses. The README's table is
//! generated from it ([`markdown_table`]), and the tests walk it.

/// Where a setting means something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `blindcast-keys serve` and Lambda.
    Both,
    /// Only `blindcast-keys serve`: refused on Lambda.
    Server,
    /// Only the Lambda bootstrap: refused by `blindcast-keys serve`.
    Lambda,
}

/// One environment setting.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Setting {
    /// The variable's name.
    pub name: &'static str,
    /// Where it applies.
    pub scope: Scope,
    /// Set by the platform rather than the operator (`AWS_REGION`): read when needed,
    /// never refused for going unread.
    pub ambient: bool,
    /// The default, as the README shows it (empty: none).
    pub default: &'static str,
    /// On Lambda, the value read when the variable is unset, if it differs from the
    /// library's default.
    pub lambda_default: Option<&'static str>,
    /// What it does, in one line.
    pub meaning: &'static str,
    /// The library option it sets, whose errors are reported under this name.
    pub option: Option<&'static str>,
    /// A value that is refused, naming this setting...
    pub bad_example: &'static str,
    /// ...when these settings are set too (so that the value is read at all).
    pub example_with: &'static [(&'static str, &'static str)],
    /// Why it is refused when set but not read.
    pub unused_because: &'static str,
    /// One setting per key version: `name` is version 2's (`MASTER_KEY_V2`), and
    /// [`versioned_name`](Self::versioned_name) gives the others, up to
    /// [`MAX_CONFIGURED_KEY_VERSION`](super::MAX_CONFIGURED_KEY_VERSION).
    pub versioned: bool,
}

impl Setting {
    const fn new(
        name: &'static str,
        scope: Scope,
        default: &'static str,
        meaning: &'static str,
        bad_example: &'static str,
    ) -> Self {
        Self {
            name,
            scope,
            ambient: false,
            default,
            lambda_default: None,
            meaning,
            option: None,
            bad_example,
            example_with: &[],
            unused_because: "is not used with the other settings given",
            versioned: false,
        }
    }

    const fn versioned(mut self) -> Self {
        self.versioned = true;
        self
    }

    /// The name of this setting for key version `n` (`MASTER_KEY_V7` for `MASTER_KEY_V2`
    /// and 7); `None` for a setting that is not per version.
    pub fn versioned_name(&self, n: u16) -> Option<String> {
        self.versioned
            .then(|| self.name.replacen("_V2", &format!("_V{n}"), 1))
    }

    /// The name as the README shows it: `MASTER_KEY_V<N>` for a per-version setting.
    pub fn display_name(&self) -> String {
        if self.versioned {
            self.name.replacen("_V2", "_V<N>", 1)
        } else {
            self.name.to_owned()
        }
    }

    const fn option(mut self, option: &'static str) -> Self {
        self.option = Some(option);
        self
    }

    const fn with(mut self, example_with: &'static [(&'static str, &'static str)]) -> Self {
        self.example_with = example_with;
        self
    }

    const fn unused(mut self, because: &'static str) -> Self {
        self.unused_because = because;
        self
    }

    const fn ambient(mut self) -> Self {
        self.ambient = true;
        self
    }

    const fn lambda_default(mut self, value: &'static str) -> Self {
        self.lambda_default = Some(value);
        self
    }
}

/// The settings that choose how tokens are verified; exactly one of them, unless
/// `ALLOW_ANONYMOUS` or (on Lambda) `TRUST_GATEWAY_AUTHORIZER` is on.
pub const JWT_KEY_SOURCES: [&str; 5] = [
    "JWT_SECRET",
    "JWT_SECRET_FILE",
    "JWT_JWKS_URL",
    "JWT_JWKS_FILE",
    "JWT_PUBLIC_KEY_FILE",
];

/// The settings a Lambda may fetch from Secrets Manager (`NAME_SECRET_ARN`) or Parameter
/// Store (`NAME_PARAMETER`).
pub const SECRET_SETTINGS: [&str; 4] = ["MASTER_KEY", "SALT", "JWT_SECRET", "LEASE_STORE"];

/// The secrets that also exist per key version, `NAME_V<N>` (with `_FILE`, and on Lambda
/// `_SECRET_ARN` and `_PARAMETER` forms).
pub const VERSIONED_SECRET_SETTINGS: [&str; 2] = ["MASTER_KEY", "SALT"];

const NEEDS_STORE: &str =
    "applies only with a lease store (LEASE_STORE); without one there are no leases to limit";
const NEEDS_POSTGRES: &str = "applies only with a PostgreSQL lease store (LEASE_STORE=postgres://...); \
     the memory and SQLite stores answer checks in process already";
const NEEDS_CACHE: &str =
    "applies only with the lease-check cache on (a PostgreSQL LEASE_STORE, LEASE_CACHE not false)";
const NEEDS_JWT: &str = "applies only when this server verifies tokens (JWT_SECRET, JWT_SECRET_FILE, \
     JWT_JWKS_URL, JWT_JWKS_FILE or JWT_PUBLIC_KEY_FILE), not with ALLOW_ANONYMOUS or \
     TRUST_GATEWAY_AUTHORIZER";
const NEEDS_JWKS_URL: &str = "applies only with JWT_JWKS_URL (fixed keys are never fetched)";
const NEEDS_BUCKET: &str = "applies only with S3_BUCKET (presigning is off without a bucket)";
const NEEDS_SPEKE: &str = "applies only with SPEKE_KEY_URL_BASE (SPEKE is off without it)";
const NEEDS_SECRET_SOURCE: &str = "applies only with a *_SECRET_ARN or *_PARAMETER setting";

const NEEDS_V2: &[(&str, &str)] = &[(
    "MASTER_KEY_V2",
    "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
)];

const STORE: &[(&str, &str)] = &[("LEASE_STORE", "postgres://127.0.0.1:9/none")];
const JWKS: &[(&str, &str)] = &[("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json")];
const BUCKET: &[(&str, &str)] = &[
    ("S3_BUCKET", "media"),
    ("S3_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "example-secret"),
];
const SPEKE: &[(&str, &str)] = &[("SPEKE_KEY_URL_BASE", "https://keys.example.com")];
const SPEKE_ON: &[(&str, &str)] = &[
    ("SPEKE_KEY_URL_BASE", "https://keys.example.com"),
    ("SPEKE_TOKEN", "speke-token-example-0123456789abcdef"),
];
const BUCKET_NO_REGION: &[(&str, &str)] = &[
    ("S3_BUCKET", "media"),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "example-secret"),
];

use Scope::{Both, Lambda, Server};

/// Every setting, in the README's order.
pub const SETTINGS: &[Setting] = &[
    Setting::new("MASTER_KEY", Both, "required (unless a `MASTER_KEY_V<N>` is set)", "master key of key version 1, hex (32-64 bytes)", "abcd"),
    Setting::new("MASTER_KEY_FILE", Both, "", "a file holding the master key (instead of MASTER_KEY)", "/nonexistent/master.hex"),
    Setting::new("SALT", Both, "required with `MASTER_KEY`", "salt of key version 1, hex (16-64 bytes)", "abcd"),
    Setting::new("SALT_FILE", Both, "", "a file holding the salt (instead of SALT)", "/nonexistent/salt.hex"),
    Setting::new("MASTER_KEY_V2", Both, "", "master key of key version N, 2 to 99 (`MASTER_KEY_V2`, `MASTER_KEY_V3`, ...), hex; see the README, Rotating the master key", "abcd")
        .versioned(),
    Setting::new("MASTER_KEY_V2_FILE", Both, "", "a file holding version N's master key", "/nonexistent/master-v2.hex")
        .versioned(),
    Setting::new("SALT_V2", Both, "required with `MASTER_KEY_V<N>`", "salt of key version N, hex (16-64 bytes)", "abcd")
        .with(NEEDS_V2).versioned(),
    Setting::new("SALT_V2_FILE", Both, "", "a file holding version N's salt", "/nonexistent/salt-v2.hex")
        .with(NEEDS_V2).versioned(),
    Setting::new("KEY_VERSION_PRIMARY", Both, "the only version, if one", "the key version new content is packaged under (`derive`/`keyinfo` default); required with several", "02"),
    Setting::new("KEY_VERSIONS_RETIRED", Both, "", "key versions whose keys are refused (410 `key_version_retired`), comma-separated; a retired version keeps no master key or salt", "1,x"),
    Setting::new("JWT_SECRET", Both, "", "HS256 secret, at least 32 bytes", "too-short"),
    Setting::new("JWT_SECRET_FILE", Both, "", "a file holding the HS256 secret", "/nonexistent/jwt-secret"),
    Setting::new("JWT_JWKS_URL", Both, "", "JWKS of the identity provider (RS256/PS256/ES256/ES384/EdDSA)", "ftp://x"),
    Setting::new("JWT_JWKS_FILE", Both, "", "the same, from a file", "/nonexistent/jwks.json"),
    Setting::new("JWT_PUBLIC_KEY_FILE", Both, "", "one PEM public key (RSA, EC, Ed25519)", "/nonexistent/key.pem"),
    Setting::new("JWT_ISSUER", Both, "unchecked", "required `iss` (comma-separated); the number of issuers decides the viewer id", " , ")
        .option("issuer").unused(NEEDS_JWT),
    Setting::new("JWT_AUDIENCE", Both, "unchecked", "required `aud` (comma-separated)", " , ")
        .option("audience").unused(NEEDS_JWT),
    Setting::new("JWT_LEEWAY", Both, "30s", "clock skew allowed on `exp`/`nbf` (at most 300 s)", "10m")
        .option("leeway").unused(NEEDS_JWT),
    Setting::new("JWT_COOKIE", Both, "", "cookie name to read tokens from (Safari native HLS)", "bad cookie")
        .option("cookie").unused(NEEDS_JWT),
    Setting::new("JWT_CACHE_SIZE", Both, "10000", "verified tokens cached (at most 1000000; 0 turns the cache off)", "-5")
        .option("cache_capacity").unused(NEEDS_JWT),
    Setting::new("JWT_CACHE_TTL", Both, "5m", "longest a verified token is cached (at most 1 h; 0 turns the cache off)", "2h")
        .option("cache_ttl").unused(NEEDS_JWT),
    Setting::new("JWKS_REFETCH_COOLDOWN", Both, "1s", "least time between the starts of two JWKS fetches (at most 10 min)", "1h")
        .option("jwks_refetch_cooldown").with(JWKS).unused(NEEDS_JWKS_URL),
    Setting::new("JWKS_MAX_AGE", Both, "10m", "how long a fetched JWKS is fresh without `Cache-Control: max-age`, and the longest `max-age` honoured (more than 0, at most 24 h)", "0")
        .option("jwks_max_age").with(JWKS).unused(NEEDS_JWKS_URL),
    Setting::new("JWKS_REFRESH_IN_REQUEST", Both, "false (true on Lambda)", "the request that starts a refresh of a stale JWKS waits for it, briefly", "sometimes")
        .with(JWKS).unused(NEEDS_JWKS_URL).lambda_default("true"),
    Setting::new("ALLOW_ANONYMOUS", Both, "false", "serve keys without authentication (exclusive with the JWT key settings)", "maybe"),
    Setting::new("ENTITLEMENT_CLAIM", Both, "", "claim listing allowed content ids or `prefix*` patterns", "\u{7f}")
        .option("entitlement_claim"),
    Setting::new("CORS_ORIGINS", Both, "", "exact origins, comma-separated, or `*`; `null` is refused", " , "),
    Setting::new("CORS_ALLOW_CREDENTIALS", Both, "false", "let browsers send cookies; only with an explicit origin list", "maybe")
        .unused("applies only with CORS_ORIGINS"),
    Setting::new("LEASE_STORE", Both, "none", "`none`, `memory`, `sqlite:PATH`, `postgres://...` (Lambda: `none` or `postgres://...`)", "redis://x"),
    Setting::new("LEASE_TTL", Both, "120s", "lease lifetime (3 s to 24 h)", "1s")
        .option("lease_ttl").with(STORE).unused(NEEDS_STORE),
    Setting::new("MAX_LEASES_PER_VIEWER", Both, "3", "unexpired leases per viewer (at least 1)", "0")
        .option("max_leases_per_viewer").with(STORE).unused(NEEDS_STORE),
    Setting::new("PURGE_INTERVAL", Server, "60s", "background deletion of expired leases (Lambda purges at each cold start)", "0")
        .with(STORE).unused(NEEDS_STORE),
    Setting::new("LEASE_CACHE", Server, "`true` with `postgres://`", "cache successful lease checks in this instance, kept exact by PostgreSQL `LISTEN`/`NOTIFY` (see SECURITY.md)", "maybe")
        .with(STORE).unused(NEEDS_POSTGRES),
    Setting::new("LEASE_CACHE_MAX_ENTRIES", Server, "100000", "leases cached per instance (at least 1); the soonest to expire is evicted", "0")
        .option("cache.max_entries").with(STORE).unused(NEEDS_CACHE),
    Setting::new("LEASE_CACHE_LISTENER_URL", Server, "`LEASE_STORE`", "a session connection for the cache's `LISTEN` (needed when `LEASE_STORE` goes through PgBouncer in transaction mode)", "redis://x")
        .option("cache.listener_url").with(STORE).unused(NEEDS_CACHE),
    Setting::new("KEY_CACHE_MAX_AGE", Both, "0", "seconds of `private, max-age` on keys; 0 means `no-store`", "-1")
        .option("key_cache_max_age"),
    Setting::new("REQUEST_TIMEOUT", Both, "10s", "per request, body included (408 after)", "0")
        .option("request_timeout"),
    Setting::new("MAX_BODY_BYTES", Both, "4096", "request body limit (at least 1024)", "0")
        .option("max_body_bytes"),
    Setting::new("METRICS", Both, "false", "serve `/metrics`", "maybe").option("metrics"),
    Setting::new("LOG_FORMAT", Both, "text", "`text` or `json` (one object per line), any case", "xml"),
    Setting::new("LOG_LEVEL", Both, "info", "a tracing filter: `info`, `warn,blindcast_keys_axum=debug`, ...", "info,[[[bad"),
    Setting::new("BIND", Server, "127.0.0.1:8080", "listen address", "not-an-address"),
    Setting::new("HEADER_READ_TIMEOUT", Server, "5s", "per request head (slow clients are cut off; more than 0)", "0"),
    Setting::new("SHUTDOWN_TIMEOUT", Server, "10s", "in-flight requests finish within this after SIGTERM/SIGINT", "soon"),
    Setting::new("MAX_CONNECTIONS", Server, "4096", "concurrent connections (at least 1)", "0"),
    Setting::new("S3_BUCKET", Both, "", "the bucket; turns `POST /presign` on (see Presigned uploads)", "A")
        .with(BUCKET),
    Setting::new("S3_REGION", Both, "`AWS_REGION`, then `AWS_DEFAULT_REGION`", "signing region", "us east")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("S3_ENDPOINT", Both, "`https://s3.{region}.amazonaws.com`", "AWS S3 or any S3-compatible store", "ftp://x")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("S3_PATH_STYLE", Both, "`true` with `S3_ENDPOINT`, else `false`", "`endpoint/bucket/key` (`true`) or `bucket.endpoint/key`", "maybe")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("S3_PREFIX", Both, "", "object keys are `{prefix}{contentId}/{name}`", "../up/")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("PRESIGN_TTL", Both, "15m", "lifetime of presigned URLs (1 s to 7 days)", "8d")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("PRESIGN_ROLE_CLAIM", Both, "role", "the claim that must hold `PRESIGN_ROLE`", "a b")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("PRESIGN_ROLE", Both, "publisher", "the role publishers hold", "pub lisher")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("PRESIGN_ALLOW_GET", Both, "false", "publishers may also ask for GET URLs", "2")
        .with(BUCKET).unused(NEEDS_BUCKET),
    Setting::new("AWS_ACCESS_KEY_ID", Both, "", "credentials that sign presigned URLs (set by Lambda)", "a b")
        .with(BUCKET).ambient(),
    Setting::new("AWS_SECRET_ACCESS_KEY", Both, "", "the secret of those credentials", "se cret")
        .with(BUCKET).ambient(),
    Setting::new("AWS_SESSION_TOKEN", Both, "", "the session token of temporary credentials", "to ken")
        .with(BUCKET).ambient(),
    Setting::new("AWS_REGION", Both, "", "the region when `S3_REGION` is unset (set by Lambda)", "us east")
        .with(BUCKET_NO_REGION).ambient(),
    Setting::new("AWS_DEFAULT_REGION", Both, "", "the region when `S3_REGION` and `AWS_REGION` are unset", "us east")
        .with(BUCKET_NO_REGION).ambient(),
    Setting::new("SPEKE_KEY_URL_BASE", Both, "", "public base URL of the key routes; turns `POST /speke/v1` and `/speke/v2` on (see SPEKE)", "keys.example.com")
        .with(SPEKE_ON),
    Setting::new("SPEKE_TOKEN", Server, "", "the packagers' bearer secret, at least 32 bytes (required with `SPEKE_KEY_URL_BASE`; Lambda uses API Gateway IAM instead)", "too-short")
        .with(SPEKE).unused(NEEDS_SPEKE),
    Setting::new("SPEKE_TOKEN_FILE", Server, "", "a file holding the packagers' bearer secret", "/nonexistent/speke-token")
        .with(SPEKE).unused(NEEDS_SPEKE),
    Setting::new("TRUST_GATEWAY_AUTHORIZER", Lambda, "false", "authenticate from the API Gateway authorizer's verified claims; excludes the JWT key settings and `ALLOW_ANONYMOUS`", "maybe"),
    Setting::new("BASE_PATH", Lambda, "", "a prefix to take off before routing, e.g. `/v1` for a custom domain's API mapping key", "/v1?x"),
    Setting::new("MASTER_KEY_SECRET_ARN", Lambda, "", "fetch `MASTER_KEY` from Secrets Manager at cold start (feature `aws-secrets`); `#field` takes one field of a JSON secret", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
    Setting::new("SALT_SECRET_ARN", Lambda, "", "the same for `SALT`", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
    Setting::new("MASTER_KEY_V2_SECRET_ARN", Lambda, "", "the same for `MASTER_KEY_V<N>`", "arn:aws:secretsmanager:eu-west-1:1:secret:x")
        .versioned(),
    Setting::new("SALT_V2_SECRET_ARN", Lambda, "", "the same for `SALT_V<N>`", "arn:aws:secretsmanager:eu-west-1:1:secret:x")
        .versioned(),
    Setting::new("JWT_SECRET_SECRET_ARN", Lambda, "", "the same for `JWT_SECRET`", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
    Setting::new("LEASE_STORE_SECRET_ARN", Lambda, "", "the same for `LEASE_STORE`", "arn:aws:secretsmanager:eu-west-1:1:secret:x"),
    Setting::new("MASTER_KEY_PARAMETER", Lambda, "", "fetch `MASTER_KEY` from Parameter Store (SecureString) at cold start", "/blindcast/x"),
    Setting::new("SALT_PARAMETER", Lambda, "", "the same for `SALT`", "/blindcast/x"),
    Setting::new("MASTER_KEY_V2_PARAMETER", Lambda, "", "the same for `MASTER_KEY_V<N>`", "/blindcast/x")
        .versioned(),
    Setting::new("SALT_V2_PARAMETER", Lambda, "", "the same for `SALT_V<N>`", "/blindcast/x")
        .versioned(),
    Setting::new("JWT_SECRET_PARAMETER", Lambda, "", "the same for `JWT_SECRET`", "/blindcast/x"),
    Setting::new("LEASE_STORE_PARAMETER", Lambda, "", "the same for `LEASE_STORE`", "/blindcast/x"),
    Setting::new("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", Lambda, "2773", "the Parameters and Secrets extension's port", "notaport")
        .unused(NEEDS_SECRET_SOURCE),
    Setting::new("AWS_LAMBDA_LOG_FORMAT", Lambda, "", "Lambda's log format, used when `LOG_FORMAT` is unset", "xml").ambient(),
    Setting::new("AWS_LAMBDA_LOG_LEVEL", Lambda, "", "Lambda's log level, used when `LOG_LEVEL` is unset", "loud").ambient(),
];

/// The setting named `name`.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// The setting whose library option is `option`.
pub fn for_option(option: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.option == Some(option))
}

/// The README's table of settings, generated from [`SETTINGS`].
pub fn markdown_table() -> String {
    let mut out = String::from("| variable | default | where | meaning |\n|---|---|---|---|\n");
    for s in SETTINGS {
        let default = match s.default {
            "" => String::new(),
            // Words and descriptions, not values.
            d if d.starts_with('`') || d.contains(' ') || d == "required" || d == "unchecked" => {
                d.to_owned()
            }
            d => format!("`{d}`"),
        };
        let scope = match s.scope {
            Both => "both",
            Server => "server",
            Lambda => "Lambda",
        };
        out.push_str(&format!(
            "| `{}` | {default} | {scope} | {} |\n",
            s.display_name(),
            s.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_options_are_unique_and_lists_agree() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
        let mut options: Vec<&str> = SETTINGS.iter().filter_map(|s| s.option).collect();
        let count = options.len();
        options.sort_unstable();
        options.dedup();
        assert_eq!(options.len(), count);
        for name in JWT_KEY_SOURCES {
            assert!(find(name).is_some(), "{name}");
        }
        for name in SECRET_SETTINGS {
            for source in [format!("{name}_SECRET_ARN"), format!("{name}_PARAMETER")] {
                assert_eq!(find(&source).map(|s| s.scope), Some(Lambda), "{source}");
            }
        }
        for name in VERSIONED_SECRET_SETTINGS {
            for form in ["", "_FILE", "_SECRET_ARN", "_PARAMETER"] {
                let name = format!("{name}_V2{form}");
                assert!(find(&name).is_some_and(|s| s.versioned), "{name}");
            }
        }
        for s in SETTINGS {
            assert_eq!(s.versioned, s.name.contains("_V2"), "{}", s.name);
            assert!(
                !s.meaning.contains('|') && !s.meaning.is_empty(),
                "{}",
                s.name
            );
            assert!(!s.bad_example.is_empty(), "{}", s.name);
        }
    }
}
