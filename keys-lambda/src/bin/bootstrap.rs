//! `bootstrap`: the Blindcast Keys server as an AWS Lambda custom runtime
//! (`provided.al2023`), configured by the same environment variables as
//! `blindcast-keys serve`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // One invocation at a time per instance: a current-thread runtime is enough and
    // starts fastest.
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(blindcast_keys_lambda::bootstrap()),
        Err(e) => {
            eprintln!("blindcast-keys: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
