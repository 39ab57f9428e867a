//! Databases for tests: a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! on the local server (127.0.0.1:5432, user postgres, trust auth), dropped afterwards.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use feedsmith::store::postgres::PgStore;
use feedsmith::store::sqlite::SqliteStore;
use feedsmith::store::Store;

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh PostgreSQL database, dropped (with its connections) when this value is dropped.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "feedsmith_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros()
        );
        let admin = sqlx::PgPool::connect(PG_ADMIN_URL).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must run on 127.0.0.1:5432 (user postgres, trust auth) for these tests: {e}")
        });
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        PgDatabase {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context; use a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(PG_ADMIN_URL).await {
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

pub enum Guard {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
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

pub async fn postgres() -> TestStore {
    let db = PgDatabase::create().await;
    let store = Arc::new(PgStore::open(&db.url, 8).await.unwrap());
    store.migrate().await.unwrap();
    TestStore {
        store: store.clone(),
        sqlite: None,
        pg: Some(store),
        url: db.url.clone(),
        _guard: Guard::Postgres(db),
    }
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
