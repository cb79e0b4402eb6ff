//! Property tests of the derivation and of the input rules.

use std::collections::HashSet;

use blindcast_keys_core::{
    ContentId, ContentIdError, KeyDeriver, KeyVersion, MasterKey, Salt, parse_epoch,
};
use proptest::prelude::*;

const VALID_ID: &str = "[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}";

fn deriver(master: &[u8], salt: &[u8]) -> KeyDeriver {
    KeyDeriver::new(
        &MasterKey::from_bytes(master).expect("valid length"),
        &Salt::from_bytes(salt).expect("valid length"),
    )
}

proptest! {
    #[test]
    fn derivation_is_deterministic(
        master in prop::collection::vec(any::<u8>(), 32..=64),
        salt in prop::collection::vec(any::<u8>(), 16..=64),
        id in VALID_ID,
        epoch in any::<u64>(),
    ) {
        let id = ContentId::new(id).expect("generated ids are valid");
        let (a, b) = (deriver(&master, &salt), deriver(&master, &salt));
        prop_assert_eq!(a.content_key(&id), b.content_key(&id));
        prop_assert_eq!(a.epoch_key(&id, epoch), b.epoch_key(&id, epoch));
    }

    #[test]
    fn content_and_epoch_keys_never_coincide(
        ids in prop::collection::hash_set(VALID_ID, 1..8),
        epochs in prop::collection::hash_set(any::<u64>(), 1..8),
    ) {
        let d = deriver(&[7; 32], &[9; 16]);
        let mut seen = HashSet::new();
        for id in &ids {
            let id = ContentId::new(id.as_str()).expect("valid");
            prop_assert!(seen.insert(*d.content_key(&id).as_bytes()), "content key of {} repeats", id);
            for &e in &epochs {
                prop_assert!(seen.insert(*d.epoch_key(&id, e).as_bytes()), "epoch key {} of {} repeats", e, id);
            }
        }
    }

    /// The same master key and salt under different versions: every (version, content,
    /// epoch) names a different key, so a reused secret never repeats a key across versions.
    #[test]
    fn versions_never_collide(
        master in prop::collection::vec(any::<u8>(), 32..=64),
        salt in prop::collection::vec(any::<u8>(), 16..=64),
        versions in prop::collection::hash_set(prop_oneof![1u16..=12, 1u16..=u16::MAX], 2..6),
        ids in prop::collection::hash_set(VALID_ID, 1..5),
        epochs in prop::collection::hash_set(prop_oneof![0u64..=20, any::<u64>()], 1..5),
    ) {
        let (master, salt) = (
            MasterKey::from_bytes(&master).expect("valid length"),
            Salt::from_bytes(&salt).expect("valid length"),
        );
        let mut seen = HashSet::new();
        for &n in &versions {
            let d = KeyDeriver::with_version(&master, &salt, KeyVersion::new(n).expect("nonzero"));
            for id in &ids {
                let id = ContentId::new(id.as_str()).expect("valid");
                prop_assert!(seen.insert(*d.content_key(&id).as_bytes()), "v{} content key of {} repeats", n, id);
                for &e in &epochs {
                    prop_assert!(seen.insert(*d.epoch_key(&id, e).as_bytes()), "v{} epoch key {} of {} repeats", n, e, id);
                }
            }
        }
    }

    #[test]
    fn version_one_is_the_unversioned_derivation(
        master in prop::collection::vec(any::<u8>(), 32..=64),
        salt in prop::collection::vec(any::<u8>(), 16..=64),
        id in VALID_ID,
        epoch in any::<u64>(),
    ) {
        let id = ContentId::new(id).expect("valid");
        let (m, s) = (MasterKey::from_bytes(&master).expect("valid"), Salt::from_bytes(&salt).expect("valid"));
        let (plain, v1) = (KeyDeriver::new(&m, &s), KeyDeriver::with_version(&m, &s, KeyVersion::V1));
        prop_assert_eq!(plain.content_key(&id), v1.content_key(&id));
        prop_assert_eq!(plain.epoch_key(&id, epoch), v1.epoch_key(&id, epoch));
    }

    #[test]
    fn key_versions_round_trip_through_canonical_decimal(n in 1u16..) {
        let v: KeyVersion = n.to_string().parse().expect("canonical decimal");
        prop_assert_eq!(v.get(), n);
        prop_assert_eq!(v.to_string(), n.to_string());
        for bad in [format!("0{n}"), format!("+{n}"), format!(" {n}"), format!("{n}e0"), format!("{}", u32::from(n) + 65536)] {
            prop_assert!(bad.parse::<KeyVersion>().is_err(), "{:?} accepted", bad);
        }
    }

    #[test]
    fn every_valid_id_is_accepted(id in VALID_ID) {
        prop_assert!(ContentId::new(id).is_ok());
    }

    #[test]
    fn every_id_outside_the_grammar_is_rejected(id in ".{0,140}") {
        let grammar = id.len() <= 128
            && !id.is_empty()
            && !id.starts_with('.')
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        prop_assert_eq!(ContentId::new(id.as_str()).is_ok(), grammar, "{:?}", id);
    }

    #[test]
    fn ids_with_a_forbidden_byte_say_where(prefix in "[a-z]{1,20}", bad in "[/ \\\\%\\x00\u{e9}+]", suffix in "[a-z]{0,20}") {
        let id = format!("{prefix}{bad}{suffix}");
        prop_assert_eq!(ContentId::new(id), Err(ContentIdError::InvalidChar { position: prefix.len() }));
    }

    #[test]
    fn epochs_round_trip_through_canonical_decimal(n in any::<u64>()) {
        prop_assert_eq!(parse_epoch(&n.to_string()), Ok(n));
        for bad in [format!("0{n}"), format!("+{n}"), format!(" {n}"), format!("{n}e0")] {
            prop_assert!(parse_epoch(&bad).is_err(), "{:?} accepted", bad);
        }
    }
}
