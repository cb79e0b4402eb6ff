//! Runs the example service on 127.0.0.1:3000 with MASTER_KEY and SALT from the
//! environment.

use blindcast_keys_axum::settings::{ProcessEnv, load_deriver};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let deriver = load_deriver(&ProcessEnv, None, None)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000 (keys under /api/keys/...)");
    axum::serve(listener, blindcast_keys_embed_example::app(deriver)?).await?;
    Ok(())
}
