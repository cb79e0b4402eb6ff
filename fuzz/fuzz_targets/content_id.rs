//! Content ids and epochs: parsing never panics, and what is accepted keeps its promises
//! (no path separators, no leading dot, 1-128 bytes; epochs are canonical decimals).
#![no_main]

use blindcast_keys_core::{ContentId, parse_epoch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = ContentId::new(text) {
        let s = id.as_str();
        assert!(!s.is_empty() && s.len() <= 128, "{s:?}");
        assert!(!s.starts_with('.'), "{s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')),
            "{s:?}"
        );
        assert_eq!(s, text);
    }
    if let Ok(epoch) = parse_epoch(text) {
        assert_eq!(epoch.to_string(), text, "epochs are canonical");
    }
});
