//! What the Primary's integration tests share: a loopback HTTP server over a directory, and
//! signing with the core library.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own part

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use uptane::crypto::PrivateKey;
use uptane::metadata::{Metadata, SignedMetadata};

/// Serves `root` over HTTP/1.0 without Content-Length (so limits are enforced while reading)
/// and records request paths. A file `X.endless` makes `X` an endless stream of its content.
pub struct Server {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, log) = (root.to_path_buf(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, log) = (root.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &root, &log));
            }
        });
        Server { url, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    let path = line.split(' ').nth(1).unwrap_or("/").trim_start_matches('/').to_string();
    log.lock().unwrap().push(path.clone());
    let file = root.join(&path);
    if path.contains("..") {
        let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    } else if let Ok(bytes) = std::fs::read(&file) {
        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        let _ = stream.write_all(&bytes);
    } else if let Ok(bytes) = std::fs::read(format!("{}.endless", file.display())) {
        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
        while stream.write_all(&bytes).is_ok() {}
    } else {
        let _ = stream.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
    }
}

/// `meta` signed by `key`, as served.
pub fn sign<M: Metadata>(meta: M, key: &PrivateKey) -> Vec<u8> {
    let mut signed = SignedMetadata::new(meta);
    signed.sign(key).unwrap();
    signed.to_bytes().unwrap()
}
