//! [`parse_request`]: a CPIX request document, checked, into the keys it asks for.

use std::collections::HashMap;

use blindcast_keys_core::ContentId;
use roxmltree::{Document, Node, ParsingOptions};

/// The HLS AES-128 DRM system id of SPEKE v1.
pub const HLS_AES_128_SYSTEM_ID: &str = "81376844-f976-481e-a84e-cc25d39b0b33";
/// The Clear Key AES-128 DRM system id of SPEKE v2 (HLS AES-128).
pub const CLEAR_KEY_AES_128_SYSTEM_ID: &str = "3ea8778f-7742-4bf9-b18b-e834b2acbd47";
/// Most content keys one request may ask for.
pub const MAX_CONTENT_KEYS: usize = 1024;

pub(super) const CPIX_NS: &str = "urn:dashif:org:cpix";
pub(super) const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
pub(super) const SPEKE_NS: &str = "urn:aws:amazon:com:speke";
/// Nodes a request may have: far more than [`MAX_CONTENT_KEYS`] keys need, far fewer
/// than would let one request use much memory.
const MAX_NODES: u32 = 64 * 1024;

/// The SPEKE version of a request: chosen by the route, checked against the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpekeVersion {
    /// SPEKE v1: CPIX without a `version`, content id in `id`, HLS AES-128 system id.
    V1,
    /// SPEKE v2.0: CPIX 2.3, content id in `contentId`, Clear Key AES-128 system id.
    V2,
}

impl SpekeVersion {
    /// The DRM system id this version answers.
    pub fn system_id(self) -> &'static str {
        match self {
            Self::V1 => HLS_AES_128_SYSTEM_ID,
            Self::V2 => CLEAR_KEY_AES_128_SYSTEM_ID,
        }
    }
}

/// Why a CPIX request was refused: each a 4xx with its own code, never a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpekeRefusal {
    /// 400 `speke_malformed`: not well-formed XML (or not UTF-8).
    #[error("the body is not a well-formed XML document")]
    Malformed,
    /// 400 `speke_dtd_refused`: a DTD, so entity declarations, internal or external.
    #[error("DTDs and entity declarations are refused")]
    Dtd,
    /// 400 `speke_invalid_document`: well-formed, but not a CPIX request this provider
    /// answers.
    #[error("invalid CPIX document: {0}")]
    Invalid(&'static str),
    /// 400 `invalid_content_id`: the CPIX content id breaks the key routes' rules.
    #[error("invalid content id")]
    ContentId,
    /// 400 `speke_unsupported_system`: a DRM system other than the version's one.
    #[error("unsupported DRM system")]
    UnsupportedSystem(SpekeVersion),
    /// 400 `speke_kid_reused`: one key id named for different key periods.
    #[error("a key id is reused for different key periods")]
    KidReused,
    /// 400 `speke_version`: the `X-Speke-Version` header or CPIX `version` does not
    /// match the route.
    #[error("wrong SPEKE or CPIX version: {0}")]
    Version(&'static str),
    /// 400 `speke_encrypted_delivery_unsupported`: a `DeliveryDataList` asks for keys
    /// encrypted to a certificate, which this provider does not do.
    #[error("encrypted key delivery is not supported")]
    EncryptedDelivery,
}

impl SpekeRefusal {
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "speke_malformed",
            Self::Dtd => "speke_dtd_refused",
            Self::Invalid(_) => "speke_invalid_document",
            Self::ContentId => "invalid_content_id",
            Self::UnsupportedSystem(_) => "speke_unsupported_system",
            Self::KidReused => "speke_kid_reused",
            Self::Version(_) => "speke_version",
            Self::EncryptedDelivery => "speke_encrypted_delivery_unsupported",
        }
    }

    /// The fixed message: never request data.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "the body is not a well-formed UTF-8 XML document",
            Self::Dtd => "DTDs and entity declarations (internal or external) are refused",
            Self::Invalid(why) | Self::Version(why) => why,
            Self::ContentId => {
                "the CPIX content id must be 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'"
            }
            Self::UnsupportedSystem(SpekeVersion::V1) => {
                "SPEKE v1 here serves HLS AES-128 only (systemId 81376844-f976-481e-a84e-cc25d39b0b33)"
            }
            Self::UnsupportedSystem(SpekeVersion::V2) => {
                "SPEKE v2 here serves Clear Key AES-128 only (systemId 3ea8778f-7742-4bf9-b18b-e834b2acbd47)"
            }
            Self::KidReused => {
                "a kid is used for different key periods; each period needs its own kid"
            }
            Self::EncryptedDelivery => {
                "encrypted key delivery (DeliveryDataList) is not supported; request clear keys over HTTPS"
            }
        }
    }
}

