//! The service's embedded migrations and every query it makes, over the shared connection pool
//! ([`service_kit::db`]: SQLite or PostgreSQL through one diesel `MultiConnection`).

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
pub use service_kit::db::{AnyConnection, Backend};
use service_kit::db::{Conn, Pool};

use super::records::{MetadataRow, TargetRow, UploadRow};
use super::schema::{metadata_versions, targets, tokens, uploads};
use crate::error::{Error, Rejection, Rejections as _, Result};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    /// Connects and runs pending migrations.
    pub fn open(url: &str) -> Result<Db> {
        Ok(Db { pool: Pool::open(url, MIGRATIONS)? })
    }

    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    fn conn(&self) -> Result<Conn> {
        self.pool.get()
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
