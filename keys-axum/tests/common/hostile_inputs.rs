//! Hostile inputs shared by the router's input tests (keys-axum `security_inputs`) and the
//! real server's (system-tests `security_inputs`, which includes this file by path): the
//! malformed key paths, short unique names for cases, and a tally of the statuses they got.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;

/// Statuses of hostile requests: every one must be 4xx; the others are listed by name.
pub struct Tally {
    pub sent: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub bad: Vec<String>,
}

impl Tally {
    pub fn new() -> Self {
        Self {
            sent: 0,
            statuses: BTreeMap::new(),
            bad: Vec::new(),
        }
    }
    /// Counts `status` for the request named `what`; anything but 4xx is a failure.
    pub fn record(&mut self, what: &str, status: u16) {
        self.sent += 1;
        *self.statuses.entry(status).or_default() += 1;
        if !(400..500).contains(&status) {
            self.bad.push(format!("{what}: {status}"));
        }
    }
    pub fn fivexx(&self) -> usize {
        self.statuses.range(500..).map(|(_, n)| n).sum()
    }
}

/// A case name short enough to read: long paths and values are cut, with their length, so
/// that two cases never share a name.
pub fn short(s: &str) -> String {
    if s.len() <= 60 {
        return s.to_owned();
    }
    let cut = s.char_indices().nth(40).map_or(s.len(), |(i, _)| i);
    format!("{}... ({} bytes)", &s[..cut], s.len())
}

/// Content ids and epochs that must be refused (4xx) on the key routes.
pub fn bad_paths() -> Vec<String> {
    let mut ids: Vec<String> = [
        "..",
        ".",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "%2E%2E%2F",
        "%2e",
        ".hidden",
        "a%2Fb",
        "%2F",
        "%5C",
        "a%5Cb",
        "..%5C..%5C",
        "%00",
        "a%00b",
        "%0d%0aX-Injected:%201",
        "%C3%A9",
        "m%C3%A9",
        "%F0%9F%8E%AC",
        "%FF",
        "%C0%AE%C0%AE",
        "%E2%80%AE",
        "a%20b",
        "%20",
        "a%09b",
        "movie-1%3B",
        "movie-1%27%20OR%201=1",
        "%25",
        "%25%32%65",
    ]
    .iter()
    .map(|s| format!("/keys/{s}"))
    .collect();
    ids.push(format!("/keys/{}", "a".repeat(129)));
    ids.push(format!("/keys/{}", "a".repeat(10_000)));
    ids.push(format!("/keys/{}", "%2e".repeat(1000)));
    for epoch in [
        "-1",
        "01",
        "00",
        "+1",
        "1e3",
        "0x10",
        "1.0",
        "18446744073709551616",
        "99999999999999999999999",
        "%201",
        "1%20",
        "%2e%2e",
        "..",
        "%00",
        "1%00",
        "%D9%A1",
        "%EF%BC%91",
        "",
        "NaN",
        "%FF",
    ] {
        ids.push(format!("/keys/movie-1/{epoch}"));
    }
    ids.push(format!("/keys/movie-1/{}", "9".repeat(5000)));
    ids.push("/keys/movie-1/1/2".into());
    ids.push("/keys/..%2F/1".into());
    ids
}
