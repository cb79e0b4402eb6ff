//! What a publisher may name: file names (the last part of an object key) and content
//! types. Both end up in a signed URL or a signed header, so both are checked against
//! short allowlists rather than cleaned up.

/// Longest file name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

/// True when `name` may be the last part of an object key: 1 to [`MAX_NAME_LEN`]
/// characters of `A-Z a-z 0-9 . _ - ~ @ =`, not `.` and without `..`. So no `/` or `\`,
/// no control, space or non-ASCII character: nobody writes outside their content's folder.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && !name.contains("..")
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~' | b'@' | b'=')
        })
}

/// True when `text` is a MIME type such as `video/mp2t` or `text/plain; charset=utf-8`:
/// `type/subtype` of RFC 6838 name characters, then optional `; name=value` parameters of
/// the same characters, at most [`MAX_CONTENT_TYPE_LEN`] bytes in all.
pub(crate) fn is_valid_content_type(text: &str) -> bool {
    if text.is_empty() || text.len() > MAX_CONTENT_TYPE_LEN {
        return false;
    }
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    if !is_mime_name(kind) || !is_mime_name(subtype) {
        return false;
    }
    parts.all(|parameter| {
        let parameter = parameter.strip_prefix(' ').unwrap_or(parameter);
        parameter
            .split_once('=')
            .is_some_and(|(name, value)| is_mime_name(name) && is_mime_name(value))
    })
}

/// RFC 6838 `restricted-name`: 1 to 127 characters, starting with a letter or digit.
fn is_mime_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 127
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in [
            "seg000.ts",
            "index.m3u8",
            "a",
            "key=1@x~y_z-w.ts",
            ".hidden",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(is_valid_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a..b",
            "a/b",
            "a\\b",
            "/abs",
            "seg 1.ts",
            "seg\n.ts",
            "seg\0.ts",
            "séance.ts",
            "a?b",
            "a#b",
            "a%2Fb",
            &"a".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        for good in [
            "video/mp2t",
            "application/vnd.apple.mpegurl",
            "video/iso.segment",
            "text/plain; charset=utf-8",
            "text/plain;charset=utf-8",
            "application/x-mpegURL",
        ] {
            assert!(is_valid_content_type(good), "{good:?}");
        }
        for bad in [
            "",
            "video",
            "video/",
            "/mp2t",
            "video/mp2t/x",
            "video/mp2t\r\nx-amz-acl: public-read",
            "video/mp2t; charset",
            "video/mp2t; charset=\"x\"",
            "vidéo/mp2t",
            "video /mp2t",
            &format!("video/{}", "a".repeat(128)),
        ] {
            assert!(!is_valid_content_type(bad), "{bad:?}");
        }
    }
}
