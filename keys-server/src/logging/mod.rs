//! Logs on stderr, text or JSON, written by a background thread.

mod text_format;
mod writer;

use blindcast_keys_axum::settings::{LogFormat, LogSettings};

/// Installs the global tracing subscriber: logs on stderr, text or JSON. Returns false if
/// one was already installed.
///
/// Lines are written by a background thread, so a request never waits for a `write(2)`
/// of its audit event (many events share one write under load; nothing is dropped).
/// Call [`flush_logs`] before the process exits.
/// The filter was checked when the settings were read (a bad `LOG_LEVEL` stops the
/// server); `info` is only a guard.
pub(crate) fn init_logging(log: &LogSettings) -> bool {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer::BufferedStderr);
    match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
        LogFormat::Text => builder
            .with_ansi(false)
            .event_format(text_format::TextFormat::default())
            .try_init()
            .is_ok(),
    }
}

/// Waits (at most 2 s) until every log line of [`init_logging`]'s subscriber is written
/// to stderr.
pub(crate) fn flush_logs() {
    writer::flush();
}
