//! [`ErrorChain`]: an error and its sources on one line.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its sources, `": "`-separated, on one line: the
/// form every log line and start-up message of the workspace uses. Errors of this
/// workspace keep secrets out of their messages, so the chain is safe to log.
///
/// ```
/// use blindcast_keys_core::ErrorChain;
/// let io = std::io::Error::other("disk full");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, io);
/// assert_eq!(ErrorChain(&outer).to_string(), "disk full");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_source_is_written_once_in_order() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(ErrorChain(&e).to_string(), "outer: inner");
    }
}
