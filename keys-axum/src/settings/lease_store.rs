//! `LEASE_STORE`: where leases are kept.

use std::path::PathBuf;

use super::error::ConfigError;

/// Where leases are kept.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum LeaseStoreSetting {
    /// No lease store: lease routes answer 404, keys are served on authentication alone.
    #[default]
    None,
    /// In process memory (single instance, lost on restart).
    Memory,
    /// A SQLite file (`sqlite:PATH`).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://...`).
    Postgres(String),
}

impl std::fmt::Debug for LeaseStoreSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Memory => f.write_str("Memory"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            // The URL may hold a password.
            Self::Postgres(_) => f.write_str("Postgres(<url redacted>)"),
        }
    }
}

impl LeaseStoreSetting {
    /// Parses `LEASE_STORE`: `none`, `memory`, `sqlite:PATH` or `postgres://...`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `LEASE_STORE` (without echoing the value).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bad = |m: &str| ConfigError::new("LEASE_STORE", m);
        if text.is_empty() || text == "none" {
            Ok(Self::None)
        } else if text == "memory" {
            Ok(Self::Memory)
        } else if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad(
                    "sqlite: needs a path, e.g. sqlite:/var/lib/blindcast/leases.db",
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Self::Postgres(text.to_owned()))
        } else {
            Err(bad("expected none, memory, sqlite:PATH or postgres://..."))
        }
    }
}

/// The PostgreSQL lease-check cache of `blindcast-keys serve` (`LEASE_CACHE`,
/// `LEASE_CACHE_MAX_ENTRIES`, `LEASE_CACHE_LISTENER_URL`). Plain values: the server hands
/// them to the PostgreSQL store's `CacheConfig`, which checks them, and reports its errors
/// under these names. Lambda has no cache: a frozen instance would miss release
/// notifications.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseCacheSettings {
    /// `LEASE_CACHE` (default `true` with a PostgreSQL store).
    pub enabled: bool,
    /// `LEASE_CACHE_MAX_ENTRIES`; `None`: the store's default.
    pub max_entries: Option<usize>,
    /// `LEASE_CACHE_LISTENER_URL`; `None`: the listener uses `LEASE_STORE`'s URL.
    pub listener_url: Option<String>,
}

impl Default for LeaseCacheSettings {
    /// The server's default: on, with the store's bounds.
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: None,
            listener_url: None,
        }
    }
}

impl std::fmt::Debug for LeaseCacheSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("LeaseCacheSettings")
            .field("enabled", &self.enabled)
            .field("max_entries", &self.max_entries)
            .field("listener_url", &self.listener_url.as_ref().map(|_| "<set>"))
            .finish()
    }
}
