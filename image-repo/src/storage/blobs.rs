//! Content-addressed image blobs under DATA/blobs: `blobs/ab/abcdef...` named by sha256.
//! Uploads stream into a temporary file (hashed on the way), are fsynced, then renamed.

use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use ring::digest::{Context, SHA256, SHA512};
use tokio::io::AsyncWriteExt;
use uptane::metadata::Hashes;

use crate::error::{Error, Rejection, Rejections as _, Result};

/// What an upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    pub length: u64,
    pub hashes: Hashes,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

/// Whether `text` is a lowercase hex sha256.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl BlobStore {
    pub fn open(dir: PathBuf) -> Result<BlobStore> {
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| Error::io(dir.display(), e))?;
        Ok(BlobStore { dir })
    }

    /// Where the blob with this sha256 lives (the caller validated the hex).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// Streams `body` to disk, at most `limit` bytes; keeps it only if its sha256 is
    /// `expected`. A failure leaves nothing behind.
    pub async fn receive<S, E>(&self, expected: &str, limit: u64, mut body: S) -> Result<BlobInfo>
    where
        S: Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if !is_sha256_hex(expected) {
            return Err(Rejection::bad_request(
                "bad_path",
                "the URL must end in a lowercase hex sha256",
            )
            .into());
        }
        let tmp = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(self.dir.join("tmp"))
            .map_err(|e| Error::io("blob temp file", e))?;
        let (std_file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let (mut sha256, mut sha512) = (Context::new(&SHA256), Context::new(&SHA512));
        let mut length = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Rejection::bad_request("bad_upload", e))?;
            length += chunk.len() as u64;
            if length > limit {
                return Err(Rejection::too_large("blob", limit).into());
            }
            sha256.update(&chunk);
            sha512.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| Error::io("blob write", e))?;
        }
        let sha256 = hex::encode(sha256.finish());
        if sha256 != expected {
            return Err(Rejection::bad_request(
                "hash_mismatch",
                format!("the body's sha256 is {sha256}, the URL says {expected}"),
            )
            .into());
        }
        file.sync_all().await.map_err(|e| Error::io("blob fsync", e))?;
        drop(file);
        let target = self.path(&sha256);
        let parent = target.parent().unwrap_or(&self.dir).to_path_buf();
        let hashes = Hashes::from([
            ("sha256".to_string(), sha256.clone()),
            ("sha512".to_string(), hex::encode(sha512.finish())),
        ]);
        tokio::task::spawn_blocking(move || -> Result<()> {
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(parent.display(), e))?;
            tmp_path.persist(&target).map_err(|e| Error::io(target.display(), e.error))?;
            sync_dir(&parent)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
        Ok(BlobInfo { sha256, length, hashes })
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir.display(), e))
}
