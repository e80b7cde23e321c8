//! The connection pool over SQLite or PostgreSQL (one diesel `MultiConnection`, the backend
//! chosen by the URL's scheme, SQLite pragmas on every connection), running the service's own
//! embedded migrations on open.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, PooledConnection};
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
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(AnyConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let url = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn =
                    SqliteConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
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
            .connection_timeout(std::time::Duration::from_secs(10))
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

    pub fn get(&self) -> Result<Conn> {
        self.pool.get().map_err(|e| Error::Pool(e.to_string()))
    }
}
