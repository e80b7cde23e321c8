//! The connection pool over SQLite or PostgreSQL (one diesel `MultiConnection`, the backend
//! chosen by the URL's scheme, SQLite pragmas on every connection), running the service's own
//! embedded migrations on open.
//!
//! Connections are not tested with a query on every checkout (that would double the round
//! trips of a short request): each one watches its own queries ([`Health`]), is tested after
//! one of them failed, before it goes back to the pool, and when it is handed out after idling
//! for [`IDLE_CHECK`]. A connection a database restart killed is so still evicted, and a
//! request after a quiet spell never gets one.

use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AnyConnection::Postgresql(_) => "AnyConnection::Postgresql",
            AnyConnection::Sqlite(_) => "AnyConnection::Sqlite",
        })
    }
}

/// Which database a URL names: `postgres://` or `postgresql://` is PostgreSQL, anything else a
/// SQLite file (SQLite accepts any string, so the scheme decides, never a fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// Opens connections for the pool, with the SQLite pragmas on every connection.
#[derive(Debug)]
pub struct Manager {
    url: String,
    backend: Backend,
}

const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        let mut conn = match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(AnyConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError)?,
            Backend::Sqlite => {
                let url = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn =
                    SqliteConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                AnyConnection::Sqlite(conn)
            }
        };
        conn.set_instrumentation(Health::new());
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    /// Broken: a transaction left open or failed to roll back, a failed check at checkout, or
    /// a failed query after which the connection no longer answers.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        if std::thread::panicking() || R2D2Connection::is_broken(conn) {
            return true;
        }
        let Some(health) = Health::of(conn) else { return true };
        if health.dead {
            return true;
        }
        std::mem::take(&mut health.failed) && self.is_valid(conn).is_err()
    }
}

/// How long a pooled connection may sit unused before it is tested at checkout.
pub const IDLE_CHECK: Duration = Duration::from_secs(2);

/// What a connection's own queries tell of it (diesel instrumentation, one per connection).
#[derive(Debug)]
struct Health {
    /// A query failed since the connection was last returned to the pool.
    failed: bool,
    /// The test at checkout failed: the pool must drop it.
    dead: bool,
    last_used: Instant,
}

impl Health {
    fn new() -> Health {
        Health { failed: false, dead: false, last_used: Instant::now() }
    }

    fn of(conn: &mut AnyConnection) -> Option<&mut Health> {
        conn.instrumentation().downcast_mut::<Health>()
    }
}

impl Instrumentation for Health {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error, .. } = event {
            self.failed |= error.is_some();
            self.last_used = Instant::now();
        }
    }
}

/// A pooled connection.
pub type Conn = PooledConnection<Manager>;

/// The connection pool.
#[derive(Debug, Clone)]
pub struct Pool {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Pool {
    /// Connects and runs the pending ones of `migrations`.
    pub fn open(url: &str, migrations: EmbeddedMigrations) -> Result<Pool> {
        let backend = Backend::of(url);
        let manager = Manager { url: url.to_owned(), backend };
        let size = if backend == Backend::Sqlite { 4 } else { 8 };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| Error::Pool(e.to_string()))?;
        let pool = Pool { pool, backend };
        pool.get()?
            .run_pending_migrations(migrations)
            .map_err(|e| Error::Pool(format!("migrations: {e}")))?;
        Ok(pool)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection; one that idled for [`IDLE_CHECK`] is tested first, and replaced (each
    /// pooled one at most once) when it no longer answers.
    pub fn get(&self) -> Result<Conn> {
        for _ in 0..=self.pool.max_size() {
            let mut conn = self.pool.get().map_err(|e| Error::Pool(e.to_string()))?;
            let Some(health) = Health::of(&mut conn) else { return Ok(conn) };
            if health.last_used.elapsed() < IDLE_CHECK {
                return Ok(conn);
            }
            health.failed = false;
            match conn.batch_execute("SELECT 1") {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "dropping a dead database connection");
                    if let Some(health) = Health::of(&mut conn) {
                        health.dead = true;
                    }
                }
            }
        }
        Err(Error::Pool("no database connection answers".into()))
    }
}
