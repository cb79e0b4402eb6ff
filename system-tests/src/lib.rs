//! System tests of Blindcast Keys: the `blindcast-keys` binary with real PostgreSQL
//! clusters, libfaketime, ffmpeg, Chromium and an S3 server. Everything is in `tests/`;
//! the fixtures are in `tests/common/`. Not published.
#![forbid(unsafe_code)]
