//! Store-clock times as the integer unix milliseconds kept in the database.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::SqliteStoreError;

/// `time` as unix milliseconds, rounded down.
pub(crate) fn to_millis(time: SystemTime) -> Result<i64, SqliteStoreError> {
    let since = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| SqliteStoreError::ClockOutOfRange)?;
    i64::try_from(since.as_millis()).map_err(|_| SqliteStoreError::ClockOutOfRange)
}

/// A TTL in milliseconds, rounded up so that a valid (non-zero) TTL never becomes zero.
pub(crate) fn ttl_millis(ttl: Duration) -> i64 {
    // TTLs are validated to at most a day before they get here; saturate regardless.
    i64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

/// Unix milliseconds from the database as a time.
pub(crate) fn from_millis(ms: i64) -> Result<SystemTime, SqliteStoreError> {
    let ms = u64::try_from(ms).map_err(|_| SqliteStoreError::CorruptRow("negative time"))?;
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .ok_or(SqliteStoreError::CorruptRow("time out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_and_ttl_rounds_up() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123) + Duration::from_micros(999);
        assert_eq!(to_millis(t).ok(), Some(1_700_000_000_123));
        assert_eq!(
            from_millis(1_700_000_000_123).ok(),
            Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
        );
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_millis(2000)), 2000);
        assert!(to_millis(UNIX_EPOCH - Duration::from_secs(1)).is_err());
        assert!(from_millis(-1).is_err());
    }
}
