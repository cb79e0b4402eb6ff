//! [`write_response`]: the CPIX response, the request document with every content key
//! and DRM system filled in.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use roxmltree::Node;
use zeroize::Zeroizing;

use super::cpix::{CPIX_NS, CpixRequest, PSKC_NS, SPEKE_NS, SpekeVersion};

/// The namespaces a response may hold, with the prefixes it writes them with.
const PREFIXES: [(&str, &str); 5] = [
    (CPIX_NS, "cpix"),
    (PSKC_NS, "pskc"),
    (SPEKE_NS, "speke"),
    ("http://www.w3.org/2000/09/xmldsig#", "ds"),
    ("http://www.w3.org/2001/04/xmlenc#", "enc"),
];

/// Writes the response to `request`: the request document again, each `ContentKey` with
/// its key (`cpix:Data/pskc:Secret/pskc:PlainValue`, base64) from `key`, each `DRMSystem`
/// with the HLS signalling of the URI from `uri` (v1: `URIExtXKey`, `KeyFormat`,
/// `KeyFormatVersions`; v2: `HLSSignalingData` for media and master playlists), other
/// signalling elements dropped. Elements and attributes of other namespaces are left out.
/// The text holds keys: it is zeroized when dropped.
pub fn write_response(
    request: &CpixRequest<'_>,
    key: impl Fn(Option<u64>) -> [u8; 16],
    uri: impl Fn(Option<u64>) -> String,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(4096));
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let writer = Writer {
        request,
        key: &key,
        uri: &uri,
    };
    writer.element(&mut out, request.document.root_element(), Place::Root);
    out
}

/// Where an element sits: only the keys and systems the parser checked (children of the
/// root's lists) are filled in. A `ContentKey`, `DRMSystem` or `CPIX` anywhere else, any
/// PSKC element outside the keys written here, and anything but keys and systems inside
/// those two lists are left out: the answer holds no key the server did not write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    /// A child of the root.
    Top,
    /// A child of the root's `ContentKeyList`.
    KeyList,
    /// A child of the root's `DRMSystemList`.
    SystemList,
    Other,
}

struct Writer<'r, 'a> {
    request: &'r CpixRequest<'a>,
    key: &'r dyn Fn(Option<u64>) -> [u8; 16],
    uri: &'r dyn Fn(Option<u64>) -> String,
}

fn prefix(namespace: Option<&str>) -> Option<&'static str> {
    let namespace = namespace?;
    PREFIXES
        .iter()
        .find(|(uri, _)| *uri == namespace)
        .map(|(_, p)| *p)
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn start(out: &mut String, name: &str, attributes: &[(&str, &str)]) {
    let _ = write!(out, "<{name}");
    for (key, value) in attributes {
        let _ = write!(out, " {key}=\"");
        escape(out, value);
        out.push('"');
    }
    out.push('>');
}

fn leaf(out: &mut String, name: &str, attributes: &[(&str, &str)], text: &str) {
    start(out, name, attributes);
    escape(out, text);
    let _ = write!(out, "</{name}>");
}

impl Writer<'_, '_> {
    /// The epoch of the key `kid` names.
    fn epoch(&self, kid: Option<&str>) -> Option<u64> {
        let kid = kid?;
        self.request
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .and_then(|k| k.epoch)
    }

    fn element(&self, out: &mut String, node: Node<'_, '_>, place: Place) {
        let Some(own) = prefix(node.tag_name().namespace()) else {
            return;
        };
        let cpix = node.tag_name().namespace() == Some(CPIX_NS);
        let local = node.tag_name().name();
        let hook = match place {
            Place::KeyList if cpix && local == "ContentKey" => Some(true),
            Place::SystemList if cpix && local == "DRMSystem" => Some(false),
            // Not a key or system the parser checked: not part of the answer.
            Place::KeyList | Place::SystemList => return,
            Place::Top | Place::Other
                if node.tag_name().namespace() == Some(PSKC_NS)
                    || (cpix && matches!(local, "ContentKey" | "DRMSystem" | "CPIX")) =>
            {
                return;
            }
            _ => None,
        };
        let inner = match (place, cpix, local) {
            (Place::Root, ..) => Place::Top,
            (Place::Top, true, "ContentKeyList") => Place::KeyList,
            (Place::Top, true, "DRMSystemList") => Place::SystemList,
            _ => Place::Other,
        };
        let name = format!("{own}:{}", node.tag_name().name());
        let _ = write!(out, "<{name}");
        if place == Place::Root {
            for (uri, p) in PREFIXES {
                let _ = write!(out, " xmlns:{p}=\"{uri}\"");
            }
        }
        for attribute in node.attributes() {
            let qualified = match attribute.namespace() {
                None => attribute.name().to_owned(),
                Some(ns) => match prefix(Some(ns)) {
                    Some(p) => format!("{p}:{}", attribute.name()),
                    None => continue,
                },
            };
            let _ = write!(out, " {qualified}=\"");
            escape(out, attribute.value());
            out.push('"');
        }
        out.push('>');
        match hook {
            Some(true) => self.content_key(out, node),
            Some(false) => self.drm_system(out, node),
            None => {
                for child in node.children() {
                    if child.is_element() {
                        self.element(out, child, inner);
                    } else if let Some(text) = child.text() {
                        escape(out, text);
                    }
                }
            }
        }
        let _ = write!(out, "</{name}>");
    }

    fn content_key(&self, out: &mut String, node: Node<'_, '_>) {
        let key = Zeroizing::new((self.key)(self.epoch(node.attribute("kid"))));
        let encoded = Zeroizing::new(STANDARD.encode(*key));
        out.push_str("<cpix:Data><pskc:Secret>");
        leaf(out, "pskc:PlainValue", &[], &encoded);
        out.push_str("</pskc:Secret></cpix:Data>");
    }

    fn drm_system(&self, out: &mut String, node: Node<'_, '_>) {
        let uri = (self.uri)(self.epoch(node.attribute("kid")));
        match self.request.version {
            SpekeVersion::V1 => {
                leaf(out, "cpix:URIExtXKey", &[], &STANDARD.encode(&uri));
                leaf(out, "speke:KeyFormat", &[], &STANDARD.encode("identity"));
                leaf(out, "speke:KeyFormatVersions", &[], &STANDARD.encode("1"));
            }
            SpekeVersion::V2 => {
                let attributes = format!(
                    "METHOD=AES-128,URI=\"{uri}\",KEYFORMAT=\"identity\",KEYFORMATVERSIONS=\"1\""
                );
                let media = format!("#EXT-X-KEY:{attributes}");
                let master = format!("#EXT-X-SESSION-KEY:{attributes}");
                leaf(
                    out,
                    "cpix:HLSSignalingData",
                    &[("playlist", "media")],
                    &STANDARD.encode(media),
                );
                leaf(
                    out,
                    "cpix:HLSSignalingData",
                    &[("playlist", "master")],
                    &STANDARD.encode(master),
                );
            }
        }
    }
}
