//! The `blindcast-keys` binary, built inside this crate so that its tests can name it
//! (`CARGO_BIN_EXE_blindcast-keys-under-test`) and cargo builds it before they run.

fn main() -> std::process::ExitCode {
    blindcast_keys::main()
}
