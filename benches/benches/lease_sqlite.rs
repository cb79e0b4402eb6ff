//! Placeholder: filled in by the lease-store work.
fn main() {}
