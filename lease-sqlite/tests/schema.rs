//! Opening files: creation, reopening, migrations and the files this crate refuses.

use std::path::Path;
use std::time::Duration;

use blindcast_keys_core::ContentId;
use blindcast_keys_core::lease::{CreateLease, LeaseError, LeaseStore, ViewerId};
use blindcast_lease_sqlite::rusqlite::Connection;
use blindcast_lease_sqlite::{SCHEMA_VERSION, SqliteConfig, SqliteLeaseStore, SqliteStoreError};

fn request(v: &str, c: &str) -> CreateLease {
    CreateLease::new(
        ViewerId::new(v).expect("viewer"),
        ContentId::new(c).expect("content"),
        Duration::from_secs(600),
        2,
    )
}

fn pragma_i64(db: &Path, name: &str) -> i64 {
    let conn = Connection::open(db).expect("raw open");
    conn.pragma_query_value(None, name, |row| row.get(0))
        .expect("pragma")
}

async fn open_err(db: &Path) -> LeaseError {
    match SqliteLeaseStore::open(db).await {
        Ok(store) => panic!("opened {db:?}: {store:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn new_file_gets_current_schema_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = SqliteLeaseStore::open(&db).await.expect("opens");
    store.ping().await.expect("ping");
    assert_eq!(pragma_i64(&db, "user_version"), SCHEMA_VERSION);
    let conn = Connection::open(&db).expect("raw open");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let mut indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leases' AND sql IS NOT NULL ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "leases_expires",
            "leases_viewer_expires",
            "leases_viewer_idempotency"
        ]
    );
}

#[tokio::test]
async fn reopening_keeps_leases_and_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let store = SqliteLeaseStore::open(&db).await.expect("opens");
    let a = store.create(request("ann", "m1")).await.expect("create");
    let b = store.create(request("ann", "m2")).await.expect("create");
    drop(store);

    let store = SqliteLeaseStore::open(&db).await.expect("reopens");
    let viewer = ViewerId::new("ann").expect("viewer");
    let checked = store
        .check(&a.id, &viewer, &ContentId::new("m1").expect("content"))
        .await
        .expect("lease survives reopening");
    assert_eq!(checked, a);
    store
        .check(&b.id, &viewer, &ContentId::new("m2").expect("content"))
        .await
        .expect("lease survives reopening");
    assert!(matches!(
        store.create(request("ann", "m3")).await,
        Err(LeaseError::LimitReached { active: 2, max: 2 })
    ));
    assert_eq!(pragma_i64(&db, "user_version"), SCHEMA_VERSION);
}

#[tokio::test]
async fn newer_schema_version_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    drop(SqliteLeaseStore::open(&db).await.expect("opens"));
    Connection::open(&db)
        .expect("raw open")
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump user_version");

    let err = open_err(&db).await;
    assert!(matches!(err, LeaseError::Backend(_)), "{err:?}");
    match SqliteStoreError::from_lease_error(&err) {
        Some(SqliteStoreError::SchemaTooNew {
            path,
            found,
            supported,
        }) => {
            assert_eq!(path, &db);
            assert_eq!(*found, SCHEMA_VERSION + 1);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    let message = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(message.contains(&db.display().to_string()), "{message}");
    // Refusing did not touch the file.
    assert_eq!(pragma_i64(&db, "user_version"), SCHEMA_VERSION + 1);
}

#[tokio::test]
async fn negative_schema_version_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("other.db");
    Connection::open(&db)
        .expect("raw open")
        .pragma_update(None, "user_version", -3)
        .expect("set user_version");
    let err = open_err(&db).await;
    assert!(
        matches!(
            SqliteStoreError::from_lease_error(&err),
            Some(SqliteStoreError::UnknownSchema { found: -3, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_directory_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("no-such-dir").join("leases.db");
    let err = open_err(&db).await;
    match SqliteStoreError::from_lease_error(&err) {
        Some(e @ SqliteStoreError::MissingDirectory { path }) => {
            assert_eq!(path, &db);
            assert!(e.to_string().contains(&db.display().to_string()), "{e}");
        }
        other => panic!("expected MissingDirectory, got {other:?}"),
    }
    assert!(!db.exists());
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_backend_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("garbage.db");
    std::fs::write(&db, vec![0x5a_u8; 8192]).expect("write garbage");
    let err = open_err(&db).await;
    assert!(
        matches!(
            SqliteStoreError::from_lease_error(&err),
            Some(SqliteStoreError::Open { .. })
        ),
        "{err:?}"
    );
}

/// Each bad option is refused by name before the file is touched.
#[tokio::test]
async fn invalid_options_are_refused_by_name_before_opening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("leases.db");
    let cases = [
        (SqliteConfig::default().with_pool_size(0), "pool_size "),
        (
            SqliteConfig::default().with_busy_timeout(Duration::ZERO),
            "busy_timeout ",
        ),
        (
            SqliteConfig::default().with_busy_timeout(Duration::MAX),
            "busy_timeout ",
        ),
        (
            SqliteConfig::default().with_pool_timeout(Duration::MAX),
            "pool_timeout ",
        ),
    ];
    for (config, option) in cases {
        let err = SqliteLeaseStore::open_with(&db, config)
            .await
            .expect_err(option);
        assert!(
            matches!(err, LeaseError::InvalidRequest(m) if m.starts_with(option)),
            "{option}: {err:?}"
        );
    }
    assert!(
        !db.exists(),
        "a refused configuration must not create the file"
    );
}
