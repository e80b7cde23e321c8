//! File writing with the guarantees a signing tool owes its users: private keys are never
//! readable by others, not even for an instant, and no failed command leaves a half-written
//! file where a good one was.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Creates `path` with mode 0600 from the start (never world-readable, even briefly) and
/// refuses to replace an existing file.
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(
        |e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                Error::State(format!("{} exists; refusing to overwrite a key", path.display()))
            }
            _ => Error::io(path, e),
        },
    )?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io(path, e))
}

/// Replaces `path` atomically (temporary file, fsync, rename); it is private to the user.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = ensure_parent(path)?;
    // The temporary file goes beside `path`, which needs a directory even for a bare name.
    let path = dir.join(path.file_name().unwrap_or(path.as_os_str()));
    Ok(uptane::repository::write_atomically(&path, bytes)?)
}

/// Replaces `path` atomically and makes it world-readable: published repository files are
/// public, and static web servers may run as another user.
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, bytes)?;
    std::fs::set_permissions(path, Permissions::from_mode(0o644)).map_err(|e| Error::io(path, e))
}

/// Streams `source` into a new file at `dest` (atomically, world-readable), calling
/// `inspect` on every chunk; images may be far larger than memory.
pub fn copy_atomically(source: &Path, dest: &Path, mut inspect: impl FnMut(&[u8])) -> Result<u64> {
    let dir = ensure_parent(dest)?;
    let mut input = File::open(source).map_err(|e| Error::io(source, e))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    let mut buf = vec![0; 1 << 16];
    let mut total = 0;
    loop {
        let n = input.read(&mut buf).map_err(|e| Error::io(source, e))?;
        if n == 0 {
            break;
        }
        inspect(&buf[..n]);
        temp.write_all(&buf[..n]).map_err(|e| Error::io(dest, e))?;
        total += n as u64;
    }
    temp.as_file()
        .set_permissions(Permissions::from_mode(0o644))
        .map_err(|e| Error::io(dest, e))?;
    temp.as_file().sync_all().map_err(|e| Error::io(dest, e))?;
    temp.persist(dest).map_err(|e| Error::io(dest, e.error))?;
    Ok(total)
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Reads a file that may be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn ensure_parent(path: &Path) -> Result<&Path> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        create_private(&path, b"secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(create_private(&path, b"other").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
    }

    #[test]
    fn copies_stream_and_publish_readable_files() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("in");
        std::fs::write(&source, b"image bytes").unwrap();
        let dest = dir.path().join("out/deeper/copy");
        let mut seen = Vec::new();
        let n = copy_atomically(&source, &dest, |chunk| seen.extend_from_slice(chunk)).unwrap();
        assert_eq!((n, seen.as_slice()), (11, &b"image bytes"[..]));
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
}
