//! Logs on stderr without a `write(2)` per event on the request path.
//!
//! The fmt layer formats each event into its own buffer and hands it over in one
//! `write`; here that copies the line into a shared buffer under a mutex, and one
//! background thread writes whatever has accumulated to stderr in one system call. Under
//! load many audit lines share one write (the thread pauses 2 ms after a large batch);
//! when idle, each line is written at once.
//!
//! Nothing is dropped: when the buffer holds more than [`HIGH_WATER`] bytes (stderr
//! blocked or slow), producers wait for the writer thread, as a plain blocking writer
//! would make them wait. Lines are written in the order they were produced.
//! [`flush`] waits until everything produced so far is written.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Above this many pending bytes, producers wait for the writer thread.
const HIGH_WATER: usize = 1 << 20;
/// A batch this large means lines arrive faster than they are written one by one.
const BUSY_BATCH: usize = 2048;
/// How long the writer thread lets lines gather after a busy batch.
const BATCH_PAUSE: Duration = Duration::from_millis(2);

#[derive(Debug, Default)]
struct State {
    pending: Vec<u8>,
    /// The writer thread is waiting for lines (it needs a wake-up).
    idle: bool,
    /// The writer thread holds a batch it has not finished writing.
    writing: bool,
    /// The writer thread could not be started: write synchronously.
    no_thread: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive for an idle writer thread.
    ready: Condvar,
    /// Signalled when a batch has been written.
    drained: Condvar,
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

fn shared() -> &'static Arc<Shared> {
    SHARED.get_or_init(|| {
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        let started = std::thread::Builder::new()
            .name("blindcast-log".into())
            .spawn(move || write_loop(&worker));
        if started.is_err()
            && let Ok(mut state) = shared.state.lock()
        {
            state.no_thread = true;
        }
        shared
    })
}

fn write_loop(shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            while state.pending.is_empty() {
                state.idle = true;
                state = match shared.ready.wait(state) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            state.idle = false;
            state.writing = true;
            std::mem::swap(&mut state.pending, &mut batch);
        }
        // A failed write (closed stderr) is dropped, as `eprintln!`-style logging would.
        let _ = std::io::stderr().lock().write_all(&batch);
        let busy = batch.len() >= BUSY_BATCH;
        batch.clear();
        if batch.capacity() > HIGH_WATER {
            batch = Vec::new();
        }
        if let Ok(mut state) = shared.state.lock() {
            state.writing = false;
        }
        shared.drained.notify_all();
        if busy {
            // Under load, let lines gather for a moment: one write (and no wake-up) per
            // BATCH_PAUSE instead of one per line.
            std::thread::sleep(BATCH_PAUSE);
        }
    }
}

/// The `MakeWriter` of the server's logs: a handle on the shared buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BufferedStderr;

impl Write for BufferedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shared = shared();
        let Ok(mut state) = shared.state.lock() else {
            return std::io::stderr().write(buf);
        };
        if state.no_thread {
            drop(state);
            return std::io::stderr().write(buf);
        }
        while state.pending.len() > HIGH_WATER {
            state = match shared.drained.wait(state) {
                Ok(s) => s,
                Err(_) => return std::io::stderr().write(buf),
            };
        }
        state.pending.extend_from_slice(buf);
        let wake = state.idle;
        if wake {
            // One wake-up per batch, not per line.
            state.idle = false;
        }
        drop(state);
        if wake {
            shared.ready.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BufferedStderr {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Waits (at most 2 s) until every log line produced so far is on stderr. Call before
/// the process exits.
pub(crate) fn flush() {
    let Some(shared) = SHARED.get() else { return };
    let Ok(mut state) = shared.state.lock() else {
        return;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !state.no_thread && (!state.pending.is_empty() || state.writing) {
        if !state.pending.is_empty() && state.idle {
            state.idle = false;
            shared.ready.notify_one();
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        state = match shared.drained.wait_timeout(state, left) {
            Ok((s, _)) => s,
            Err(_) => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_and_flush_returns() {
        let mut writer = BufferedStderr;
        for i in 0..3 {
            let line = format!("logwriter test line {i}\n");
            assert_eq!(writer.write(line.as_bytes()).unwrap(), line.len());
        }
        let started = std::time::Instant::now();
        flush();
        assert!(started.elapsed() < Duration::from_secs(2));
        let state = shared().state.lock().unwrap();
        assert!(state.pending.is_empty() && !state.writing);
    }
}
