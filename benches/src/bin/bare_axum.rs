//! The ceiling of the HTTP stack: axum on a multi-threaded tokio runtime answering every
//! `GET` with the same 16 static bytes (the size of a key), with the headers a key
//! response carries. Used by `benches/http/run.sh`.
//!
//! `bench-bare-axum [ADDR]` (default `127.0.0.1:8081`); prints `listening ADDR`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;

const BODY: &[u8; 16] = b"0123456789abcdef";

async fn bytes() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        &BODY[..],
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    let app = Router::new().fallback(get(bytes));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening {}", listener.local_addr()?);
    // Like `blindcast-keys serve`: no Nagle delay on small answers.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
