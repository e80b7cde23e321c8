//! The connection pool after PostgreSQL kills its connections (a database restart, a failover,
//! an operator's `pg_terminate_backend`): dead connections are evicted, never handed out again
//! and again, and after a quiet spell a request does not even see one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use service_kit::db::{IDLE_CHECK, Pool};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("tests/pool_migrations");

/// A fresh database, and the application name its pool's connections carry.
struct Database {
    admin: PgConnection,
    name: String,
}

impl Database {
    fn create(admin_url: &str) -> (Database, String) {
        let mut raw = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw).unwrap();
        let name = format!("pool_{}", u64::from_le_bytes(raw));
        let mut admin = PgConnection::establish(admin_url).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        let url = format!("{base}/{name}?application_name={name}");
        (Database { admin, name }, url)
    }

    /// Kills every connection of the pool, as a database restart does.
    fn kill_connections(&mut self) {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{}'",
            self.name
        ))
        .execute(&mut self.admin)
        .unwrap();
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn query(pool: &Pool) -> bool {
    pool.get().and_then(|mut conn| Ok(conn.batch_execute("SELECT count(*) FROM probes")?)).is_ok()
}

#[test]
fn connections_killed_by_the_database_are_replaced() {
    let Some(admin) = std::env::var("UPTANE_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
    else {
        eprintln!("note: UPTANE_TEST_DATABASE_URL is unset; skipping");
        return;
    };
    let (mut database, url) = Database::create(&admin);
    let pool = Pool::open(&url, MIGRATIONS).unwrap();
    assert!(query(&pool));

    // Just used, so handed out untested: each dead connection fails one request and is then
    // dropped, never returned to the pool.
    database.kill_connections();
    let failures = (0..=8).take_while(|_| !query(&pool)).count();
    assert!(failures <= 8, "dead connections kept coming back");
    assert!((0..20).all(|_| query(&pool)), "the pool did not recover");

    // Idle ones are tested at checkout: the next requests see no failure at all.
    database.kill_connections();
    std::thread::sleep(IDLE_CHECK + std::time::Duration::from_millis(200));
    assert!((0..20).all(|_| query(&pool)), "an idle dead connection was handed out");
}
