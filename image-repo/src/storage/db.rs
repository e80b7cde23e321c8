//! The connection pool over SQLite or PostgreSQL (one diesel `MultiConnection`), the embedded
//! migrations, and every query the service makes.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::records::{MetadataRow, TargetRow, UploadRow};
use super::schema::{metadata_versions, targets, tokens, uploads};
use crate::error::{Error, Rejection, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

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
struct Manager {
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

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
}

type Conn = PooledConnection<Manager>;

impl Db {
    /// Connects and runs pending migrations.
    pub fn open(url: &str) -> Result<Db> {
        let backend = Backend::of(url);
        let manager = Manager { url: url.to_owned(), backend };
        let size = if backend == Backend::Sqlite { 4 } else { 8 };
        let pool = Pool::builder()
            .max_size(size)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)
            .map_err(|e| Error::Pool(e.to_string()))?;
        let db = Db { pool, backend };
        db.conn()?
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| Error::Pool(format!("migrations: {e}")))?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn conn(&self) -> Result<Conn> {
        self.pool.get().map_err(|e| Error::Pool(e.to_string()))
    }

    /// Every published metadata version, for rebuilding the served state at start.
    pub fn all_metadata(&self) -> Result<Vec<MetadataRow>> {
        Ok(metadata_versions::table
            .order((metadata_versions::role, metadata_versions::version))
            .load::<MetadataRow>(&mut self.conn()?)?)
    }

    pub fn upload(&self, sha256: &str) -> Result<Option<UploadRow>> {
        Ok(uploads::table.find(sha256).first::<UploadRow>(&mut self.conn()?).optional()?)
    }

    /// Records an uploaded blob; a blob already recorded (or recorded meanwhile) is fine.
    pub fn record_upload(&self, row: &UploadRow) -> Result<()> {
        match diesel::insert_into(uploads::table).values(row).execute(&mut self.conn()?) {
            Ok(_) => Ok(()),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The sha256 of every accepted upload token.
    pub fn token_hashes(&self) -> Result<Vec<String>> {
        Ok(tokens::table.select(tokens::token_sha256).load::<String>(&mut self.conn()?)?)
    }

    pub fn add_token(&self, token_sha256: &str, name: &str) -> Result<()> {
        let now = crate::now_text();
        let result = diesel::insert_into(tokens::table)
            .values((
                tokens::token_sha256.eq(token_sha256),
                tokens::name.eq(name),
                tokens::created_at.eq(now),
            ))
            .execute(&mut self.conn()?);
        match result {
            Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes one publish in a single transaction: new metadata versions (a version already
    /// present is a 409 conflict through the (role, version) key) and, if a Targets role changed,
    /// its rows of the target index. Nothing is visible unless everything is.
    pub fn commit_publish(
        &self,
        metadata: &[MetadataRow],
        index: Option<(&str, &[TargetRow])>,
        fail_before_commit: bool,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        conn.transaction::<(), Error, _>(|conn| {
            for row in metadata {
                let result =
                    diesel::insert_into(metadata_versions::table).values(row).execute(conn);
                match result {
                    Ok(_) => {}
                    Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                        return Err(Rejection::conflict(format!(
                            "{} version {} was published concurrently",
                            row.role, row.version
                        ))
                        .into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some((role, rows)) = index {
                diesel::delete(targets::table.filter(targets::role.eq(role))).execute(conn)?;
                for row in rows {
                    diesel::insert_into(targets::table).values(row).execute(conn)?;
                }
            }
            if fail_before_commit {
                return Err(Error::Internal("injected failure before commit".into()));
            }
            Ok(())
        })
    }
}
