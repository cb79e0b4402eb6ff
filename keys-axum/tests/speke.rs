//! `POST /speke/v1` and `/speke/v2`: CPIX requests in the shapes packagers send, answered
//! in process (oneshot). The keys are checked against `openssl kdf`; the key URIs are
//! fetched from the same router with a viewer token. The real binary, ffmpeg and hls.js
//! are in the system tests (`speke`).
#![cfg(feature = "speke")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blindcast_keys_axum::speke::SpekeConfig;
use blindcast_keys_axum::{AUDIT_TARGET, JwtAuthenticator, KeyServer};
use common::{SECRET, deriver, expected_key, get, send, token};
use http::Request;
use serde_json::Value;

const BASE: &str = "https://keys.example.com/v1";
const PACKAGER_TOKEN: &str = "packager-secret-0123456789abcdefghijkl";
const V1_VOD: &str = include_str!("fixtures/speke/v1_vod.xml");
const V1_LIVE: &str = include_str!("fixtures/speke/v1_live.xml");
const V2_VOD: &str = include_str!("fixtures/speke/v2_vod.xml");
const V2_LIVE: &str = include_str!("fixtures/speke/v2_live.xml");
const CPIX: &str = "urn:dashif:org:cpix";
const PSKC: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const SPEKE: &str = "urn:aws:amazon:com:speke";

fn router(speke: Option<SpekeConfig>) -> Router {
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let mut server = KeyServer::new(deriver(), auth);
    if let Some(speke) = speke {
        server = server.speke(speke);
    }
    server.router()
}

fn on() -> Router {
    router(Some(
        SpekeConfig::new(BASE)
            .unwrap()
            .bearer_token(PACKAGER_TOKEN)
            .unwrap(),
    ))
}

fn request(path: &str, token: Option<&str>, version: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/xml");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(v) = version {
        b = b.header("x-speke-version", v);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

async fn v1(router: &Router, body: &str) -> common::Reply {
    send(
        router,
        request("/speke/v1", Some(PACKAGER_TOKEN), None, body),
    )
    .await
}

async fn v2(router: &Router, body: &str) -> common::Reply {
    send(
        router,
        request("/speke/v2", Some(PACKAGER_TOKEN), Some("2.0"), body),
    )
    .await
}

/// One content key of a response: its kid, its key, and the DRM system's signalling.
#[derive(Debug)]
struct Answered {
    kid: String,
    key: Vec<u8>,
    /// v1: URIExtXKey, KeyFormat, KeyFormatVersions; v2: media and master
    /// HLSSignalingData; all base64-decoded.
    signalling: Vec<(String, String)>,
}

fn decode(text: &str) -> String {
    String::from_utf8(STANDARD.decode(text.trim()).unwrap()).unwrap()
}

fn answered(xml: &[u8]) -> Vec<Answered> {
    let text = std::str::from_utf8(xml).unwrap();
    let doc = roxmltree::Document::parse(text).unwrap();
    let is = |n: &roxmltree::Node<'_, '_>, ns: &str, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
    };
    let mut out = Vec::new();
    for key in doc.descendants().filter(|n| is(n, CPIX, "ContentKey")) {
        let kid = key.attribute("kid").unwrap().to_owned();
        let plain = key
            .descendants()
            .find(|n| is(n, PSKC, "PlainValue"))
            .and_then(|n| n.text())
            .unwrap();
        let system = doc
            .descendants()
            .find(|n| is(n, CPIX, "DRMSystem") && n.attribute("kid") == Some(kid.as_str()))
            .unwrap();
        let signalling = system
            .children()
            .filter(|n| n.is_element())
            .map(|n| {
                let label = match n.attribute("playlist") {
                    Some(p) => format!("{}:{p}", n.tag_name().name()),
                    None => n.tag_name().name().to_owned(),
                };
                let ns_ok = [CPIX, SPEKE].contains(&n.tag_name().namespace().unwrap());
                assert!(ns_ok, "{label}");
                (label, decode(n.text().unwrap_or_default()))
            })
            .collect();
        out.push(Answered {
            kid,
            key: STANDARD.decode(plain).unwrap(),
            signalling,
        });
    }
    out
}

