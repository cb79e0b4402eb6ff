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
            if checked_by_the_store(s) {
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

/// Options of the PostgreSQL store's `CacheConfig` (`cache.*`): this crate passes them on
/// as plain values, the server checks them with that type (and shows its defaults), and
/// the binary's walk (system-tests/tests/settings.rs) and keys-server's tests cover them.
fn checked_by_the_store(s: &Setting) -> bool {
    s.option.is_some_and(|o| o.starts_with("cache."))
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
                || checked_by_the_store(s)
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

const MASTER_2: &str = "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c";
const SALT_2: &str = "ffeeddccbbaa99887766554433221100";
const MASTER_3: &str = "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d";

fn versions(s: &Settings) -> Vec<(u16, &'static str)> {
    s.keyring
        .versions()
        .map(|(v, status)| (v.get(), status.as_str()))
        .collect()
}

#[test]
fn master_key_and_salt_alone_are_version_1_with_todays_keys() {
    use blindcast_keys_core::{ContentId, KeyDeriver, MasterKey, Salt};
    for p in BOTH {
        let s = read(p, &[]).unwrap();
        assert_eq!(versions(&s), [(1, "primary")]);
        let today = KeyDeriver::new(
            &MasterKey::from_hex(MASTER).unwrap(),
            &Salt::from_hex(SALT).unwrap(),
        );
        let id: ContentId = "movie-1".parse().unwrap();
        for epoch in [None, Some(0), Some(17)] {
            assert_eq!(
                s.keyring.primary().key(&id, epoch).as_bytes(),
                today.key(&id, epoch).as_bytes()
            );
        }
    }
}

#[test]
fn versions_primary_and_retired_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let salt3 = dir.path().join("salt3");
    std::fs::write(&salt3, format!("{SALT_2}\n")).unwrap();
    let salt3 = salt3.to_str().unwrap();
    for p in BOTH {
        let s = read(
            p,
            &[
                ("MASTER_KEY_V2", MASTER_2),
                ("SALT_V2", SALT_2),
                ("MASTER_KEY_V99", MASTER_3),
                ("SALT_V99_FILE", salt3),
                ("KEY_VERSION_PRIMARY", " 2 "),
                ("KEY_VERSIONS_RETIRED", "3, 100,65535"),
            ],
        )
        .unwrap();
        assert_eq!(
            versions(&s),
            [
                (1, "active"),
                (2, "primary"),
                (3, "retired"),
                (99, "active"),
                (100, "retired"),
                (65535, "retired")
            ]
        );
        // Version 1 may be left out (a deployment that started later, or retired it).
        let s = read(
            p,
            &[
                ("MASTER_KEY", ""),
                ("SALT", ""),
                ("MASTER_KEY_V2", MASTER_2),
                ("SALT_V2", SALT_2),
                ("KEY_VERSIONS_RETIRED", "1"),
            ],
        )
        .unwrap();
        assert_eq!(versions(&s), [(1, "retired"), (2, "primary")]);
    }
}

#[test]
fn keyring_rules_are_start_up_errors_naming_a_setting() {
    let v2: [(&str, &str); 2] = [("MASTER_KEY_V2", MASTER_2), ("SALT_V2", SALT_2)];
    let with_v2 = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        v2.iter().chain(extra).copied().collect()
    };
    for p in BOTH {
        // Several versions and no primary: adding a version never promotes it by itself.
        refused(
            p,
            &with_v2(&[]),
            "KEY_VERSION_PRIMARY",
            "none is named primary",
        );
        refused(
            p,
            &with_v2(&[("KEY_VERSION_PRIMARY", "3")]),
            "KEY_VERSION_PRIMARY",
            "not configured",
        );
        refused(
            p,
            &with_v2(&[
                ("KEY_VERSION_PRIMARY", "2"),
                ("KEY_VERSIONS_RETIRED", "3"),
                ("MASTER_KEY_V3", MASTER_3),
                ("SALT_V3", SALT_2),
            ]),
            "KEY_VERSIONS_RETIRED",
            "MASTER_KEY_V3 is still set",
        );
        refused(
            p,
            &with_v2(&[("KEY_VERSION_PRIMARY", "3"), ("KEY_VERSIONS_RETIRED", "3")]),
            "KEY_VERSION_PRIMARY",
            "retired",
        );
        // A retired version 1 must have lost its MASTER_KEY.
        refused(
            p,
            &with_v2(&[("KEY_VERSION_PRIMARY", "2"), ("KEY_VERSIONS_RETIRED", "1")]),
            "KEY_VERSIONS_RETIRED",
            "MASTER_KEY is still set",
        );
        // The same master key under two versions, whatever the salts.
        refused(
            p,
            &[
                ("MASTER_KEY_V2", MASTER),
                ("SALT_V2", SALT_2),
                ("KEY_VERSION_PRIMARY", "2"),
            ],
            "MASTER_KEY_V2",
            "same master key",
        );
        refused(
            p,
            &[
                ("MASTER_KEY_V2", MASTER_2),
                ("SALT_V2", SALT_2),
                ("MASTER_KEY_V7", &MASTER_2.to_uppercase()),
                ("SALT_V7", SALT),
                ("KEY_VERSION_PRIMARY", "2"),
            ],
            "MASTER_KEY_V7",
            "key versions 2 and 7 have the same master key",
        );
        // Half a version.
        refused(
            p,
            &[("SALT_V2", SALT_2)],
            "SALT_V2",
            "MASTER_KEY_V2 is not set",
        );
        refused(
            p,
            &[("SALT_V2_FILE", "/x")],
            "SALT_V2_FILE",
            "MASTER_KEY_V2 is not set",
        );
        refused(
            p,
            &[("MASTER_KEY_V2", MASTER_2)],
            "SALT_V2",
            "needs its own salt",
        );
        refused(
            p,
            &[("MASTER_KEY", ""), ("SALT", SALT)],
            "SALT",
            "MASTER_KEY is not set",
        );
        refused(
            p,
            &[("MASTER_KEY_V2", MASTER_2), ("MASTER_KEY_V2_FILE", "/x")],
            "MASTER_KEY_V2",
            "not both",
        );
        // Bad key material is named, never shown.
        refused(
            p,
            &[("MASTER_KEY_V2", "abcd"), ("SALT_V2", SALT_2)],
            "MASTER_KEY_V2",
            "",
        );
        refused(
            p,
            &[("MASTER_KEY_V2", MASTER_2), ("SALT_V2", "zz")],
            "SALT_V2",
            "",
        );
        // Nothing configured at all: today's message.
        refused(
            p,
            &[("MASTER_KEY", ""), ("SALT", "")],
            "MASTER_KEY",
            "gen-secrets",
        );
        // Malformed version numbers.
        for bad in ["02", "0", "+2", "x", "70000", "2 3"] {
            refused(
                p,
                &with_v2(&[("KEY_VERSION_PRIMARY", bad)]),
                "KEY_VERSION_PRIMARY",
                "key version",
            );
        }
        for bad in ["1,x", "0", "01", ",", "2,,3", "65536"] {
            refused(
                p,
                &with_v2(&[("KEY_VERSION_PRIMARY", "2"), ("KEY_VERSIONS_RETIRED", bad)]),
                "KEY_VERSIONS_RETIRED",
                "item",
            );
        }
        refused(
            p,
            &with_v2(&[
                ("KEY_VERSION_PRIMARY", "2"),
                ("KEY_VERSIONS_RETIRED", "3,3"),
            ]),
            "KEY_VERSIONS_RETIRED",
            "twice",
        );
    }
}

