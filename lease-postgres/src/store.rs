//! [`PostgresLeaseStore`]: leases in PostgreSQL, shared by every server instance.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{
    CreateLease, Lease, LeaseError, LeaseId, LeaseStore, StoreMetric, ViewerId, validate_ttl,
};
use deadpool_postgres::{ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::cache::Cache;
use crate::config::PostgresConfig;
use crate::error::{Failure, PostgresConfigError, pool_error};
use crate::listener::{Listener, Target};
use crate::queries::{self, PURGE_BATCH, Statements};
use crate::{schema, tls, url};

/// Leases in PostgreSQL. Cheap to clone (clones share the pool); use it as
/// `Arc<dyn LeaseStore>`.
///
/// See the [crate documentation](crate) for the schema, the concurrency guarantee and
/// the clock.
#[derive(Clone)]
pub struct PostgresLeaseStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    config: PostgresConfig,
    /// Advisory-lock namespace of this prefix's viewers.
    lock_name: String,
    sql: Statements,
    /// The lease-check cache and its listener, when on.
    cache: Option<Arc<Cache>>,
    _listener: Option<Listener>,
}

impl fmt::Debug for PostgresLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's manager holds the connection config; print none of it.
        let status = self.inner.pool.status();
        f.debug_struct("PostgresLeaseStore")
            .field("table_prefix", &self.inner.config.table_prefix)
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .field("pool_available", &status.available)
            .finish_non_exhaustive()
    }
}

impl PostgresLeaseStore {
    /// Connects to the database named by `url` (`postgres://user:password@host:port/db`,
    /// with optional `?sslmode=...`) with the default [`PostgresConfig`], and runs the
    /// migrations.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] if the database cannot be reached within the
    /// timeouts, [`LeaseError::Backend`] for a bad URL or a failed migration.
    pub async fn connect(url: &str) -> Result<Self, LeaseError> {
        Self::connect_with(url, PostgresConfig::default()).await
    }