/// The router's own key route, asked with a viewer token for the path of `uri`.
async fn fetch_key(router: &Router, uri: &str) -> Vec<u8> {
    let path = uri.strip_prefix(BASE).unwrap();
    let reply = send(router, get(path, Some(&token("viewer-1")))).await;
    assert_eq!(reply.status, 200, "{uri}");
    reply.body
}

#[tokio::test]
async fn v1_vod_answers_the_content_key_and_its_uri() {
    let r = on();
    let reply = v1(&r, V1_VOD).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), Some("application/xml"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let keys = answered(&reply.body);
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k.kid, "1b7e4f0a-3c2d-4e5f-8a9b-0c1d2e3f4a5b");
    assert_eq!(k.key, expected_key("movie-1", None));
    let uri = format!("{BASE}/keys/movie-1");
    assert_eq!(
        k.signalling,
        vec![
            ("URIExtXKey".to_owned(), uri.clone()),
            ("KeyFormat".to_owned(), "identity".to_owned()),
            ("KeyFormatVersions".to_owned(), "1".to_owned()),
        ]
    );
    assert_eq!(fetch_key(&r, &uri).await, k.key);
}

#[tokio::test]
async fn v1_live_maps_each_key_period_index_to_its_epoch() {
    let r = on();
    let reply = v1(&r, V1_LIVE).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let keys = answered(&reply.body);
    assert_eq!(keys.len(), 3);
    for (k, epoch) in keys.iter().zip(11425u64..) {
        assert!(k.kid.ends_with(&epoch.to_string()), "{}", k.kid);
        assert_eq!(k.key, expected_key("live-channel-1", Some(epoch)));
        let uri = format!("{BASE}/keys/live-channel-1/{epoch}");
        assert_eq!(k.signalling[0], ("URIExtXKey".to_owned(), uri.clone()));
        assert_eq!(fetch_key(&r, &uri).await, k.key);
    }
    assert_ne!(keys[0].key, keys[1].key);
}

#[tokio::test]
async fn v2_answers_hls_signalling_for_media_and_master_playlists() {
    let r = on();
    for (doc, content, epochs) in [
        (V2_VOD, "movie-2", vec![None]),
        (V2_LIVE, "live-channel-2", vec![Some(7), Some(8)]),
    ] {
        let reply = v2(&r, doc).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.header("x-speke-version"), Some("2.0"));
        let keys = answered(&reply.body);
        assert_eq!(keys.len(), epochs.len());
        for (k, epoch) in keys.iter().zip(epochs) {
            assert_eq!(k.key, expected_key(content, epoch));
            let uri = match epoch {
                Some(e) => format!("{BASE}/keys/{content}/{e}"),
                None => format!("{BASE}/keys/{content}"),
            };
            let attributes = format!(
                "METHOD=AES-128,URI=\"{uri}\",KEYFORMAT=\"identity\",KEYFORMATVERSIONS=\"1\""
            );
            assert_eq!(
                k.signalling,
                vec![
                    (
                        "HLSSignalingData:media".to_owned(),
                        format!("#EXT-X-KEY:{attributes}")
                    ),
                    (
                        "HLSSignalingData:master".to_owned(),
                        format!("#EXT-X-SESSION-KEY:{attributes}")
                    ),
                ]
            );
            assert_eq!(fetch_key(&r, &uri).await, k.key);
        }
        // The usage rules travel back as sent.
        let text = String::from_utf8(reply.body.clone()).unwrap();
        assert!(text.contains("intendedTrackType=\"ALL\""), "{text}");
    }
}