#[test]
fn keyring_errors_never_show_secrets() {
    let secret_like = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e";
    for extra in [
        vec![("MASTER_KEY_V2", secret_like), ("SALT_V2", "zz")],
        vec![("MASTER_KEY_V2", "0e0e0e"), ("SALT_V2", SALT_2)],
        vec![
            ("MASTER_KEY_V2", MASTER),
            ("SALT_V2", SALT_2),
            ("KEY_VERSION_PRIMARY", "2"),
        ],
    ] {
        let e = read(Platform::Server, &extra).err().unwrap();
        let text = format!("{e} {e:?}");
        for (_, value) in &extra {
            assert!(value.len() < 6 || !text.contains(value), "{text}");
        }
        assert!(!text.contains(MASTER) && !text.contains("0e0e0e"), "{text}");
    }
    let s = read(
        Platform::Server,
        &[
            ("MASTER_KEY_V2", MASTER_2),
            ("SALT_V2", SALT_2),
            ("KEY_VERSION_PRIMARY", "2"),
        ],
    )
    .unwrap();
    let debug = format!("{s:?}");
    assert!(
        !debug.contains(MASTER) && !debug.contains(MASTER_2) && !debug.contains(SALT_2),
        "{debug}"
    );
}

/// `_V<N>` names are settings of the list for every N: set but unread, or on the wrong
/// platform, they are refused like any other.
#[test]
fn versioned_names_follow_the_unread_and_scope_rules() {
    refused(
        Platform::Server,
        &[(
            "MASTER_KEY_V7_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:x",
        )],
        "MASTER_KEY_V7_SECRET_ARN",
        "AWS Lambda bootstrap",
    );
    refused(
        Platform::Server,
        &[("SALT_V99_PARAMETER", "/x")],
        "SALT_V99_PARAMETER",
        "AWS Lambda bootstrap",
    );
    let names: Vec<String> = SETTINGS
        .iter()
        .filter(|s| s.versioned)
        .map(|s| s.display_name())
        .collect();
    assert_eq!(
        names,
        [
            "MASTER_KEY_V<N>",
            "MASTER_KEY_V<N>_FILE",
            "SALT_V<N>",
            "SALT_V<N>_FILE",
            "MASTER_KEY_V<N>_SECRET_ARN",
            "SALT_V<N>_SECRET_ARN",
            "MASTER_KEY_V<N>_PARAMETER",
            "SALT_V<N>_PARAMETER"
        ]
    );
    let setting = find("SALT_V2_FILE").unwrap();
    assert_eq!(setting.versioned_name(42).as_deref(), Some("SALT_V42_FILE"));
}

