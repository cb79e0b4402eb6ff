//! One test per rule of the reader, and a walk of every setting of the list.

use std::collections::HashMap;

use super::*;

const MASTER: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
const SALT: &str = "00112233445566778899aabbccddeeff";
const SECRET: &str = "an HS256 secret of at least 32 bytes!";

/// A valid base (master key, salt, an HS256 secret) with `extra` on top; an empty value
/// removes the variable.
fn env(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut map: HashMap<String, String> = [
        ("MASTER_KEY", MASTER),
        ("SALT", SALT),
        ("JWT_SECRET", SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        if v.is_empty() {
            map.remove(*k);
        } else {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    move |name: &str| map.get(name).cloned()
}

fn read(platform: Platform, extra: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_env(&env(extra), platform)
}

#[track_caller]
fn refused(platform: Platform, extra: &[(&str, &str)], setting: &str, says: &str) {
    match read(platform, extra) {
        Ok(_) => panic!("{platform:?} accepted {extra:?}"),
        Err(e) => {
            assert_eq!(e.setting, setting, "{platform:?} {extra:?}: {e}");
            assert!(e.message.contains(says), "{platform:?} {extra:?}: {e}");
        }
    }
}

const BOTH: [Platform; 2] = [Platform::Server, Platform::Lambda];
const STORE: (&str, &str) = ("LEASE_STORE", "postgres://127.0.0.1:9/none");

#[test]
fn the_base_is_accepted_on_both_platforms() {
    for p in BOTH {
        let s = read(p, &[]).unwrap();
        assert!(s.authentication.jwt().is_some());
        assert_eq!(s.router, crate::RouterConfig::default());
        assert_eq!(s.server.is_some(), p == Platform::Server);
    }
}

#[test]
fn jwt_settings_with_allow_anonymous_are_refused() {
    for (name, value) in [
        ("JWT_LEEWAY", "soon"),
        ("JWT_CACHE_SIZE", "-5"),
        ("JWT_CACHE_TTL", "1m"),
        ("JWT_ISSUER", "https://issuer"),
        ("JWT_AUDIENCE", "video"),
        ("JWT_COOKIE", "bc"),
    ] {
        for p in BOTH {
            refused(
                p,
                &[
                    ("JWT_SECRET", ""),
                    ("ALLOW_ANONYMOUS", "true"),
                    (name, value),
                ],
                name,
                "not with ALLOW_ANONYMOUS",
            );
        }
        refused(
            Platform::Lambda,
            &[
                ("JWT_SECRET", ""),
                ("TRUST_GATEWAY_AUTHORIZER", "true"),
                (name, value),
            ],
            name,
            "TRUST_GATEWAY_AUTHORIZER",
        );
    }
    // Alone, anonymous is fine.
    let s = read(
        Platform::Server,
        &[("JWT_SECRET", ""), ("ALLOW_ANONYMOUS", "true")],
    )
    .unwrap();
    assert!(matches!(s.authentication, Authentication::Anonymous(_)));
}

#[test]
fn jwks_settings_without_a_jwks_url_are_refused() {
    for name in [
        "JWKS_REFETCH_COOLDOWN",
        "JWKS_MAX_AGE",
        "JWKS_REFRESH_IN_REQUEST",
    ] {
        let value = if name == "JWKS_REFRESH_IN_REQUEST" {
            "true"
        } else {
            "5s"
        };
        refused(Platform::Server, &[(name, value)], name, "JWT_JWKS_URL");
    }
    // Lambda's default for JWKS_REFRESH_IN_REQUEST comes from the list and is not a
    // setting the operator gave: nothing to refuse with a fixed key.
    assert!(read(Platform::Lambda, &[]).is_ok());
}

#[test]
fn lease_settings_without_a_lease_store_are_refused() {
    for (name, value) in [
        ("LEASE_TTL", "5m"),
        ("MAX_LEASES_PER_VIEWER", "2"),
        ("PURGE_INTERVAL", "30s"),
    ] {
        refused(Platform::Server, &[(name, value)], name, "LEASE_STORE");
        let s = read(Platform::Server, &[STORE, (name, value)]).unwrap();
        assert_eq!(
            s.lease_store,
            LeaseStoreSetting::Postgres(STORE.1.to_owned())
        );
    }
    let s = read(
        Platform::Server,
        &[STORE, ("LEASE_TTL", "5m"), ("MAX_LEASES_PER_VIEWER", "2")],
    )
    .unwrap();
    assert_eq!(s.router.lease_ttl(), std::time::Duration::from_secs(300));
    assert_eq!(s.router.max_leases_per_viewer(), 2);
}

#[test]
fn values_that_disable_a_protection_are_refused() {
    for p in BOTH {
        refused(
            p,
            &[("MAX_BODY_BYTES", "0")],
            "MAX_BODY_BYTES",
            "at least 1024",
        );
        refused(
            p,
            &[STORE, ("MAX_LEASES_PER_VIEWER", "0")],
            "MAX_LEASES_PER_VIEWER",
            "at least 1",
        );
        refused(
            p,
            &[STORE, ("LEASE_TTL", "25h")],
            "LEASE_TTL",
            "3 seconds to 24 hours",
        );
        refused(
            p,
            &[("REQUEST_TIMEOUT", "0")],
            "REQUEST_TIMEOUT",
            "more than 0",
        );
        for name in ["JWT_ISSUER", "JWT_AUDIENCE"] {
            refused(p, &[(name, " , ")], name, "lists nothing");
        }
        refused(p, &[("CORS_ORIGINS", " , ")], "CORS_ORIGINS", "no origins");
        refused(
            p,
            &[("JWT_LEEWAY", "301s")],
            "JWT_LEEWAY",
            "at most 300 seconds",
        );
    }
}

#[test]
fn log_settings_are_parsed_once_for_both_platforms() {
    for p in BOTH {
        refused(
            p,
            &[("LOG_LEVEL", "info,[[[bad")],
            "LOG_LEVEL",
            "not a log filter",
        );
        refused(p, &[("LOG_FORMAT", "xml")], "LOG_FORMAT", "json or text");
        let s = read(
            p,
            &[
                ("LOG_FORMAT", "JSON"),
                ("LOG_LEVEL", "warn,blindcast_keys_axum=debug"),
            ],
        )
        .unwrap();
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.log.filter, "warn,blindcast_keys_axum=debug");
    }
    // Lambda falls back to its own variables; the server refuses them.
    let s = read(
        Platform::Lambda,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "FATAL"),
        ],
    )
    .unwrap();
    assert_eq!(
        s.log,
        LogSettings {
            format: LogFormat::Json,
            filter: "error".into()
        }
    );
    // LOG_* win; Lambda's own are then unread but ambient, so not refused.
    let s = read(
        Platform::Lambda,
        &[("LOG_LEVEL", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "INFO")],
    )
    .unwrap();
    assert_eq!(s.log.filter, "debug");
    refused(
        Platform::Server,
        &[("AWS_LAMBDA_LOG_LEVEL", "INFO")],
        "AWS_LAMBDA_LOG_LEVEL",
        "AWS Lambda bootstrap",
    );
}