/// Asserts a refusal: its status and code, a JSON error body, and no key in it.
fn refused(reply: &common::Reply, status: u16, code: &str, what: &str) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{what}: {body}");
    assert_eq!(reply.code(), code, "{what}: {body}");
    assert!(!body.contains("PlainValue"), "{what}: {body}");
    for content in ["movie-1", "movie-2", "live-channel-1", "live-channel-2"] {
        for epoch in [None, Some(7), Some(8), Some(11425)] {
            let key = STANDARD.encode(expected_key(content, epoch));
            assert!(!body.contains(&key), "{what}: a key in {body}");
        }
    }
}

#[tokio::test]
async fn other_drm_systems_are_refused() {
    let r = on();
    const CLEAR_KEY: &str = "3ea8778f-7742-4bf9-b18b-e834b2acbd47";
    const HLS_AES: &str = "81376844-f976-481e-a84e-cc25d39b0b33";
    for other in [
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed", // Widevine
        "9a04f079-9840-4286-ab92-e65be0885f95", // PlayReady
        "94ce86fb-07ff-4f43-adb8-93d2fa968ca2", // FairPlay
        HLS_AES,                                // v1's system on v2
    ] {
        let reply = v2(&r, &V2_VOD.replace(CLEAR_KEY, other)).await;
        refused(&reply, 400, "speke_unsupported_system", other);
    }
    for other in [
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
        "94ce86fb-07ff-4f43-adb8-93d2fa968ca2",
        CLEAR_KEY, // v2's system on v1
    ] {
        let reply = v1(&r, &V1_VOD.replace(HLS_AES, other)).await;
        refused(&reply, 400, "speke_unsupported_system", other);
    }
    // One supported and one unsupported system for the same key: still no key.
    let mixed = V1_LIVE.replacen(HLS_AES, "9a04f079-9840-4286-ab92-e65be0885f95", 1);
    refused(
        &v1(&r, &mixed).await,
        400,
        "speke_unsupported_system",
        "mixed",
    );
    // Upper-case hex is the same id.
    let upper = V1_VOD.replace(HLS_AES, &HLS_AES.to_uppercase());
    assert_eq!(v1(&r, &upper).await.status, 200);
}

#[tokio::test]
async fn a_kid_reused_for_different_periods_is_refused() {
    let r = on();
    // One rule naming two periods.
    let two_filters = V1_LIVE.replace(
        r#"<cpix:KeyPeriodFilter periodId="period-11425"/>"#,
        r#"<cpix:KeyPeriodFilter periodId="period-11425"/><cpix:KeyPeriodFilter periodId="period-11426"/>"#,
    );
    refused(
        &v1(&r, &two_filters).await,
        400,
        "speke_kid_reused",
        "two filters",
    );
    // Two rules of one kid naming different periods.
    let two_rules = V2_LIVE.replace(
        r#"<cpix:ContentKeyUsageRule kid="b0000000-0000-4000-8000-000000000008" intendedTrackType="ALL">
      <cpix:KeyPeriodFilter periodId="kp8"/>"#,
        r#"<cpix:ContentKeyUsageRule kid="b0000000-0000-4000-8000-000000000007" intendedTrackType="ALL">
      <cpix:KeyPeriodFilter periodId="kp8"/>"#,
    );
    assert_ne!(two_rules, V2_LIVE);
    refused(
        &v2(&r, &two_rules).await,
        400,
        "speke_kid_reused",
        "two rules",
    );
    // The same period twice for one kid is no reuse.
    let same = V1_LIVE.replace(
        r#"<cpix:KeyPeriodFilter periodId="period-11425"/>"#,
        r#"<cpix:KeyPeriodFilter periodId="period-11425"/><cpix:KeyPeriodFilter periodId="period-11425"/>"#,
    );
    assert_eq!(v1(&r, &same).await.status, 200);
}

