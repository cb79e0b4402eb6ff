//! The keyring's builder rules, lookups and redaction, through the public API.

use blindcast_keys_core::{
    ContentId, KeyDeriver, KeyLookupError, KeyStatus, KeyVersion, Keyring, KeyringError, MasterKey,
    Salt,
};

fn v(n: u16) -> KeyVersion {
    KeyVersion::new(n).unwrap_or_else(|e| panic!("{e}"))
}

fn master(byte: u8) -> MasterKey {
    MasterKey::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn salt(byte: u8) -> Salt {
    Salt::from_bytes(&[byte; 16]).unwrap_or_else(|e| panic!("{e}"))
}

fn id(text: &str) -> ContentId {
    ContentId::new(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Versions 1 (retired), 2, 3 (primary) and 5.
fn three_active() -> Keyring {
    Keyring::builder()
        .version(v(5), &master(5), &salt(5))
        .version(v(2), &master(2), &salt(2))
        .retired(v(1))
        .version(v(3), &master(3), &salt(3))
        .primary(v(3))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn err(builder: blindcast_keys_core::KeyringBuilder) -> KeyringError {
    match builder.build() {
        Ok(k) => panic!("accepted: {k:?}"),
        Err(e) => e,
    }
}

#[test]
fn lookups_find_active_versions_and_refuse_the_others() {
    let keyring = three_active();
    for n in [2, 3, 5] {
        let deriver = keyring.deriver(v(n)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(deriver.version(), v(n));
        // The keyring's deriver is that version's own secrets under that version's info.
        let own = KeyDeriver::with_version(&master(n as u8), &salt(n as u8), v(n));
        assert_eq!(deriver.epoch_key(&id("a"), 9), own.epoch_key(&id("a"), 9));
        assert_eq!(deriver.content_key(&id("a")), own.content_key(&id("a")));
    }
    assert_eq!(
        keyring.deriver(v(1)).map(|_| ()),
        Err(KeyLookupError::Retired(v(1)))
    );
    for n in [4, 6, 65535] {
        assert_eq!(
            keyring.deriver(v(n)).map(|_| ()),
            Err(KeyLookupError::Unknown(v(n)))
        );
    }
    assert_eq!(keyring.primary().version(), v(3));
    assert_eq!(
        KeyLookupError::Retired(v(1)).to_string(),
        "key version 1 is retired"
    );
    assert_eq!(
        KeyLookupError::Unknown(v(4)).to_string(),
        "key version 4 is not configured"
    );
}

#[test]
fn versions_lists_every_version_ascending_with_its_status() {
    let listed: Vec<_> = three_active().versions().collect();
    assert_eq!(
        listed,
        [
            (v(1), KeyStatus::Retired),
            (v(2), KeyStatus::Active),
            (v(3), KeyStatus::Primary),
            (v(5), KeyStatus::Active),
        ]
    );
    let labels: Vec<_> = listed.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(labels, ["retired", "active", "primary", "active"]);
    // Retired versions above the active ones are listed too.
    let keyring = Keyring::builder()
        .version(v(1), &master(1), &salt(1))
        .retired(v(7))
        .retired(v(4))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<_> = keyring.versions().collect();
    assert_eq!(
        listed,
        [
            (v(1), KeyStatus::Primary),
            (v(4), KeyStatus::Retired),
            (v(7), KeyStatus::Retired),
        ]
    );
}

#[test]
fn one_deriver_is_a_one_version_keyring() {
    let deriver = KeyDeriver::new(&master(1), &salt(1));
    let expected = deriver.content_key(&id("movie-1"));
    for keyring in [Keyring::single(deriver.clone()), Keyring::from(deriver)] {
        assert_eq!(keyring.primary().version(), KeyVersion::V1);
        assert_eq!(keyring.primary().content_key(&id("movie-1")), expected);
        assert_eq!(
            keyring.versions().collect::<Vec<_>>(),
            [(KeyVersion::V1, KeyStatus::Primary)]
        );
        assert_eq!(
            keyring.deriver(v(2)).map(|_| ()),
            Err(KeyLookupError::Unknown(v(2)))
        );
    }
    // A single deriver of another version keeps its version.
    let v4 = Keyring::single(KeyDeriver::with_version(&master(1), &salt(1), v(4)));
    assert_eq!(v4.primary().version(), v(4));
}

#[test]
fn exactly_one_active_version_is_the_primary_by_default() {
    let keyring = Keyring::builder()
        .version(v(2), &master(2), &salt(2))
        .retired(v(1))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keyring.primary().version(), v(2));
}

#[test]
fn each_rule_fails_with_its_own_error_naming_the_version() {
    let b = Keyring::builder;
    let cases: Vec<(KeyringError, &str)> = vec![
        (
            err(b()),
            "the keyring has no active key version: configure at least one master key",
        ),
        (
            err(b().retired(v(1)).retired(v(2))),
            "the keyring has no active key version: configure at least one master key",
        ),
        (
            err(b()
                .version(v(1), &master(1), &salt(1))
                .version(v(2), &master(2), &salt(2))
                .version(v(10), &master(10), &salt(10))),
            "key versions 1, 2, 10 are active and none is named primary: name the version new content is packaged under",
        ),
        (
            err(b().version(v(1), &master(1), &salt(1)).primary(v(2))),
            "primary key version 2 is not configured",
        ),
        (
            err(b()
                .version(v(2), &master(2), &salt(2))
                .retired(v(1))
                .primary(v(1))),
            "primary key version 1 is retired: the primary must be an active version",
        ),
        (
            err(b()
                .version(v(3), &master(3), &salt(3))
                .version(v(3), &master(4), &salt(4))),
            "key version 3 is configured twice",
        ),
        (
            err(b()
                .version(v(1), &master(1), &salt(1))
                .retired(v(3))
                .retired(v(3))),
            "key version 3 is configured twice",
        ),
        (
            // Same master key under another salt: still refused.
            err(b()
                .version(v(7), &master(9), &salt(1))
                .version(v(1), &master(1), &salt(1))
                .version(v(2), &master(9), &salt(2))
                .primary(v(7))),
            "key versions 2 and 7 have the same master key: every version needs its own",
        ),
        (
            err(b()
                .version(v(1), &master(1), &salt(1))
                .version(v(2), &master(2), &salt(2))
                .retired(v(2))
                .primary(v(1))),
            "key version 2 is both active and retired: a retired version must have no master key or salt configured",
        ),
    ];
    let expected_variants = [
        KeyringError::NoActiveVersion,
        KeyringError::NoActiveVersion,
        KeyringError::NoPrimary {
            active: vec![v(1), v(2), v(10)],
        },
        KeyringError::UnknownPrimary(v(2)),
        KeyringError::PrimaryRetired(v(1)),
        KeyringError::DuplicateVersion(v(3)),
        KeyringError::DuplicateVersion(v(3)),
        KeyringError::DuplicateMasterKey {
            first: v(2),
            second: v(7),
        },
        KeyringError::ActiveAndRetired(v(2)),
    ];
    assert_eq!(cases.len(), expected_variants.len());
    for ((error, message), expected) in cases.iter().zip(expected_variants) {
        assert_eq!(*error, expected);
        assert_eq!(error.to_string(), *message);
    }
}

#[test]
fn master_keys_differing_in_one_byte_anywhere_are_distinct() {
    for position in [0, 15, 31] {
        let mut bytes = [0x5a; 32];
        bytes[position] ^= 1;
        let other = MasterKey::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let built = Keyring::builder()
            .version(
                v(1),
                &MasterKey::from_bytes(&[0x5a; 32]).unwrap_or_else(|e| panic!("{e}")),
                &salt(1),
            )
            .version(v(2), &other, &salt(1))
            .primary(v(2))
            .build();
        assert!(built.is_ok(), "byte {position}: {built:?}");
    }
    // A longer key that starts with the shorter one is a different key.
    let long = MasterKey::from_bytes(&[0x5a; 33]).unwrap_or_else(|e| panic!("{e}"));
    let built = Keyring::builder()
        .version(v(1), &master(0x5a), &salt(1))
        .version(v(2), &long, &salt(1))
        .primary(v(2))
        .build();
    assert!(built.is_ok(), "{built:?}");
}

#[test]
fn debug_prints_versions_and_no_key_bytes() {
    let keyring = three_active();
    let builder = Keyring::builder()
        .version(v(2), &master(0xab), &salt(0xcd))
        .retired(v(1));
    let deriver = keyring.primary().clone();
    let key = deriver.content_key(&id("movie-1"));
    let shown = [
        format!("{keyring:?}"),
        format!("{builder:?}"),
        format!("{deriver:?}"),
    ];
    assert_eq!(
        shown[0],
        "Keyring { primary: 3, active: [2, 3, 5], retired: [1] }"
    );
    assert_eq!(
        shown[1],
        "KeyringBuilder { active: [2], retired: [1], primary: None }"
    );
    assert_eq!(
        shown[2],
        "KeyDeriver(version 3, HKDF-SHA-256, PRK redacted)"
    );
    for s in &shown {
        for secret in ["abab", "cdcd", "0303", key.to_hex().as_str()] {
            assert!(!s.contains(secret), "{s} shows {secret}");
        }
    }
}