#[test]
fn settings_of_the_other_platform_are_refused() {
    for name in [
        "BIND",
        "MAX_CONNECTIONS",
        "HEADER_READ_TIMEOUT",
        "SHUTDOWN_TIMEOUT",
        "PURGE_INTERVAL",
    ] {
        let value = if name == "BIND" { "0.0.0.0:8080" } else { "5" };
        refused(
            Platform::Lambda,
            &[STORE, (name, value)],
            name,
            "means nothing on AWS Lambda",
        );
    }
    for name in [
        "TRUST_GATEWAY_AUTHORIZER",
        "BASE_PATH",
        "SALT_PARAMETER",
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    ] {
        refused(
            Platform::Server,
            &[(name, "x")],
            name,
            "means nothing to `blindcast-keys serve`",
        );
    }
}

#[test]
fn the_gateway_authorizer_mode_is_known_to_the_reader() {
    let s = read(
        Platform::Lambda,
        &[("JWT_SECRET", ""), ("TRUST_GATEWAY_AUTHORIZER", "true")],
    )
    .unwrap();
    assert!(matches!(
        s.authentication,
        Authentication::GatewayAuthorizer
    ));
    assert!(s.authentication.authenticator().is_none());
    refused(
        Platform::Lambda,
        &[("TRUST_GATEWAY_AUTHORIZER", "true")],
        "TRUST_GATEWAY_AUTHORIZER",
        "JWT_SECRET",
    );
    refused(
        Platform::Lambda,
        &[
            ("JWT_SECRET", ""),
            ("ALLOW_ANONYMOUS", "true"),
            ("TRUST_GATEWAY_AUTHORIZER", "true"),
        ],
        "TRUST_GATEWAY_AUTHORIZER",
        "ALLOW_ANONYMOUS",
    );
}