/// Names that look like per-version settings but name no configurable version: found by
/// listing the environment (the process environment can be listed), since no lookup by a
/// well-formed name would ever see them.
#[test]
fn malformed_version_names_are_refused_when_the_environment_can_be_listed() {
    use super::env::ListedEnv;
    let listed = |extra: &[(&str, &str)]| {
        let mut map: std::collections::BTreeMap<String, String> = [
            ("MASTER_KEY", MASTER),
            ("SALT", SALT),
            ("JWT_SECRET", SECRET),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        map.retain(|_, v| !v.is_empty());
        ListedEnv(map)
    };
    for p in BOTH {
        assert!(Settings::from_env(&listed(&[]), p).is_ok());
        for (name, says) in [
            ("MASTER_KEY_V02", "leading zeros"),
            ("SALT_V2X", "plain decimal"),
            ("MASTER_KEY_V100", "versions 2 to 99"),
            ("SALT_V1", "version 1 is MASTER_KEY/SALT"),
            ("MASTER_KEY_V0_FILE", "plain decimal"),
            ("MASTER_KEY_V3_PATH", "per-version names end in"),
        ] {
            let e = Settings::from_env(&listed(&[(name, MASTER_2)]), p)
                .err()
                .unwrap();
            assert_eq!(e.setting, name, "{p:?}: {e}");
            assert!(e.message.contains(says), "{p:?} {name}: {e}");
            assert!(!e.to_string().contains(MASTER_2));
        }
        // Not ours: left alone, like any variable the list does not know.
        for name in ["SALT_VALUE", "MASTER_KEY_VAULT_ADDR", "MASTER_KEY_V"] {
            assert!(
                Settings::from_env(&listed(&[(name, "x")]), p).is_ok(),
                "{name}"
            );
        }
        // Well formed and blank: nothing to refuse.
        assert!(Settings::from_env(&listed(&[("MASTER_KEY_V02", " ")]), p).is_ok());
    }
}