/// One content key asked for: its key id as the request spelt it, and the epoch of its
/// key period (`None`: the content key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedKey {
    /// The `kid` attribute, as sent.
    pub kid: String,
    /// The `index` of the key period the key is for.
    pub epoch: Option<u64>,
}

/// A checked CPIX request: its content, the keys it asks for, and the parsed document the
/// response is written from.
#[derive(Debug)]
pub struct CpixRequest<'a> {
    /// The SPEKE version.
    pub version: SpekeVersion,
    /// The content id.
    pub content: ContentId,
    /// Every `ContentKey`, in document order.
    pub keys: Vec<RequestedKey>,
    pub(super) document: Document<'a>,
}

fn is(node: &Node<'_, '_>, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| is(c, CPIX_NS, name))
}

/// The one child list `name` of the root (none is an empty list; two are refused).
fn list<'a, 'input: 'a>(
    root: Node<'a, 'input>,
    name: &'static str,
) -> Result<Option<Node<'a, 'input>>, SpekeRefusal> {
    let mut lists = children(root, name);
    let first = lists.next();
    if lists.next().is_some() {
        return Err(SpekeRefusal::Invalid("a CPIX list element appears twice"));
    }
    Ok(first)
}

/// A key id: a UUID in its 8-4-4-4-12 hex form.
fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Parses and checks a CPIX request of `version`.
///
/// # Errors
/// A [`SpekeRefusal`] for the first problem found.
pub fn parse_request(text: &str, version: SpekeVersion) -> Result<CpixRequest<'_>, SpekeRefusal> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        // Never consulted: without a DTD there are no entities to resolve.
        ..ParsingOptions::default()
    };
    let document = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SpekeRefusal::Dtd,
        roxmltree::Error::NodesLimitReached => SpekeRefusal::Invalid("too many XML nodes"),
        _ => SpekeRefusal::Malformed,
    })?;
    let root = document.root_element();
    if !is(&root, CPIX_NS, "CPIX") {
        return Err(SpekeRefusal::Invalid("the root element must be cpix:CPIX"));
    }
    let content = match version {
        SpekeVersion::V1 => {
            if root.attribute("version").is_some() {
                return Err(SpekeRefusal::Version(
                    "a CPIX version attribute is SPEKE v2: send it to /speke/v2 with X-Speke-Version: 2.0",
                ));
            }
            root.attribute("id")
        }
        SpekeVersion::V2 => {
            if root.attribute("version") != Some("2.3") {
                return Err(SpekeRefusal::Version(
                    "SPEKE v2.0 needs CPIX version=\"2.3\"",
                ));
            }
            root.attribute("contentId")
        }
    }
    .ok_or(SpekeRefusal::Invalid(
        "the content id is missing (CPIX id in SPEKE v1, contentId in SPEKE v2)",
    ))?;
    let content = ContentId::new(content).map_err(|_| SpekeRefusal::ContentId)?;
    if list(root, "DeliveryDataList")?.is_some() {
        return Err(SpekeRefusal::EncryptedDelivery);
    }

    // Key periods: id -> index (the epoch).
    let mut periods: HashMap<&str, u64> = HashMap::new();
    if let Some(period_list) = list(root, "ContentKeyPeriodList")? {
        for period in children(period_list, "ContentKeyPeriod") {
            let id = period
                .attribute("id")
                .ok_or(SpekeRefusal::Invalid("a ContentKeyPeriod has no id"))?;
            let index = period.attribute("index").ok_or(SpekeRefusal::Invalid(
                "a ContentKeyPeriod has no index (the epoch); start/end periods are not supported",
            ))?;
            let index = canonical_u64(index).ok_or(SpekeRefusal::Invalid(
                "a ContentKeyPeriod index must be a decimal integer from 0 to 2^64-1",
            ))?;
            if periods.insert(id, index).is_some() {
                return Err(SpekeRefusal::Invalid("two ContentKeyPeriods share an id"));
            }
        }
    }

    // Usage rules: kid -> the one epoch its period filters name.
    let mut epochs: HashMap<&str, Option<u64>> = HashMap::new();
    if let Some(rules) = list(root, "ContentKeyUsageRuleList")? {
        for rule in children(rules, "ContentKeyUsageRule") {
            let kid = rule
                .attribute("kid")
                .ok_or(SpekeRefusal::Invalid("a ContentKeyUsageRule has no kid"))?;
            for filter in children(rule, "KeyPeriodFilter") {
                let period = filter
                    .attribute("periodId")
                    .ok_or(SpekeRefusal::Invalid("a KeyPeriodFilter has no periodId"))?;
                let epoch = *periods.get(period).ok_or(SpekeRefusal::Invalid(
                    "a KeyPeriodFilter names no ContentKeyPeriod",
                ))?;
                match epochs.insert(kid, Some(epoch)) {
                    Some(Some(other)) if other != epoch => return Err(SpekeRefusal::KidReused),
                    _ => {}
                }
            }
        }
    }

    let key_list = list(root, "ContentKeyList")?
        .ok_or(SpekeRefusal::Invalid("the ContentKeyList is missing"))?;
    let mut keys = Vec::new();
    for key in children(key_list, "ContentKey") {
        let kid = key
            .attribute("kid")
            .ok_or(SpekeRefusal::Invalid("a ContentKey has no kid"))?;
        if !is_uuid(kid) {
            return Err(SpekeRefusal::Invalid("a kid must be a UUID"));
        }
        if keys
            .iter()
            .any(|k: &RequestedKey| k.kid.eq_ignore_ascii_case(kid))
        {
            return Err(SpekeRefusal::Invalid("two ContentKeys share a kid"));
        }
        if keys.len() == MAX_CONTENT_KEYS {
            return Err(SpekeRefusal::Invalid(
                "at most 1024 ContentKeys per request",
            ));
        }
        keys.push(RequestedKey {
            kid: kid.to_owned(),
            epoch: epochs.get(kid).copied().flatten(),
        });
    }
    if keys.is_empty() {
        return Err(SpekeRefusal::Invalid("the ContentKeyList is empty"));
    }
    // A period filter for a kid that is not requested is a mistake of the packager.
    if epochs.keys().any(|kid| !keys.iter().any(|k| k.kid == *kid)) {
        return Err(SpekeRefusal::Invalid(
            "a ContentKeyUsageRule names a kid that is not in the ContentKeyList",
        ));
    }

    let systems = list(root, "DRMSystemList")?
        .ok_or(SpekeRefusal::Invalid("the DRMSystemList is missing"))?;
    let mut any = false;
    for system in children(systems, "DRMSystem") {
        let id = system
            .attribute("systemId")
            .ok_or(SpekeRefusal::Invalid("a DRMSystem has no systemId"))?;
        if !id.eq_ignore_ascii_case(version.system_id()) {
            return Err(SpekeRefusal::UnsupportedSystem(version));
        }
        let kid = system
            .attribute("kid")
            .ok_or(SpekeRefusal::Invalid("a DRMSystem has no kid"))?;
        if !keys.iter().any(|k| k.kid == kid) {
            return Err(SpekeRefusal::Invalid(
                "a DRMSystem names a kid that is not in the ContentKeyList",
            ));
        }
        any = true;
    }
    if !any {
        return Err(SpekeRefusal::Invalid("the DRMSystemList is empty"));
    }
    Ok(CpixRequest {
        version,
        content,
        keys,
        document,
    })
}

/// A canonical decimal `u64`, as the key routes take epochs.
fn canonical_u64(text: &str) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
