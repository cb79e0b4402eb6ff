//! The listener of one store instance: a dedicated session connection that `LISTEN`s on
//! the prefix's release channel and applies each notification to the instance's
//! [`Cache`]. When the connection drops, the cache is cleared and bypassed until a new
//! connection is listening again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Connection, SimpleQueryMessage};

use crate::cache::Cache;
use crate::error::PostgresConfigError;
use crate::url::{SslMode, TlsConfig};

/// The `application_name` of listener connections, so operators (and tests) can find them
/// in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "blindcast-keys-lease-listener";

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where and how the listener connects.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: TlsConfig,
    pub(crate) channel: String,
    pub(crate) heartbeat: Duration,
}

impl Target {
    pub(crate) fn new(
        mut config: tokio_postgres::Config,
        tls: TlsConfig,
        prefix: &str,
        heartbeat: Duration,
    ) -> Self {
        config.application_name(LISTENER_APPLICATION_NAME);
        Self {
            config,
            tls,
            channel: channel(prefix),
            heartbeat,
        }
    }
}

/// The notification channel of a table prefix (a plain identifier: the prefix is
/// validated as `[a-z_][a-z0-9_]*`).
pub(crate) fn channel(prefix: &str) -> String {
    format!("{prefix}lease_released")
}

enum Event {
    Notification(String),
    Closed,
}

/// A connection that is listening.
struct Session {
    client: Client,
    events: mpsc::UnboundedReceiver<Event>,
    pid: i32,
}

/// The running listener task; stops when dropped (with its store).
pub(crate) struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Connects and `LISTEN`s once (the error says why not), marks the cache listening,
    /// and keeps listening in the background, reconnecting as needed.
    pub(crate) async fn start(target: Target, cache: Arc<Cache>) -> Result<Self, String> {
        let session = listen(&target).await?;
        cache.listening(session.pid);
        let task = tokio::spawn(run(target, cache, session));
        Ok(Self { task })
    }
}

async fn run(target: Target, cache: Arc<Cache>, mut session: Session) {
    loop {
        serve(&mut session, &cache, target.heartbeat).await;
        cache.lost();
        drop(session);
        let mut backoff = Duration::from_millis(20);
        session = loop {
            match listen(&target).await {
                Ok(s) => break s,
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        // Notifications sent before this LISTEN took effect were missed: start empty.
        cache.listening(session.pid);
    }
}

/// Applies notifications until the connection is lost or stops answering heartbeats.
async fn serve(session: &mut Session, cache: &Cache, heartbeat: Duration) {
    let client = &session.client;
    let beat = async {
        loop {
            tokio::time::sleep(heartbeat).await;
            let sent = Instant::now();
            match tokio::time::timeout(heartbeat * 2, client.simple_query("SELECT 1")).await {
                Ok(Ok(_)) => cache.alive_since(sent),
                _ => return,
            }
        }
    };
    tokio::pin!(beat);
    loop {
        tokio::select! {
            () = &mut beat => return,
            event = session.events.recv() => match event {
                Some(Event::Notification(payload)) => cache.notified(&payload),
                Some(Event::Closed) | None => return,
            },
        }
    }
}

/// Opens a session connection and `LISTEN`s on the channel.
async fn listen(target: &Target) -> Result<Session, String> {
    let (tx, events) = mpsc::unbounded_channel();
    let client = open(target, tx).await?;
    let messages = client
        .simple_query(&format!(
            "LISTEN {}; SELECT pg_backend_pid()::text",
            target.channel
        ))
        .await
        .map_err(|e| format!("LISTEN {} failed: {e}", target.channel))?;
    let pid = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).and_then(|p| p.parse().ok()),
            _ => None,
        })
        .unwrap_or(-1);
    Ok(Session {
        client,
        events,
        pid,
    })
}

async fn open(target: &Target, events: mpsc::UnboundedSender<Event>) -> Result<Client, String> {
    let failed = |e: tokio_postgres::Error| format!("cannot connect: {e}");
    if target.tls.mode == SslMode::Disable {
        let (client, connection) = target
            .config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(failed)?;
        tokio::spawn(drive(connection, events));
        return Ok(client);
    }
    open_tls(target, events).await
}

#[cfg(feature = "tls")]
async fn open_tls(target: &Target, events: mpsc::UnboundedSender<Event>) -> Result<Client, String> {
    let connector = crate::tls::rustls_connector(&target.tls).map_err(|e| e.to_string())?;
    let (client, connection) = target
        .config
        .connect(connector)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    tokio::spawn(drive(connection, events));
    Ok(client)
}

#[cfg(not(feature = "tls"))]
async fn open_tls(
    target: &Target,
    _events: mpsc::UnboundedSender<Event>,
) -> Result<Client, String> {
    Err(PostgresConfigError::TlsDisabled(target.tls.mode.name()).to_string())
}

/// Drives the connection and forwards its notifications; reports its end.
async fn drive<S, T>(mut connection: Connection<S, T>, events: mpsc::UnboundedSender<Event>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if events
                    .send(Event::Notification(n.payload().to_owned()))
                    .is_err()
                {
                    return;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                let _ = events.send(Event::Closed);
                return;
            }
        }
    }
}

/// The start-up failure, with what to do about it.
pub(crate) fn start_error(detail: &str) -> PostgresConfigError {
    PostgresConfigError::Listener(detail.to_owned())
}
