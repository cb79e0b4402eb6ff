//! [`PostgresLeaseStore`]: leases in PostgreSQL, shared by every server instance.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{
    CreateLease, Lease, LeaseError, LeaseId, LeaseStore, ViewerId, validate_ttl,
};
use deadpool_postgres::{ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::error::{ConfigError, Failure, pool_error};
use crate::options::PostgresOptions;
use crate::{config, migrations, tls};

/// How many expired leases one purge statement deletes.
const PURGE_BATCH: i64 = 1000;

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
    options: PostgresOptions,
    /// Advisory-lock namespace of this prefix's viewers.
    lock_name: String,
    sql: Sql,
}

impl fmt::Debug for PostgresLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's manager holds the connection config; print none of it.
        let status = self.inner.pool.status();
        f.debug_struct("PostgresLeaseStore")
            .field("table_prefix", &self.inner.options.table_prefix)
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .field("pool_available", &status.available)
            .finish_non_exhaustive()
    }
}

/// The statements of one table prefix. Every one reads the database clock as
/// `clock_timestamp()` shifted by `$1` microseconds (0 outside tests).
struct Sql {
    create: String,
    renew: String,
    check: String,
    release: String,
    purge: String,
}

const NOW: &str = "clock_timestamp() + $1::int8 * interval '1 microsecond'";

impl Sql {
    fn new(p: &str) -> Self {
        Self {
            // Runs after the viewer's advisory lock is held, so its snapshot sees every
            // lease committed before; one statement counts, replays, and inserts.
            create: format!(
                "WITH t AS MATERIALIZED (SELECT {NOW} AS now),
                 active AS (
                     SELECT count(*) AS n FROM {p}leases l, t
                     WHERE l.viewer = $2 AND l.expires_at > t.now),
                 idem AS (
                     SELECT l.id, l.content, l.created_at, l.expires_at, l.renewals
                     FROM {p}leases l, t
                     WHERE $3::text IS NOT NULL AND l.viewer = $2
                       AND l.idempotency_key = $3 AND l.expires_at > t.now
                     ORDER BY l.expires_at DESC LIMIT 1),
                 ins AS (
                     INSERT INTO {p}leases
                         (id, viewer, content, idempotency_key, created_at, expires_at, renewals)
                     SELECT $4, $2, $5, $3, t.now, t.now + $6::int8 * interval '1 microsecond', 0
                     FROM t, active
                     WHERE active.n < $7::int8 AND NOT EXISTS (SELECT 1 FROM idem)
                     RETURNING id, created_at, expires_at)
                 SELECT active.n, idem.id, idem.content, idem.created_at, idem.expires_at,
                        idem.renewals, ins.id, ins.created_at, ins.expires_at
                 FROM active LEFT JOIN idem ON true LEFT JOIN ins ON true"
            ),
            // Takes the viewer's advisory lock (as `create` does) before reading the
            // clock, so a renew and a create of one viewer never overlap: a renew that read
            // the clock before expiry commits before any create that counts this viewer's
            // leases can start, and one that reads it after finds the lease expired.
            // Without it, a renew delayed on the row lock revived a lease that a create
            // had already counted as expired (two usable leases for a limit of one).
            renew: format!(
                "WITH lock AS MATERIALIZED (
                     SELECT pg_advisory_xact_lock(hashtext($5), hashtext($3))),
                 t AS MATERIALIZED (SELECT {NOW} AS now FROM lock),
                 upd AS (
                     UPDATE {p}leases l
                     SET expires_at = greatest(l.expires_at,
                                               t.now + $4::int8 * interval '1 microsecond'),
                         renewals = l.renewals + 1
                     FROM t
                     WHERE l.id = $2 AND l.viewer = $3 AND l.expires_at > t.now
                     RETURNING l.content, l.created_at, l.expires_at, l.renewals),
                 old AS (
                     SELECT l.expires_at <= t.now AS expired FROM {p}leases l, t
                     WHERE l.id = $2 AND l.viewer = $3)
                 SELECT upd.content, upd.created_at, upd.expires_at, upd.renewals, old.expired
                 FROM t LEFT JOIN upd ON true LEFT JOIN old ON true"
            ),
            check: format!(
                "SELECT l.content, l.created_at, l.expires_at, l.renewals,
                        l.expires_at <= {NOW} AS expired
                 FROM {p}leases l WHERE l.id = $2 AND l.viewer = $3"
            ),
            release: format!("DELETE FROM {p}leases WHERE id = $1 AND viewer = $2"),
            purge: format!(
                "DELETE FROM {p}leases WHERE id IN (
                     SELECT id FROM {p}leases WHERE expires_at <= {NOW}
                     LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
        }
    }
}