#[tokio::test]
async fn malformed_oversized_and_entity_documents_are_refused() {
    let r = on();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("empty", String::new(), 400, "speke_malformed"),
        ("truncated", V1_VOD[..V1_VOD.len() / 2].to_owned(), 400, "speke_malformed"),
        ("not xml", "{\"contentId\":\"movie-1\"}".to_owned(), 400, "speke_malformed"),
        (
            "billion laughs",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE cpix:CPIX [\n<!ENTITY lol \"lol\">\n{}]>\n{}",
                (1..10)
                    .map(|i| {
                        let prev = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
                        format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10))
                    })
                    .collect::<String>(),
                V1_VOD
                    .split_once("?>")
                    .unwrap()
                    .1
                    .replace("id=\"movie-1\"", "id=\"&lol9;\"")
            ),
            400,
            "speke_dtd_refused",
        ),
        (
            "external entity file",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
                V1_VOD
                    .split_once("?>")
                    .unwrap()
                    .1
                    .replace("<cpix:ContentKey kid", "<cpix:ContentKey data=\"&xxe;\" kid")
            ),
            400,
            "speke_dtd_refused",
        ),
        (
            "external DTD",
            format!(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE x SYSTEM \"http://127.0.0.1:9/evil.dtd\">{}",
                V1_VOD.split_once("?>").unwrap().1
            ),
            400,
            "speke_dtd_refused",
        ),
        (
            "undeclared entity",
            V1_VOD.replace("id=\"movie-1\"", "id=\"&xxe;\""),
            400,
            "speke_malformed",
        ),
        ("not cpix", "<a/>".to_owned(), 400, "speke_invalid_document"),
        (
            "no content id",
            V1_VOD.replace("id=\"movie-1\"", ""),
            400,
            "speke_invalid_document",
        ),
        (
            "bad content id",
            V1_VOD.replace("id=\"movie-1\"", "id=\"../etc\""),
            400,
            "invalid_content_id",
        ),
        (
            "bad kid",
            V1_VOD.replace("1b7e4f0a-3c2d-4e5f-8a9b-0c1d2e3f4a5b", "not-a-uuid"),
            400,
            "speke_invalid_document",
        ),
        (
            "bad index",
            V1_LIVE.replace("index=\"11425\"", "index=\"-1\""),
            400,
            "speke_invalid_document",
        ),
        (
            "encrypted delivery",
            V1_VOD.replace(
                "<cpix:ContentKeyList>",
                "<cpix:DeliveryDataList><cpix:DeliveryData><cpix:DeliveryKey><ds:X509Data xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></cpix:DeliveryKey></cpix:DeliveryData></cpix:DeliveryDataList><cpix:ContentKeyList>",
            ),
            400,
            "speke_encrypted_delivery_unsupported",
        ),
        (
            "oversized",
            V1_VOD.replace("<cpix:ContentKeyList>", &format!("<!--{}--><cpix:ContentKeyList>", "x".repeat(300 * 1024))),
            413,
            "payload_too_large",
        ),
        ("not utf-8", "<cpix:CPIX id=\"\u{fffd}\"/>".replace('\u{fffd}', "\u{0}"), 400, "speke_malformed"),
    ];
    for (what, body, status, code) in cases {
        refused(&v1(&r, &body).await, status, code, what);
    }
    // Bytes that are not UTF-8.
    let mut bytes = V1_VOD.as_bytes().to_vec();
    bytes[60] = 0xff;
    let req = Request::post("/speke/v1")
        .header("authorization", format!("Bearer {PACKAGER_TOKEN}"))
        .body(Body::from(bytes))
        .unwrap();
    refused(&send(&r, req).await, 400, "speke_malformed", "bytes");
}

