//! The server's text log format: tracing-subscriber's `Full` format, with a fast path for
//! audit events.
//!
//! One audit line is written per key request, so its formatting is on the hot path:
//! through the generic formatter it cost 10% of the server's CPU under load (field
//! visitor, `Debug` of every string, styling calls that do nothing without colours;
//! BENCHMARKS.md). Audit events have known, flat fields, so they are written here
//! directly, byte for byte as the generic formatter writes them (a test compares the
//! two); every other event, and any event inside a span or with colours on, goes to the
//! generic formatter.

use std::fmt::{self, Debug, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use blindcast_keys_axum::AUDIT_TARGET;

/// tracing-subscriber's text format without colours, audit events formatted directly.
#[derive(Debug, Clone)]
pub(crate) struct TextFormat<T = SystemTime> {
    timer: T,
    generic: Format<Full, T>,
}

impl Default for TextFormat {
    fn default() -> Self {
        Self::with_timer(SystemTime)
    }
}

impl<T: FormatTime + Clone> TextFormat<T> {
    pub(crate) fn with_timer(timer: T) -> Self {
        let generic = Format::default().with_ansi(false).with_timer(timer.clone());
        Self { timer, generic }
    }
}

impl<S, N, T> FormatEvent<S, N> for TextFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if meta.target() != AUDIT_TARGET || writer.has_ansi_escapes() || ctx.event_scope().is_some()
        {
            return self.generic.format_event(ctx, writer, event);
        }
        // As `Format<Full>`: "<time> <LEVEL> <target>: <message> <name>=<value>...".
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(level(meta.level()))?;
        writer.write_char(' ')?;
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        let mut fields = Fields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// The level, padded to 5 characters as `Format<Full>` pads it.
fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// Writes fields as tracing-subscriber's default visitor does without colours.
struct Fields<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// The separator and `name=` of a field (`message` has no name).
    fn start(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        match field.name() {
            "message" => Ok(()),
            name => {
                self.writer
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.writer.write_char('=')
            }
        }
    }

    fn write(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.start(field).and_then(|()| value(self.writer));
        }
    }
}

/// Text that `Debug` only quotes (nothing to escape), so it can be copied as is.
fn plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            return self.record_debug(field, &format_args!("{value}"));
        }
        self.write(field, |w| {
            if plain(value) {
                w.write_char('"')?;
                w.write_str(value)?;
                w.write_char('"')
            } else {
                // Quotes, control characters, non-ASCII: `Debug` escapes them, as the
                // generic formatter does, so nobody can forge a line or a field.
                write!(w, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            return self.write(field, |w| {
                if w.sanitizes_ansi_escapes() {
                    write!(Sanitized(w), "{value:?}")
                } else {
                    write!(w, "{value:?}")
                }
            });
        }
        self.write(field, |w| write!(w, "{value:?}"));
    }
}

/// Escapes terminal control characters in a message, as tracing-subscriber does when
/// its writer sanitizes ANSI escapes.
struct Sanitized<'w, 'a>(&'w mut Writer<'a>);

impl fmt::Write for Sanitized<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            match ch {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(ch))?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// A clock that always reads the same, so two formatters' lines can be compared.
    #[derive(Debug, Clone)]
    struct Fixed(&'static str);

    const TIME: Fixed = Fixed("2026-11-30T12:00:00.000000Z");

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str(self.0)
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// Every shape of audit event, with hostile viewer ids.
    fn events() {
        let viewers = [
            "viewer-1",
            "",
            "with space and 'single' quotes",
            "quote\"inside",
            "back\\slash",
            "new\nline",
            "tab\tand\rreturn",
            "esc\u{1b}[31mred",
            "bell\u{7}del\u{7f}",
            "c1\u{85}\u{9b}",
            "unicode é 🎬",
            "zero\u{200b}width",
            "nul\u{0}",
        ];
        for viewer in viewers {
            tracing::info!(target: AUDIT_TARGET, outcome = "issued", status = 200u16,
                viewer, content = "movie-1", kv = 2u16, epoch = 17u64, lease = "AbC_-x",
                latency_us = 3u64, "key issued");
            tracing::info!(target: AUDIT_TARGET, outcome = "refused", reason = "forbidden",
                status = 403u16, viewer = Some(viewer), content = None::<&str>, kv = Some(1u16),
                epoch = None::<u64>, lease = None::<&str>, latency_us = 12u64, "key refused");
            tracing::warn!(target: AUDIT_TARGET, r#type = viewer, flag = true, delta = -4i64,
                debug = ?Some(viewer), "odd {} message", viewer);
            tracing::info!(target: AUDIT_TARGET, message = viewer, viewer);
            // SPEKE: a packager ARN, a key count and a list of epochs.
            tracing::info!(target: AUDIT_TARGET, operation = "speke", outcome = "issued",
                status = 200u16, packager = Some(viewer), content = Some("live-1"), kv = Some(2u16), keys = 3usize,
                epochs = Some("content,7,8"), latency_us = 5u64, "speke keys issued");
        }
        // Not audit events: the generic formatter writes these.
        tracing::info!(addr = "127.0.0.1:1", "listening");
        let parent = tracing::info_span!("explicit", id = 2);
        tracing::info!(target: AUDIT_TARGET, parent: &parent, viewer = "with-parent", "key issued");
        let span = tracing::info_span!("request", id = 1);
        let _entered = span.enter();
        tracing::info!(target: AUDIT_TARGET, viewer = "in-span", "key issued");
    }

    fn lines<E>(format: E) -> String
    where
        E: for<'w> FormatEvent<
                tracing_subscriber::Registry,
                tracing_subscriber::fmt::format::DefaultFields,
            > + Send
            + Sync
            + 'static,
    {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(buffer.clone())
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn audit_lines_are_byte_for_byte_those_of_the_generic_format() {
        let generic = lines(Format::default().with_ansi(false).with_timer(TIME));
        let fast = lines(TextFormat::with_timer(TIME));
        for (fast, generic) in fast.lines().zip(generic.lines()) {
            assert_eq!(fast, generic);
        }
        assert_eq!(fast, generic);
        assert!(fast.lines().count() >= 13 * 5 + 3);
        // Field values are escaped: a viewer id cannot start a line or a field.
        assert!(fast.contains(r#" viewer="new\nline" "#), "{fast}");
        assert!(fast.contains(r#" viewer="esc\u{1b}[31mred" "#), "{fast}");
        assert!(
            fast.contains(r#" content="movie-1" kv=2 epoch=17 "#),
            "{fast}"
        );

        // Audit events outside spans took the fast path; the others did not.
        let marked = lines(TextFormat {
            timer: Fixed("FAST"),
            generic: Format::default().with_ansi(false).with_timer(TIME),
        });
        let fast_lines = marked.lines().filter(|l| l.starts_with("FAST ")).count();
        assert_eq!(fast_lines, 13 * 5, "{marked}");
        assert!(marked.contains("Z  INFO request{id=1}: blindcast_keys::audit: key issued"));
    }
}