    /// Like [`connect`](Self::connect), with `config`. With the lease-check cache on
    /// ([`PostgresConfig::cache`]), also starts this instance's listener (on
    /// [`CacheConfig::listener_url`](crate::CacheConfig::listener_url), or else on `url`)
    /// and proves that a notification sent through the pool reaches it.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); [`LeaseError::InvalidRequest`] naming the option
    /// when [`PostgresConfig::validate`] refuses `config`; [`LeaseError::Unavailable`] or
    /// [`LeaseError::Backend`] (with a [`PostgresConfigError::Listener`] source saying
    /// what to do) when the cache's listener cannot listen.
    pub async fn connect_with(url: &str, config: PostgresConfig) -> Result<Self, LeaseError> {
        config.validate()?;
        let (pg_config, tls_config) =
            url::parse(url, config.connect_timeout).map_err(LeaseError::backend)?;
        let target = match &config.cache.listener_url {
            _ if !config.cache.enabled => None,
            Some(_) => crate::store_cache::target(&config)?,
            None => Some(Target::new(
                pg_config.clone(),
                tls_config.clone(),
                &config.table_prefix,
                config.cache.heartbeat,
            )),
        };
        let manager = tls::manager(
            pg_config,
            &tls_config,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        )
        .map_err(LeaseError::backend)?;
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PostgresConfigError::Pool(e.to_string()))?;
        Self::build(pool, config, target).await
    }

    /// A store over an existing pool. Runs the migrations unless
    /// [`PostgresConfig::run_migrations`] is off. The pool should have a runtime and
    /// wait/create timeouts set, or an unreachable database makes calls wait.
    ///
    /// With the cache on, [`CacheConfig::listener_url`](crate::CacheConfig::listener_url)
    /// names the listener's session connection (the pool has no URL to reuse).
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] naming the option when [`PostgresConfig::validate`]
    /// refuses `config`, or `cache.listener_url` when the cache is on without it;
    /// migration and listener failures as in [`connect_with`](Self::connect_with).
    pub async fn from_pool(pool: Pool, config: PostgresConfig) -> Result<Self, LeaseError> {
        config.validate()?;
        let target = crate::store_cache::target(&config)?;
        Self::build(pool, config, target).await
    }

    async fn build(
        pool: Pool,
        config: PostgresConfig,
        target: Option<Target>,
    ) -> Result<Self, LeaseError> {
        let prefix = config.table_prefix.clone();
        let mut store = Self {
            inner: Arc::new(Inner {
                pool,
                lock_name: format!("blindcast_lease:{prefix}"),
                sql: Statements::new(&prefix),
                config,
                cache: None,
                _listener: None,
            }),
        };
        if store.inner.config.run_migrations {
            store.migrate().await?;
        }
        if let Some(target) = target {
            store = store.with_listener(target).await?;
        }
        Ok(store)
    }

    /// Starts the cache's listener and proves that a notification sent through the pool
    /// reaches it.
    async fn with_listener(self, target: Target) -> Result<Self, LeaseError> {
        let cache = Arc::new(Cache::new(&self.inner.config.cache));
        let channel = target.channel.clone();
        let listener = Listener::start(target, cache.clone())
            .await
            .map_err(|e| LeaseError::unavailable(crate::listener::start_error(&e)))?;
        crate::store_cache::probe(&self, &cache, &channel).await?;
        let inner = Arc::try_unwrap(self.inner)
            .map_err(|_| LeaseError::backend("store shared before it was built"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                cache: Some(cache),
                _listener: Some(listener),
                ..inner
            }),
        })
    }

    /// Applies the schema migrations this version knows and the database lacks; returns
    /// how many it applied. Safe to run from many processes at once.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] or [`LeaseError::Backend`].
    pub async fn migrate(&self) -> Result<usize, LeaseError> {
        self.retrying(|| async {
            let mut client = self.inner.pool.get().await?;
            schema::run(&mut client, &self.inner.config.table_prefix).await
        })
        .await
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The lease-check cache, when on.
    pub(crate) fn cache(&self) -> Option<&Arc<Cache>> {
        self.inner.cache.as_ref()
    }

    /// The prepared statements of this prefix.
    pub(crate) fn statements(&self) -> &Statements {
        &self.inner.sql
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    /// The old name of [`config`](Self::config).
    #[deprecated(note = "renamed to config")]
    pub fn options(&self) -> &PostgresConfig {
        self.config()
    }

    pub(crate) fn offset(&self) -> i64 {
        self.inner.config.offset_micros()
    }

    /// Runs `op` again after a serialization failure or deadlock, with bounded backoff.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, LeaseError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = self.inner.config.retry;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into_lease_error()),
            }
        }
    }

    /// Runs one statement: a cached named prepared statement, or an unnamed typed one.
    pub(crate) async fn query<C>(
        &self,
        client: &C,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error>
    where
        C: Conn,
    {
        if self.inner.config.prepared_statements {
            let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
            let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
            let statement = client.prepare_typed_cached(sql, &types).await?;
            deadpool_postgres::GenericClient::query(client, &statement, &values).await
        } else {
            tokio_postgres::GenericClient::query_typed(client.pg(), sql, params).await
        }
    }

    async fn create_once(&self, request: &CreateLease, id: &LeaseId) -> Result<Lease, Failure> {
        let viewer = request.viewer.as_str();
        let mut client = self.inner.pool.get().await?;
        let tx = client.transaction().await?;
        let lock = queries::LockViewer {
            lock_name: &self.inner.lock_name,
            viewer,
        };
        self.query(&tx, &self.inner.sql.lock_viewer, &lock.bind())
            .await?;
        let params = queries::Create {
            clock_offset_us: self.offset(),
            viewer,
            idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_str()),
            id: id.as_str(),
            content: request.content.as_str(),
            ttl_us: micros(request.ttl),
            max_leases_per_viewer: i64::from(request.max_leases_per_viewer),
        };
        let rows = self
            .query(&tx, &self.inner.sql.create, &params.bind())
            .await?;
        tx.commit().await?;
        let row = rows
            .first()
            .ok_or_else(|| LeaseError::backend("create returned no row"))?;
        if let Some(replay_id) = row.try_get::<_, Option<String>>("replay_id")? {
            let content: String = row.try_get("replay_content")?;
            if content != request.content.as_str() {
                return Err(LeaseError::IdempotencyConflict.into());
            }
            return Ok(Lease {
                id: parse_id(&replay_id)?,
                viewer: request.viewer.clone(),
                content: request.content.clone(),
                created_at: row.try_get("replay_created_at")?,
                expires_at: row.try_get("replay_expires_at")?,
                renewals: renewals(row.try_get("replay_renewals")?)?,
            });
        }
        if row.try_get::<_, Option<String>>("new_id")?.is_some() {
            return Ok(Lease {
                id: id.clone(),
                viewer: request.viewer.clone(),
                content: request.content.clone(),
                created_at: row.try_get("new_created_at")?,
                expires_at: row.try_get("new_expires_at")?,
                renewals: 0,
            });
        }
        let active: i64 = row.try_get("active")?;
        Err(LeaseError::LimitReached {
            active: u32::try_from(active).unwrap_or(u32::MAX),
            max: request.max_leases_per_viewer,
        }
        .into())
    }

    async fn renew_once(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<(Lease, i64), Failure> {
        let client = self.inner.pool.get().await?;
        let params = queries::Renew {
            clock_offset_us: self.offset(),
            id: lease_id.as_str(),
            viewer: viewer.as_str(),
            ttl_us: micros(ttl),
            lock_name: &self.inner.lock_name,
        };
        let rows = self
            .query(&client, &self.inner.sql.renew, &params.bind())
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| LeaseError::backend("renew returned no row"))?;
        match row.try_get::<_, Option<String>>("content")? {
            Some(content) => Ok((
                Lease {
                    id: lease_id.clone(),
                    viewer: viewer.clone(),
                    content: parse_content(content)?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    renewals: renewals(row.try_get("renewals")?)?,
                },
                row.try_get("remaining_us")?,
            )),
            // Not updated: expired, or gone (never existed, released, another viewer's).
            None => match row.try_get::<_, Option<bool>>("expired")? {
                Some(true) => Err(LeaseError::Expired.into()),
                _ => Err(LeaseError::NotFound.into()),
            },
        }
    }

    async fn check_once(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<(Lease, i64), Failure> {
        let client = self.inner.pool.get().await?;
        let params = queries::Check {
            clock_offset_us: self.offset(),
            id: lease_id.as_str(),
            viewer: viewer.as_str(),
        };
        let rows = self
            .query(&client, &self.inner.sql.check, &params.bind())
            .await?;
        let row = rows.first().ok_or(LeaseError::NotFound)?;
        if row.try_get::<_, bool>("expired")? {
            return Err(LeaseError::Expired.into());
        }
        let stored: String = row.try_get("content")?;
        if stored != content.as_str() {
            return Err(LeaseError::WrongContent.into());
        }
        Ok((
            Lease {
                id: lease_id.clone(),
                viewer: viewer.clone(),
                content: content.clone(),
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                renewals: renewals(row.try_get("renewals")?)?,
            },
            row.try_get("remaining_us")?,
        ))
    }
}

