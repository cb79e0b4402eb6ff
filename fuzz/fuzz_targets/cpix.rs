//! CPIX requests (SPEKE v1 and v2): parsing never panics; what is accepted names a valid
//! content and 1-1024 keys with UUID kids; the response written from it is well-formed
//! XML without a DTD and carries exactly one key per requested key, the key of that
//! key's epoch.
#![no_main]

use blindcast_keys_axum::speke::{MAX_CONTENT_KEYS, SpekeVersion, parse_request, write_response};
use blindcast_keys_core::ContentId;
use libfuzzer_sys::fuzz_target;

/// A stand-in key: the epoch's bytes, so each answer can be traced to its epoch.
fn key(epoch: Option<u64>) -> [u8; 16] {
    let mut k = [0xee; 16];
    if let Some(e) = epoch {
        k[..8].copy_from_slice(&e.to_be_bytes());
        k[8] = 0x01;
    }
    k
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for version in [SpekeVersion::V1, SpekeVersion::V2] {
        let Ok(request) = parse_request(text, version) else {
            continue;
        };
        assert!(ContentId::new(request.content.as_str()).is_ok());
        assert!(!request.keys.is_empty() && request.keys.len() <= MAX_CONTENT_KEYS);
        assert!(!markup(text).contains("<!DOCTYPE"), "a DTD was accepted");
        let xml = write_response(&request, key, |e| format!("https://k.example/keys/x/{e:?}"));
        let doc = roxmltree::Document::parse(&xml).expect("the response is well-formed");
        let plain: Vec<_> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "PlainValue")
            .collect();
        // Every ContentKey of the request got its key (and only those did).
        assert_eq!(plain.len(), request.keys.len(), "{}", xml.as_str());
        for (node, asked) in plain.iter().zip(&request.keys) {
            let ck = node
                .ancestors()
                .find(|n| n.tag_name().name() == "ContentKey")
                .unwrap();
            assert_eq!(ck.attribute("kid"), Some(asked.kid.as_str()));
            let b64 = node.text().unwrap_or_default();
            let expected = base64_encode(&key(asked.epoch));
            assert_eq!(b64, expected, "kid {} epoch {:?}", asked.kid, asked.epoch);
        }
    }
});

/// The text without comments, CDATA sections and processing instructions: what is left
/// of `<!DOCTYPE` there is a real document type declaration (the words may stand in a
/// comment of a valid document; the fuzzer found that).
fn markup(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let next = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")]
            .iter()
            .filter_map(|(open, close)| rest.find(open).map(|i| (i, *open, *close)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) => rest = &after[j + close.len()..],
            None => return out,
        }
    }
}

/// Standard base64 with padding, written here so the check does not share the code under
/// test.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