#[tokio::test]
async fn versions_must_match_the_route() {
    let r = on();
    let send_v = |path: &'static str, version: Option<&'static str>, body: &'static str| {
        let r = r.clone();
        async move { send(&r, request(path, Some(PACKAGER_TOKEN), version, body)).await }
    };
    refused(
        &send_v("/speke/v2", None, V2_VOD).await,
        400,
        "speke_version",
        "v2 without header",
    );
    refused(
        &send_v("/speke/v2", Some("1.0"), V2_VOD).await,
        400,
        "speke_version",
        "v2 with 1.0",
    );
    refused(
        &send_v("/speke/v2", Some("2.1"), V2_VOD).await,
        400,
        "speke_version",
        "v2 with 2.1",
    );
    refused(
        &send_v("/speke/v1", Some("2.0"), V1_VOD).await,
        400,
        "speke_version",
        "v1 with 2.0",
    );
    assert_eq!(send_v("/speke/v1", Some("1.0"), V1_VOD).await.status, 200);
    // CPIX versions.
    let v22 = V2_VOD.replace("version=\"2.3\"", "version=\"2.2\"");
    refused(&v2(&r, &v22).await, 400, "speke_version", "cpix 2.2");
    let none = V2_VOD.replace("version=\"2.3\"", "");
    refused(
        &v2(&r, &none).await,
        400,
        "speke_version",
        "no cpix version",
    );
    refused(
        &v1(&r, V2_VOD).await,
        400,
        "speke_version",
        "v2 document on v1",
    );
    // A v1 document on v2: no CPIX version.
    refused(
        &v2(&r, V1_VOD).await,
        400,
        "speke_version",
        "v1 document on v2",
    );
}

#[tokio::test]
async fn only_packagers_may_call_and_the_routes_exist_only_when_configured() {
    let off = router(None);
    let reply = send(
        &off,
        request("/speke/v1", Some(PACKAGER_TOKEN), None, V1_VOD),
    )
    .await;
    assert_eq!((reply.status, reply.code().as_str()), (404, "not_found"));
    let r = on();
    for (what, token) in [
        ("none", None),
        ("viewer jwt", Some(token("viewer-1"))),
        ("wrong", Some(format!("{PACKAGER_TOKEN}x"))),
        ("prefix", Some(PACKAGER_TOKEN[..32].to_owned())),
    ] {
        let reply = send(&r, request("/speke/v1", token.as_deref(), None, V1_VOD)).await;
        refused(&reply, 401, "unauthenticated", what);
    }
    // Without an authenticator (Lambda without its adapter): everyone is refused.
    let closed = router(Some(SpekeConfig::new(BASE).unwrap()));
    let reply = send(
        &closed,
        request("/speke/v1", Some(PACKAGER_TOKEN), None, V1_VOD),
    )
    .await;
    refused(&reply, 401, "unauthenticated", "no authenticator");
    // The packager token is no viewer token.
    let reply = send(&r, get("/keys/movie-1", Some(PACKAGER_TOKEN))).await;
    assert_eq!(reply.status, 401);
    let reply = send(&r, get("/speke/v1", Some(PACKAGER_TOKEN))).await;
    assert_eq!(reply.status, 405);
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_audit_line_per_request_with_packager_content_and_epochs_never_a_key() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // As in the presign test: a global subscriber that prints nothing, so callsite
    // interest is not cached as "never" by another test's thread.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let r = on();
    assert_eq!(v1(&r, V1_LIVE).await.status, 200);
    assert_eq!(v1(&r, V1_VOD).await.status, 200);
    let widevine = V2_VOD.replace(
        "3ea8778f-7742-4bf9-b18b-e834b2acbd47",
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
    );
    assert_eq!(v2(&r, &widevine).await.status, 400);

    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let events: Vec<Value> = logged
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["target"] == AUDIT_TARGET)
        .collect();
    assert_eq!(events.len(), 3, "{logged}");
    let f = &events[0]["fields"];
    assert_eq!(f["operation"], "speke");
    assert_eq!(f["outcome"], "issued");
    assert_eq!(f["packager"], "speke-token");
    assert_eq!(f["content"], "live-channel-1");
    assert_eq!(f["kv"], 1);
    assert_eq!(f["keys"], 3);
    assert_eq!(f["epochs"], "11425,11426,11427");
    let f = &events[1]["fields"];
    assert_eq!(
        (f["content"].as_str(), f["epochs"].as_str()),
        (Some("movie-1"), Some("content"))
    );
    let f = &events[2]["fields"];
    assert_eq!(f["outcome"], "refused");
    assert_eq!(f["reason"], "speke_unsupported_system");
    assert_eq!(f["packager"], "speke-token");
    for (content, epoch) in [
        ("live-channel-1", Some(11425)),
        ("live-channel-1", Some(11427)),
        ("movie-1", None),
    ] {
        let key = expected_key(content, epoch);
        assert!(!logged.contains(&STANDARD.encode(&key)), "{logged}");
        assert!(!logged.contains(&hex::encode(&key)), "{logged}");
    }
    assert!(!logged.contains(PACKAGER_TOKEN));
}

