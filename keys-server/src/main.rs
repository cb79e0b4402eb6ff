//! The `blindcast-keys` binary: everything is in the library's [`blindcast_keys::main`].

fn main() -> std::process::ExitCode {
    blindcast_keys::main()
}
