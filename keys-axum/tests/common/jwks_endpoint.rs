//! A JWKS endpoint on 127.0.0.1 that a test steers: it serves a document (optionally
//! with `Cache-Control`, optionally slowly), answers 500, hangs (accepts the connection,
//! reads the request, never answers), or refuses connections (its port closed). It counts
//! requests and signals each one, so tests wait on events instead of sleeping.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The document, at once.
    Serve,
    /// The document, after this delay.
    Slow(Duration),
    /// 500 with an empty body.
    Fail,
    /// Never an answer; the connection stays open until the client drops it.
    Hang,
}

struct State {
    mode: Mutex<Mode>,
    body: Mutex<String>,
    cache_control: Mutex<Option<String>>,
    hits: watch::Sender<u64>,
    hanging: AtomicU64,
}

pub struct JwksEndpoint {
    pub url: String,
    addr: SocketAddr,
    state: Arc<State>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl JwksEndpoint {
    pub async fn start(body: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Serve),
            body: Mutex::new(body.to_owned()),
            cache_control: Mutex::new(None),
            hits: watch::channel(0).0,
            hanging: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Self {
            url: format!("http://{addr}/jwks.json"),
            addr,
            state,
            accept: Mutex::new(Some(accept)),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn set_body(&self, body: &str) {
        *self.state.body.lock().unwrap() = body.to_owned();
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.state.cache_control.lock().unwrap() = value.map(str::to_owned);
    }

    /// Requests received so far (each a JWKS fetch).
    pub fn hits(&self) -> u64 {
        *self.state.hits.borrow()
    }

    /// Connections held open in `Hang` mode right now.
    pub fn hanging(&self) -> u64 {
        self.state.hanging.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests were received; panics after `limit`.
    pub async fn wait_hits(&self, n: u64, limit: Duration) {
        let mut rx = self.state.hits.subscribe();
        let waited = tokio::time::timeout(limit, rx.wait_for(|hits| *hits >= n)).await;
        assert!(
            waited.is_ok(),
            "the JWKS endpoint got {} requests, expected {n} within {limit:?}",
            self.hits()
        );
    }

    /// Closes the port: connections are refused from now on.
    pub async fn refuse(&self) {
        let handle = self.accept.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.abort();
            let _ = handle.await;
        }
        // Checked, not assumed.
        assert!(
            TcpStream::connect(self.addr).await.is_err(),
            "the port still accepts"
        );
    }

    /// Opens the port again after `refuse`.
    pub async fn reopen(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&self.state)));
        *self.accept.lock().unwrap() = Some(accept);
    }
}

impl Drop for JwksEndpoint {
    fn drop(&mut self) {
        if let Some(handle) = self.accept.lock().unwrap().take() {
            handle.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(answer(stream, Arc::clone(&state)));
    }
}

async fn answer(mut stream: TcpStream, state: Arc<State>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let mode = *state.mode.lock().unwrap();
    if mode == Mode::Hang {
        // Counted before the hit is signalled, so a waiter sees both.
        state.hanging.fetch_add(1, Ordering::SeqCst);
    }
    state.hits.send_modify(|hits| *hits += 1);
    match mode {
        Mode::Hang => {
            // Until the client gives up and closes.
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            state.hanging.fetch_sub(1, Ordering::SeqCst);
        }
        Mode::Fail => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
        Mode::Serve | Mode::Slow(_) => {
            if let Mode::Slow(delay) = mode {
                tokio::time::sleep(delay).await;
            }
            let body = state.body.lock().unwrap().clone();
            let cache = state
                .cache_control
                .lock()
                .unwrap()
                .as_ref()
                .map(|v| format!("cache-control: {v}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{cache}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    }
    let _ = stream.shutdown().await;
}