#[cfg(feature = "presign")]
#[test]
fn presign_settings_without_a_bucket_are_refused() {
    for name in [
        "S3_REGION",
        "S3_ENDPOINT",
        "S3_PATH_STYLE",
        "S3_PREFIX",
        "PRESIGN_TTL",
        "PRESIGN_ROLE_CLAIM",
        "PRESIGN_ROLE",
        "PRESIGN_ALLOW_GET",
    ] {
        refused(Platform::Server, &[(name, "x")], name, "S3_BUCKET");
    }
    // Lambda always sets the region and credentials: alone they turn nothing on.
    let s = read(
        Platform::Lambda,
        &[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ],
    )
    .unwrap();
    assert!(s.presign.is_none());
}

/// The same walk as the system tests' (which run the binary), in process: every setting's
/// bad example, on both platforms, is refused naming that setting.
#[test]
fn every_setting_of_the_list_refuses_its_bad_example() {
    for p in BOTH {
        for s in SETTINGS {
            if !cfg!(feature = "presign") && s.example_with.iter().any(|(k, _)| *k == "S3_BUCKET") {
                continue;
            }
            let speke = s
                .example_with
                .iter()
                .any(|(k, _)| *k == "SPEKE_KEY_URL_BASE");
            if !cfg!(feature = "speke") && speke {
                continue;
            }
            let extra = walk_env(s);
            let extra: Vec<(&str, &str)> = extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            match read(p, &extra) {
                Ok(_) => panic!("{p:?} accepted {}={:?}", s.name, s.bad_example),
                Err(e) => assert_eq!(
                    e.setting, s.name,
                    "{p:?} {}={:?}: {e}",
                    s.name, s.bad_example
                ),
            }
        }
    }
}

/// The variables that walk `s` on top of the base: its context, then the bad value;
/// key and secret settings replace the base's.
pub(crate) fn walk_env(s: &Setting) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let replaced = |name: &str| -> Option<&'static str> {
        if JWT_KEY_SOURCES.contains(&name) && name != "JWT_SECRET" {
            Some("JWT_SECRET")
        } else if let Some(inline) = name.strip_suffix("_FILE") {
            SECRET_SETTINGS.iter().copied().find(|n| *n == inline)
        } else {
            None
        }
    };
    for (k, v) in s
        .example_with
        .iter()
        .chain([(s.name, s.bad_example)].iter())
    {
        if let Some(base) = replaced(k) {
            out.push((base.to_owned(), String::new()));
        }
        out.push(((*k).to_owned(), (*v).to_owned()));
    }
    out
}

/// The defaults the list shows are the library's: setting each one explicitly changes
/// nothing. (The JWT defaults are the builder's and are not visible from here.)
#[test]
fn the_list_shows_the_library_defaults() {
    let mut compared = 0;
    for p in BOTH {
        for s in SETTINGS {
            let default = match (p, s.lambda_default) {
                (Platform::Lambda, Some(d)) => d,
                _ => s.default,
            };
            let in_scope = match s.scope {
                Scope::Both => true,
                Scope::Server => p == Platform::Server,
                Scope::Lambda => p == Platform::Lambda,
            };
            // Only plain values: `required`, `unchecked`, `false (true on Lambda)` and
            // descriptions in backquotes are not values.
            // Lambda-only settings are read by the Lambda adapter, not here.
            if !in_scope
                || s.scope == Scope::Lambda
                || default.is_empty()
                || default.contains(['`', ' '])
                || default == "unchecked"
                || default == "required"
                || s.name.starts_with("JWT")
                || s.name.starts_with("JWKS")
            {
                continue;
            }
            let presign = s.example_with.iter().any(|(k, _)| *k == "S3_BUCKET");
            if presign && !cfg!(feature = "presign") {
                continue;
            }
            let context: Vec<(&str, &str)> = s.example_with.to_vec();
            let mut explicit = context.clone();
            explicit.push((s.name, default));
            let (a, b) = match (read(p, &explicit), read(p, &context)) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => panic!("{p:?} {}={default}: {:?} / {:?}", s.name, a.err(), b.err()),
            };
            assert_eq!(a.router, b.router, "{p:?} {}", s.name);
            assert_eq!(a.server, b.server, "{p:?} {}", s.name);
            assert_eq!(a.log, b.log, "{p:?} {}", s.name);
            assert_eq!(a.lease_store, b.lease_store, "{p:?} {}", s.name);
            #[cfg(feature = "presign")]
            assert_eq!(
                format!("{:?}", a.presign),
                format!("{:?}", b.presign),
                "{p:?} {}",
                s.name
            );
            compared += 1;
        }
    }
    assert!(compared >= 20, "{compared}");
}
