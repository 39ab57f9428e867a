//! Databases for tests: a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! on the local server (127.0.0.1:5432, user postgres, trust auth), dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use feedsmith::store::postgres::PgStore;
use feedsmith::store::sqlite::SqliteStore;
use feedsmith::store::Store;

/// Where the PostgreSQL tests find a server: an admin URL (a superuser on a maintenance
/// database) that may create and drop databases. `.ci/run` sets it; without it the PostgreSQL
/// tests report that they skip, so `cargo test` passes on a machine without PostgreSQL.
pub const PG_URL_VAR: &str = "FEEDSMITH_TEST_POSTGRES_URL";

/// The admin URL from [`PG_URL_VAR`], or `None` after printing why the caller skips. With
/// `FEEDSMITH_REQUIRE_POSTGRES=1` (set by `.ci/run`) a missing variable is a failure instead,
/// so CI can never pass by skipping the PostgreSQL suite.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("FEEDSMITH_REQUIRE_POSTGRES").is_some_and(|v| v == "1") {
                panic!("FEEDSMITH_REQUIRE_POSTGRES=1 but {PG_URL_VAR} is not set");
            }
            eprintln!(
                "skipping: PostgreSQL test; set {PG_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run it"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).unwrap_or_else(|e| panic!("{PG_URL_VAR}={url}: {e}"));
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// A fresh PostgreSQL database, dropped (with its connections) when this value is dropped.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
    admin: String,
}

impl PgDatabase {
    /// A fresh database, or `None` (the test skips) when no server is configured.
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = pg_admin_url()?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "feedsmith_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros()
        );
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("{PG_URL_VAR}={admin_url} is set but PostgreSQL does not answer: {e}")
        });
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        Some(PgDatabase {
            url: with_database(&admin_url, &name),
            name,
            admin: admin_url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = self.admin.clone();
        // Drop runs outside async context; use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&admin)
                            .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// What keeps a test store's database alive: held, never read; dropping it removes the SQLite
/// directory or drops the PostgreSQL database.
pub enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] PgDatabase),
}

/// A migrated store of either backend, with what the suite needs to reach behind it.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub sqlite: Option<Arc<SqliteStore>>,
    pub pg: Option<Arc<PgStore>>,
    pub url: String,
    _guard: Guard,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Arc::new(SqliteStore::open(&url, 4).await.unwrap());
    store.migrate().await.unwrap();
    TestStore {
        store: store.clone(),
        sqlite: Some(store),
        pg: None,
        url,
        _guard: Guard::Sqlite(dir),
    }
}

/// A migrated PostgreSQL store, or `None` (the test skips) when no server is configured.
pub async fn postgres() -> Option<TestStore> {
    let db = PgDatabase::create().await?;
    let store = Arc::new(PgStore::open(&db.url, 8).await.unwrap());
    store.migrate().await.unwrap();
    Some(TestStore {
        store: store.clone(),
        sqlite: None,
        pg: Some(store),
        url: db.url.clone(),
        _guard: Guard::Postgres(db),
    })
}

impl TestStore {
    /// Make the next insert of a post titled `boom` fail inside the database.
    pub async fn fail_inserts_titled_boom(&self) {
        if let Some(s) = &self.sqlite {
            sqlx::query("CREATE TRIGGER boom BEFORE INSERT ON posts WHEN NEW.title = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
                .execute(s.pool())
                .await
                .unwrap();
        }
        if let Some(p) = &self.pg {
            sqlx::query("CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.title = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
                .execute(p.pool())
                .await
                .unwrap();
            sqlx::query(
                "CREATE TRIGGER boom BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION boom()",
            )
            .execute(p.pool())
            .await
            .unwrap();
        }
    }
}