/// A pooled client or a transaction: what [`PostgresLeaseStore::query`] runs on.
pub(crate) trait Conn: deadpool_postgres::GenericClient + Sync {
    /// The driver's own client or transaction, for unnamed typed statements.
    type Pg: tokio_postgres::GenericClient + Sync;
    fn pg(&self) -> &Self::Pg;
}

impl Conn for deadpool_postgres::Client {
    type Pg = tokio_postgres::Client;
    fn pg(&self) -> &Self::Pg {
        self
    }
}

impl<'a> Conn for deadpool_postgres::Transaction<'a> {
    type Pg = tokio_postgres::Transaction<'a>;
    fn pg(&self) -> &Self::Pg {
        self
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn renewals(n: i64) -> Result<u64, LeaseError> {
    u64::try_from(n).map_err(LeaseError::backend)
}

fn parse_id(id: &str) -> Result<LeaseId, LeaseError> {
    id.parse().map_err(LeaseError::backend)
}

fn parse_content(content: String) -> Result<ContentId, LeaseError> {
    ContentId::new(content).map_err(LeaseError::backend)
}

#[async_trait]
impl LeaseStore for PostgresLeaseStore {
    async fn create(&self, request: CreateLease) -> Result<Lease, LeaseError> {
        request.validate()?;
        let id = LeaseId::generate()?;
        self.retrying(|| self.create_once(&request, &id)).await
    }

    async fn renew(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        validate_ttl(ttl)?;
        let ticket = self.cache_ticket();
        let (lease, remaining_us) = self
            .retrying(|| self.renew_once(lease_id, viewer, ttl))
            .await?;
        self.cache_insert(ticket, &lease, remaining_us);
        Ok(lease)
    }

    async fn check(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<Lease, LeaseError> {
        if let Some(lease) = self.cache_lookup(lease_id, viewer, content) {
            return Ok(lease);
        }
        let ticket = self.cache_ticket();
        let (lease, remaining_us) = self
            .retrying(|| self.check_once(lease_id, viewer, content))
            .await?;
        // Only successes reach here: refusals are never cached.
        self.cache_insert(ticket, &lease, remaining_us);
        Ok(lease)
    }

    async fn release(&self, lease_id: &LeaseId, viewer: &ViewerId) -> Result<(), LeaseError> {
        self.retrying(|| async {
            let client = self.inner.pool.get().await?;
            let channel = self.channel();
            let params = queries::Release {
                id: lease_id.as_str(),
                viewer: viewer.as_str(),
                channel: &channel,
            };
            self.query(&client, &self.inner.sql.release, &params.bind())
                .await?;
            Ok(())
        })
        .await?;
        // Gone here at once; on other instances when the notification reaches them.
        self.cache_invalidate(lease_id);
        Ok(())
    }

    // Purges delete only leases expired by the database clock, which no cache entry
    // outlives (entries end at the expiry the database reported): no notification needed.
    async fn purge_expired(&self) -> Result<u64, LeaseError> {
        let mut purged = 0u64;
        loop {
            // One short statement per batch, so purging never holds many row locks long.
            let deleted = self
                .retrying(|| async {
                    let client = self.inner.pool.get().await?;
                    let params = queries::Purge {
                        clock_offset_us: self.offset(),
                        batch: PURGE_BATCH,
                    };
                    let rows = self
                        .purge_batch(&client, &self.inner.sql.purge, &params.bind())
                        .await?;
                    Ok(rows)
                })
                .await?;
            purged += deleted;
            if deleted < PURGE_BATCH.unsigned_abs() {
                return Ok(purged);
            }
        }
    }

    async fn ping(&self) -> Result<(), LeaseError> {
        let client = self.inner.pool.get().await.map_err(pool_error)?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(crate::error::pg_error)?;
        Ok(())
    }

    fn metrics(&self) -> Vec<StoreMetric> {
        self.cache_stats()
            .map(|stats| stats.metrics().to_vec())
            .unwrap_or_default()
    }
}

impl PostgresLeaseStore {
    async fn purge_batch(
        &self,
        client: &deadpool_postgres::Client,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, Failure> {
        let rows = if self.inner.config.prepared_statements {
            let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
            let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
            let prepared = client.prepare_typed_cached(statement, &types).await?;
            client.execute(&prepared, &values).await?
        } else {
            client.execute_typed(statement, params).await?
        };
        Ok(rows)
    }
}
