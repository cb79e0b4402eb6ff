//! Key derivation with a cached PRK, against one pre-keyed HMAC-SHA256 over the same
//! `info` bytes: the floor an HKDF-Expand to 16 bytes cannot beat; and the same epoch key
//! through a 3-version keyring (lookup included), against the plain deriver.

use std::hint::black_box;

use blindcast_keys_core::{ContentId, KeyDeriver, KeyVersion, Keyring, MasterKey, Salt};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};

fn derivation(c: &mut Criterion) {
    let master = MasterKey::from_hex(&"0b".repeat(32)).expect("valid master key");
    let salt = Salt::from_hex(&"00".repeat(16)).expect("valid salt");
    let deriver = KeyDeriver::new(&master, &salt);
    let id = ContentId::new("movie-1").expect("valid id");
    let mut group = c.benchmark_group("derive");
    group.bench_function("content_key", |b| {
        b.iter(|| deriver.content_key(black_box(&id)))
    });
    group.bench_function("epoch_key", |b| {
        b.iter(|| deriver.epoch_key(black_box(&id), black_box(1_234_567)))
    });
    // HKDF-Expand for L = 16 is T(1) = HMAC(PRK, info || 0x01): one HMAC over the same
    // bytes, with the PRK already keyed in.
    let floor = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[7u8; 32]).expect("any key length");
    group.bench_function("hmac_sha256_prekeyed_floor", |b| {
        b.iter(|| {
            let mut mac = floor.clone();
            mac.update(black_box(b"blindcast/v1/epoch/movie-1/1234567"));
            mac.update(&[1]);
            black_box(mac.finalize().into_bytes())
        })
    });
    group.finish();
}

/// `keyring3/*` against `derive/epoch_key`: the lookup and the longer `info` prefix of a
/// later version must stay within noise of one plain deriver.
fn keyring(c: &mut Criterion) {
    let salt = Salt::from_hex(&"00".repeat(16)).expect("valid salt");
    let masters: Vec<MasterKey> = ["0b", "0c", "0d"]
        .iter()
        .map(|b| MasterKey::from_hex(&b.repeat(32)).expect("valid master key"))
        .collect();
    let v = |n| KeyVersion::new(n).expect("nonzero");
    let keyring = Keyring::builder()
        .version(v(1), &masters[0], &salt)
        .version(v(2), &masters[1], &salt)
        .version(v(3), &masters[2], &salt)
        .primary(v(3))
        .build()
        .expect("valid keyring");
    let id = ContentId::new("movie-1").expect("valid id");
    let mut group = c.benchmark_group("keyring3");
    for n in [1, 3] {
        group.bench_function(format!("epoch_key_v{n}"), |b| {
            b.iter(|| {
                keyring
                    .deriver(black_box(v(n)))
                    .map(|d| d.epoch_key(black_box(&id), black_box(1_234_567)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, derivation, keyring);
criterion_main!(benches);
