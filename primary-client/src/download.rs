//! Image downloads that survive interruptions (Standard 5.4.2.4, 5.4.3.3).
//!
//! An image streams through every listed hash into a partial file named after its sha256, so
//! memory does not grow with the image. If the transfer breaks off, the partial file stays;
//! the next attempt re-hashes what it holds and asks the server for the rest with a `Range`
//! request, starting over if the server sends the whole image instead. Only an image whose
//! length and every hash match is renamed into place; a complete but wrong one is deleted.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use uptane::crypto::MultiHasher;
use uptane::metadata::TargetFile;
use uptane::{Error, Result};

use crate::http::{HttpClient, file_matches};

/// Where the image described by `file` is kept under `dir`: named by its sha256 (or first
/// listed) hash, so two images never share a file and a name says what it must contain.
pub fn image_file(dir: &Path, file: &TargetFile) -> Result<PathBuf> {
    let hash = file.hashes.get("sha256").or_else(|| file.hashes.values().next());
    match hash {
        Some(hash) if !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(dir.join(hash))
        }
        _ => Err(Error::NoUsableHash { target: dir.display().to_string(), required: "sha256" }),
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io { what: path.display().to_string(), source }
}

/// Hashes and counts what passes through on its way to the partial file.
struct Tee<'a, W> {
    inner: W,
    hasher: &'a mut MultiHasher,
    progress: &'a mut dyn FnMut(u64),
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        (self.progress)(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Downloads image `path` (described by `file`) from `url` into `dir`, resuming a partial
/// download left there, and returns the verified file. `progress` gets byte increments.
pub fn download_image(
    client: &HttpClient,
    url: &str,
    path: &str,
    file: &TargetFile,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let dest = image_file(dir, file)?;
    if file_matches(&dest, file) {
        progress(file.length);
        return Ok(dest);
    }
    let partial = dest.with_extension("part");
    let mut offset = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    if offset >= file.length {
        // Too long to be a prefix of this image (or complete but never verified): refetch.
        offset = 0;
    }
    let response = client.get_from(url, offset, path)?;
    let mut hasher = MultiHasher::new(&file.hashes);
    let mut out = if response.resumed() {
        tracing::info!(path, offset, "resuming an interrupted download");
        hash_prefix(&partial, &mut hasher)?;
        progress(offset);
        OpenOptions::new().append(true).open(&partial).map_err(io_error(&partial))?
    } else {
        offset = 0;
        File::create(&partial).map_err(io_error(&partial))?
    };
    let mut tee =
        Tee { inner: BufWriter::with_capacity(64 * 1024, &mut out), hasher: &mut hasher, progress };
    let copied = response.copy_to(file.length - offset, &mut tee);
    // Keep what arrived, even on failure: it is the prefix the next attempt resumes from.
    let flushed = tee.flush().map_err(io_error(&partial));
    drop(tee);
    copied?;
    flushed?;
    if hasher.length() != file.length {
        return Err(Error::ImageLength {
            target: path.into(),
            expected: file.length,
            found: hasher.length(),
        });
    }
    if let Some(algorithm) = hasher.mismatch() {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::ImageHash { target: path.into(), algorithm });
    }
    out.sync_all().map_err(io_error(&partial))?;
    std::fs::rename(&partial, &dest).map_err(io_error(&dest))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir))?;
    Ok(dest)
}

/// Feeds the bytes already in `partial` to `hasher`.
fn hash_prefix(partial: &Path, hasher: &mut MultiHasher) -> Result<()> {
    let mut reader = File::open(partial).map_err(io_error(partial))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(partial)(e)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::http::HttpConfig;

    /// Serves `body` whole (status 200) to every request, ignoring any `Range`, and returns
    /// the URL and the requests' headers as they arrive.
    fn serve_whole(body: Vec<u8>) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/image", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (url, rx)
    }

    #[test]
    fn a_server_that_ignores_the_range_is_read_from_the_start() {
        let image = b"0123456789abcdefghij".repeat(100);
        let file = TargetFile::describing(&image);
        let (url, requests) = serve_whole(image.clone());
        let dir = tempfile::tempdir().unwrap();
        let part = image_file(dir.path(), &file).unwrap().with_extension("part");
        std::fs::write(&part, b"garbage prefix").unwrap();
        let client = HttpClient::new(&HttpConfig::default()).unwrap();
        let mut seen = 0;
        let dest =
            download_image(&client, &url, "x.bin", &file, dir.path(), &mut |n| seen += n).unwrap();
        assert!(requests.recv().unwrap().to_lowercase().contains("range: bytes=14-"));
        assert_eq!(std::fs::read(&dest).unwrap(), image);
        assert_eq!(seen, image.len() as u64);
        assert!(!part.exists());
        // Already there and verified: nothing is fetched again.
        download_image(&client, &url, "x.bin", &file, dir.path(), &mut |_| {}).unwrap();
        assert!(requests.try_recv().is_err());
    }

    #[test]
    fn an_image_longer_than_listed_is_endless_data() {
        let image = vec![7u8; 1000];
        let mut file = TargetFile::describing(&image);
        file.length = 999;
        let (url, _requests) = serve_whole(image);
        let dir = tempfile::tempdir().unwrap();
        let client = HttpClient::new(&HttpConfig::default()).unwrap();
        let err =
            download_image(&client, &url, "x.bin", &file, dir.path(), &mut |_| {}).unwrap_err();
        assert_eq!(err.attack(), Some(uptane::Attack::EndlessData), "{err}");
        assert!(!image_file(dir.path(), &file).unwrap().exists());
    }
}