impl PostgresLeaseStore {
    /// Connects to the database named by `url` (`postgres://user:password@host:port/db`,
    /// with optional `?sslmode=...`) with default [`PostgresOptions`], and runs the
    /// migrations.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] if the database cannot be reached within the
    /// timeouts, [`LeaseError::Backend`] for a bad URL or a failed migration.
    pub async fn connect(url: &str) -> Result<Self, LeaseError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Like [`connect`](Self::connect), with `options`.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); [`LeaseError::InvalidRequest`] for invalid options.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, LeaseError> {
        options.validate()?;
        let (pg_config, tls_settings) =
            config::parse(url, options.connect_timeout).map_err(LeaseError::backend)?;
        let manager = tls::manager(
            pg_config,
            &tls_settings,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        )
        .map_err(LeaseError::backend)?;
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| LeaseError::backend(ConfigError::Pool(e.to_string())))?;
        Self::from_pool(pool, options).await
    }

    /// A store over an existing pool. Runs the migrations unless
    /// [`PostgresOptions::run_migrations`] is off. The pool should have a runtime and
    /// wait/create timeouts set, or an unreachable database makes calls wait.
    ///
    /// # Errors
    /// [`LeaseError::InvalidRequest`] for invalid options; migration failures as in
    /// [`connect`](Self::connect).
    pub async fn from_pool(pool: Pool, options: PostgresOptions) -> Result<Self, LeaseError> {
        options.validate()?;
        let prefix = options.table_prefix.clone();
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                lock_name: format!("blindcast_lease:{prefix}"),
                sql: Sql::new(&prefix),
                options,
            }),
        };
        if store.inner.options.run_migrations {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Applies the schema migrations this version knows and the database lacks; returns
    /// how many it applied. Safe to run from many processes at once.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] or [`LeaseError::Backend`].
    pub async fn migrate(&self) -> Result<usize, LeaseError> {
        self.retrying(|| async {
            let mut client = self.inner.pool.get().await?;
            migrations::run(&mut client, &self.inner.options.table_prefix).await
        })
        .await
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The options the store was built with.
    pub fn options(&self) -> &PostgresOptions {
        &self.inner.options
    }

    fn offset(&self) -> i64 {
        self.inner.options.offset_micros()
    }

    /// Runs `op` again after a serialization failure or deadlock, with bounded backoff.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, LeaseError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = self.inner.options.retry;
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
    async fn query<C>(
        &self,
        client: &C,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, tokio_postgres::Error>
    where
        C: Conn,
    {
        if self.inner.options.prepared_statements {
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
        let key = request.idempotency_key.as_ref().map(|k| k.as_str());
        let mut client = self.inner.pool.get().await?;
        let tx = client.transaction().await?;
        // Serializes creates of this viewer (and only this viewer, up to hash collisions)
        // until commit. Transaction-scoped, so safe behind PgBouncer and RDS Proxy.
        self.query(
            &tx,
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
            &[(&self.inner.lock_name, Type::TEXT), (&viewer, Type::TEXT)],
        )
        .await?;
        let rows = self
            .query(
                &tx,
                &self.inner.sql.create,
                &[
                    (&self.offset(), Type::INT8),
                    (&viewer, Type::TEXT),
                    (&key, Type::TEXT),
                    (&id.as_str(), Type::TEXT),
                    (&request.content.as_str(), Type::TEXT),
                    (&micros(request.ttl), Type::INT8),
                    (&i64::from(request.max_active), Type::INT8),
                ],
            )
            .await?;
        tx.commit().await?;
        let row = rows
            .first()
            .ok_or_else(|| LeaseError::backend("create returned no row"))?;
        let active: i64 = row.try_get(0)?;
        if let Some(idem_id) = row.try_get::<_, Option<String>>(1)? {
            let content: String = row.try_get(2)?;
            if content != request.content.as_str() {
                return Err(LeaseError::IdempotencyConflict.into());
            }
            return Ok(Lease {
                id: parse_id(&idem_id)?,
                viewer: request.viewer.clone(),
                content: request.content.clone(),
                created_at: row.try_get(3)?,
                expires_at: row.try_get(4)?,
                renewals: renewals(row.try_get(5)?)?,
            });
        }
        if row.try_get::<_, Option<String>>(6)?.is_some() {
            return Ok(Lease {
                id: id.clone(),
                viewer: request.viewer.clone(),
                content: request.content.clone(),
                created_at: row.try_get(7)?,
                expires_at: row.try_get(8)?,
                renewals: 0,
            });
        }
        Err(LeaseError::LimitReached {
            active: u32::try_from(active).unwrap_or(u32::MAX),
            max: request.max_active,
        }
        .into())
    }

    async fn renew_once(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        ttl: Duration,
    ) -> Result<Lease, Failure> {
        let client = self.inner.pool.get().await?;
        let rows = self
            .query(
                &client,
                &self.inner.sql.renew,
                &[
                    (&self.offset(), Type::INT8),
                    (&lease_id.as_str(), Type::TEXT),
                    (&viewer.as_str(), Type::TEXT),
                    (&micros(ttl), Type::INT8),
                    (&self.inner.lock_name, Type::TEXT),
                ],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| LeaseError::backend("renew returned no row"))?;
        match row.try_get::<_, Option<String>>(0)? {
            Some(content) => Ok(Lease {
                id: lease_id.clone(),
                viewer: viewer.clone(),
                content: parse_content(content)?,
                created_at: row.try_get(1)?,
                expires_at: row.try_get(2)?,
                renewals: renewals(row.try_get(3)?)?,
            }),
            // Not updated: expired, or gone (never existed, released, another viewer's).
            None => match row.try_get::<_, Option<bool>>(4)? {
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
    ) -> Result<Lease, Failure> {
        let client = self.inner.pool.get().await?;
        let rows = self
            .query(
                &client,
                &self.inner.sql.check,
                &[
                    (&self.offset(), Type::INT8),
                    (&lease_id.as_str(), Type::TEXT),
                    (&viewer.as_str(), Type::TEXT),
                ],
            )
            .await?;
        let row = rows.first().ok_or(LeaseError::NotFound)?;
        if row.try_get::<_, bool>(4)? {
            return Err(LeaseError::Expired.into());
        }
        let stored: String = row.try_get(0)?;
        if stored != content.as_str() {
            return Err(LeaseError::WrongContent.into());
        }
        Ok(Lease {
            id: lease_id.clone(),
            viewer: viewer.clone(),
            content: content.clone(),
            created_at: row.try_get(1)?,
            expires_at: row.try_get(2)?,
            renewals: renewals(row.try_get(3)?)?,
        })
    }
}

/// A pooled client or a transaction: what [`PostgresLeaseStore::query`] runs on.
trait Conn: deadpool_postgres::GenericClient + Sync {
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
        self.retrying(|| self.renew_once(lease_id, viewer, ttl))
            .await
    }

    async fn check(
        &self,
        lease_id: &LeaseId,
        viewer: &ViewerId,
        content: &ContentId,
    ) -> Result<Lease, LeaseError> {
        self.retrying(|| self.check_once(lease_id, viewer, content))
            .await
    }

    async fn release(&self, lease_id: &LeaseId, viewer: &ViewerId) -> Result<(), LeaseError> {
        self.retrying(|| async {
            let client = self.inner.pool.get().await?;
            self.query(
                &client,
                &self.inner.sql.release,
                &[
                    (&lease_id.as_str(), Type::TEXT),
                    (&viewer.as_str(), Type::TEXT),
                ],
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self) -> Result<u64, LeaseError> {
        let mut purged = 0u64;
        loop {
            // One short statement per batch, so purging never holds many row locks long.
            let deleted = self
                .retrying(|| async {
                    let client = self.inner.pool.get().await?;
                    let statement = &self.inner.sql.purge;
                    let params: [(&(dyn ToSql + Sync), Type); 2] =
                        [(&self.offset(), Type::INT8), (&PURGE_BATCH, Type::INT8)];
                    let rows = self.purge_batch(&client, statement, &params).await?;
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
}

impl PostgresLeaseStore {
    async fn purge_batch(
        &self,
        client: &deadpool_postgres::Client,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, Failure> {
        let rows = if self.inner.options.prepared_statements {
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