/// Found by the `cpix` fuzz target: a second CPIX document nested inside a list got a key
/// of its own. Only the keys and systems the parser checked are answered.
#[tokio::test]
async fn nested_keys_systems_and_values_are_not_answered() {
    let r = on();
    let nested = V1_VOD.replace(
        "<cpix:DRMSystemList>",
        r#"<cpix:DRMSystemList>
    <cpix:CPIX id="movie-1"><cpix:ContentKeyList><cpix:ContentKey kid="ffffffff-0000-4000-8000-000000000001"/></cpix:ContentKeyList></cpix:CPIX>
    <cpix:ContentKey kid="ffffffff-0000-4000-8000-000000000002"/>"#,
    )
    .replace(
        "</cpix:CPIX>\n",
        r#"<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid="1b7e4f0a-3c2d-4e5f-8a9b-0c1d2e3f4a5b"><cpix:ContentKey kid="ffffffff-0000-4000-8000-000000000003"/><pskc:PlainValue>AAAAAAAAAAAAAAAAAAAAAA==</pskc:PlainValue></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList></cpix:CPIX>
"#,
    );
    assert_ne!(nested, V1_VOD);
    let reply = v1(&r, &nested).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let text = String::from_utf8(reply.body.clone()).unwrap();
    assert_eq!(text.matches("PlainValue>").count(), 2, "{text}");
    assert!(
        !text.contains("ffffffff") && !text.contains("AAAAAAAAAAAAAAAAAAAAAA=="),
        "{text}"
    );
    let keys = answered(&reply.body);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key, expected_key("movie-1", None));
}

/// After a rotation, SPEKE packages under the primary version: the keys are version 2's
/// and the key URIs carry `kv=2`, which the key route answers with the same bytes.
#[tokio::test]
async fn keys_and_uris_follow_the_primary_key_version() {
    use blindcast_keys_core::{KeyVersion, Keyring, MasterKey, Salt};
    const MASTER_V2: &str = "1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c";
    const SALT_V2: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
    let v = |n| KeyVersion::new(n).unwrap();
    let keyring = Keyring::builder()
        .version(
            v(1),
            &MasterKey::from_hex(common::MASTER_HEX).unwrap(),
            &Salt::from_hex(common::SALT_HEX).unwrap(),
        )
        .version(
            v(2),
            &MasterKey::from_hex(MASTER_V2).unwrap(),
            &Salt::from_hex(SALT_V2).unwrap(),
        )
        .primary(v(2))
        .build()
        .unwrap();
    let auth = JwtAuthenticator::builder()
        .hs256_secret(SECRET)
        .build()
        .unwrap();
    let r = KeyServer::new(keyring, auth)
        .speke(
            SpekeConfig::new(BASE)
                .unwrap()
                .bearer_token(PACKAGER_TOKEN)
                .unwrap(),
        )
        .router();
    let reply = v1(&r, V1_LIVE).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let keys = answered(&reply.body);
    assert_eq!(keys.len(), 3);
    for (k, epoch) in keys.iter().zip(11425u64..) {
        let expected =
            common::expected_key_of_version(MASTER_V2, SALT_V2, 2, "live-channel-1", Some(epoch));
        assert_eq!(k.key, expected);
        assert_ne!(k.key, expected_key("live-channel-1", Some(epoch)));
        let uri = format!("{BASE}/keys/live-channel-1/{epoch}?kv=2");
        assert_eq!(k.signalling[0], ("URIExtXKey".to_owned(), uri.clone()));
        assert_eq!(fetch_key(&r, &uri).await, k.key);
    }
}
