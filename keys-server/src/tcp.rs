//! Running the router on a TCP listener: header-read timeout, connection cap, background
//! lease purge, and graceful shutdown on SIGTERM/SIGINT.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use blindcast_keys_core::LeaseStore;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use blindcast_keys_axum::settings::{ConfigError, ServerSettings, Settings};

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeOptions {
    /// A client must send a request's headers within this time (slowloris).
    pub(crate) header_read_timeout: Duration,
    /// At most this many connections at once; further ones wait in the kernel backlog.
    pub(crate) max_connections: usize,
    /// After shutdown starts, in-flight requests get this long to finish.
    pub(crate) shutdown_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight
/// requests finish within the shutdown timeout.
///
/// # Errors
/// Only errors of the listener itself; failed connections are logged and dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(options.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Client resets and timeouts end up here; they are not the server's errors.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    match tokio::time::timeout(options.shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!("shutdown complete"),
        Err(_) => tracing::warn!("shutdown deadline reached; closing remaining connections"),
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed by this call, not
/// when the future is first polled: a signal that arrives once the server has said it is
/// listening ends it gracefully instead of killing the process.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {},
                () = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Deletes expired leases every `interval`, for as long as the task runs.
pub(crate) fn spawn_purge(
    store: Arc<dyn LeaseStore>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "expired leases purged"),
                Err(e) => tracing::warn!(error = %e, "lease purge failed"),
            }
        }
    })
}

/// Opens the lease store, binds, and serves until SIGTERM/SIGINT. `on_ready` is called
/// with the bound address once the server accepts connections.
///
/// # Errors
/// A setting that fails at startup (the lease store cannot be opened, the address cannot
/// be bound), as an error naming the setting.
pub(crate) async fn run(
    settings: Settings,
    server: ServerSettings,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ConfigError> {
    let store = crate::stores::open(&settings.lease_store, server.lease_cache.as_ref()).await?;
    if let Some(jwt) = settings.authentication.jwt()
        && !jwt.prefetch().await
    {
        tracing::warn!("JWKS not available yet; tokens are refused until it can be fetched");
    }
    let authenticator = settings.authentication.authenticator().ok_or_else(|| {
        ConfigError::new(
            "TRUST_GATEWAY_AUTHORIZER",
            "only the AWS Lambda adapter can trust a gateway authorizer",
        )
    })?;
    let router = settings.key_server(authenticator, store.clone()).router();
    let listener = TcpListener::bind(server.bind)
        .await
        .map_err(|e| ConfigError::new("BIND", format!("cannot bind {}: {e}", server.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConfigError::new("BIND", e.to_string()))?;
    let purge = store.map(|s| spawn_purge(s, server.purge_interval));
    let shutdown = shutdown_signal();
    let lease_cache = server.lease_cache.as_ref().is_some_and(|c| c.enabled);
    tracing::info!(%addr, leases = ?settings.lease_store, lease_cache, "listening");
    on_ready(addr);
    let options = ServeOptions {
        header_read_timeout: server.header_read_timeout,
        max_connections: server.max_connections,
        shutdown_timeout: server.shutdown_timeout,
    };
    let result = serve(listener, router, options, shutdown).await;
    if let Some(purge) = purge {
        purge.abort();
    }
    result.map_err(|e| ConfigError::new("BIND", e.to_string()))
}
