//! HTTP(S) transport for metadata and images, over ureq with rustls (ring provider).
//!
//! Every transfer is bounded before anything parses it: a byte limit enforced while reading
//! (one byte more is [`Error::TooLarge`], endless data) and a pace guard (a stall or a trickle
//! is [`Error::SlowRetrieval`]). There are no retries and no proxies: a verifier must see
//! exactly what the repository served, and a failed fetch fails the cycle.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use uptane::crypto::MultiHasher;
use uptane::metadata::TargetFile;
use uptane::repository::Fetch;
use uptane::{Error, Result};
use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// DESIGN: a transfer stalls when no byte arrives for 10 s, or when it averages under 1 KiB/s
/// over 10 s. Configurable so tests can use milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowRetrievalGuard {
    /// Longest wait for any single read (headers included).
    pub stall: Duration,
    /// The window the average rate is measured over.
    pub window: Duration,
    /// The lowest acceptable average rate over a window.
    pub min_bytes_per_sec: u64,
}

impl Default for SlowRetrievalGuard {
    fn default() -> SlowRetrievalGuard {
        SlowRetrievalGuard {
            stall: Duration::from_secs(10),
            window: Duration::from_secs(10),
            min_bytes_per_sec: 1024,
        }
    }
}

impl SlowRetrievalGuard {
    fn start(self) -> Pace {
        Pace { guard: self, window_start: Instant::now(), window_bytes: 0 }
    }
}

/// Rate bookkeeping for one transfer: consecutive windows, each of which must carry at least
/// `window * min_bytes_per_sec` bytes. Constant memory whatever the transfer's size.
struct Pace {
    guard: SlowRetrievalGuard,
    window_start: Instant,
    window_bytes: u64,
}

impl Pace {
    /// Accounts `n` bytes from a read that began at `read_started`.
    fn observe(&mut self, n: usize, read_started: Instant) -> Result<(), String> {
        let now = Instant::now();
        let waited = now.duration_since(read_started);
        if waited >= self.guard.stall {
            return Err(format!("no data for {} ms", waited.as_millis()));
        }
        self.window_bytes += n as u64;
        let elapsed = now.duration_since(self.window_start);
        if elapsed >= self.guard.window {
            let required = rate_floor(self.guard.min_bytes_per_sec, elapsed);
            if self.window_bytes < required {
                return Err(format!(
                    "{} bytes in {} ms, need {} bytes/s",
                    self.window_bytes,
                    elapsed.as_millis(),
                    self.guard.min_bytes_per_sec
                ));
            }
            self.window_start = now;
            self.window_bytes = 0;
        }
        Ok(())
    }
}

/// Bytes `rate` bytes/s delivers in `elapsed`.
fn rate_floor(rate: u64, elapsed: Duration) -> u64 {
    u64::try_from(u128::from(rate) * elapsed.as_millis() / 1000).unwrap_or(u64::MAX)
}

/// How to reach a repository. The defaults suit plain `http://` test servers and public HTTPS
/// (Mozilla roots); the Primary adds its CA and client certificate for mutual TLS.
#[derive(Clone, Default)]
pub struct HttpConfig {
    /// PEM certificates to trust instead of the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM certificate chain and PEM private key presented to the server (mutual TLS).
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Refuse `http://` URLs.
    pub https_only: bool,
    pub guard: SlowRetrievalGuard,
}

impl fmt::Debug for HttpConfig {
    // Never print the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_identity", &self.client_identity.is_some())
            .field("https_only", &self.https_only)
            .field("guard", &self.guard)
            .finish()
    }
}

/// A configured HTTP(S) client; cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpClient {
    agent: Agent,
    guard: SlowRetrievalGuard,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").field("guard", &self.guard).finish_non_exhaustive()
    }
}

fn tls_error(detail: impl fmt::Display) -> Error {
    Error::Transport { what: "TLS configuration".into(), detail: detail.to_string() }
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Result<HttpClient> {
        let mut tls = TlsConfig::builder();
        if let Some(pem) = &config.ca_pem {
            let certs = parse_certificates(pem)?;
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        if let Some((chain, key)) = &config.client_identity {
            let certs = parse_certificates(chain)?;
            let key = PrivateKey::from_pem(key).map_err(tls_error)?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&certs, key)));
        }
        let guard = config.guard;
        let agent = Agent::config_builder()
            .tls_config(tls.build())
            .https_only(config.https_only)
            // The environment must not be able to reroute a verifier's traffic.
            .proxy(None)
            .http_status_as_error(false)
            .user_agent(concat!("uptane-primary/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(guard.stall))
            // A blocked read can only be cut short by the socket: this is the stall rule.
            .timeout_per_read(Some(guard.stall))
            // Headers trickled a byte at a time would never trip the per-read timeout.
            .timeout_recv_response(Some(guard.stall + guard.window))
            .build()
            .new_agent();
        Ok(HttpClient { agent, guard })
    }

    /// GETs `url`, writing at most `max_bytes` of the body to `sink`; returns the byte count.
    /// `what` names the file in errors.
    pub fn get_into(
        &self,
        url: &str,
        max_bytes: u64,
        what: &str,
        sink: &mut dyn Write,
    ) -> Result<u64> {
        let response = self.agent.get(url).call().map_err(|e| ureq_error(what, e))?;
        let body = success(response, what)?;
        self.copy_body(body, max_bytes, what, sink)
    }

    /// GETs `url` into memory, at most `max_bytes`.
    pub fn get(&self, url: &str, max_bytes: u64, what: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.get_into(url, max_bytes, what, &mut bytes)?;
        Ok(bytes)
    }

    /// GETs `url` from byte `offset` on (a `Range` request when `offset > 0`). The server may
    /// ignore the range and send everything: [`Ranged::resumed`] says which happened, so the
    /// caller knows whether to append or start over before any byte is written.
    pub fn get_from(&self, url: &str, offset: u64, what: &str) -> Result<Ranged> {
        let mut request = self.agent.get(url);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|e| ureq_error(what, e))?;
        let partial = response.status().as_u16() == 206;
        if partial {
            let range = response.headers().get("content-range").and_then(|v| v.to_str().ok());
            if !range.is_some_and(|r| r.starts_with(&format!("bytes {offset}-"))) {
                return Err(Error::Transport {
                    what: what.into(),
                    detail: format!("asked for bytes from {offset}, got range {range:?}"),
                });
            }
        }
        let body = success(response, what)?;
        Ok(Ranged { client: self.clone(), body, resumed: offset > 0 && partial, what: what.into() })
    }

    /// Sends JSON `body` with `method` (and a bearer token if given) and returns the
    /// response body (at most `max_response` bytes). An error status becomes
    /// [`Error::Transport`] carrying the server's stable error code and message.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        body: &[u8],
        bearer: Option<&str>,
        max_response: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let mut request = match method {
            Method::Put => self.agent.put(url),
            Method::Post => self.agent.post(url),
        };
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| ureq_error(what, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let mut text = Vec::new();
            let _ = self.copy_body(response.into_body(), 64 * 1024, what, &mut text);
            let detail = match serde_json::from_slice::<serde_json::Value>(&text) {
                Ok(json) => format!(
                    "HTTP {status} {}: {}",
                    json["error"].as_str().unwrap_or("error"),
                    json["message"].as_str().unwrap_or_default()
                ),
                Err(_) => format!("HTTP {status}"),
            };
            return Err(Error::Transport { what: what.into(), detail });
        }
        let mut bytes = Vec::new();
        self.copy_body(response.into_body(), max_response, what, &mut bytes)?;
        Ok(bytes)
    }

    /// Copies at most `max_bytes` of `body` to `sink` under the pace guard.
    fn copy_body(
        &self,
        body: ureq::Body,
        max_bytes: u64,
        what: &str,
        sink: &mut dyn Write,
    ) -> Result<u64> {
        let too_large = || Error::TooLarge { what: what.into(), limit: max_bytes };
        if body.content_length().is_some_and(|len| len > max_bytes) {
            return Err(too_large());
        }
        let mut reader = body.into_reader();
        let mut pace = self.guard.start();
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let started = Instant::now();
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(what, e)),
            };
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            if total > max_bytes {
                return Err(too_large());
            }
            pace.observe(n, started)
                .map_err(|detail| Error::SlowRetrieval { what: what.into(), detail })?;
            sink.write_all(&buf[..n]).map_err(|source| Error::Io { what: what.into(), source })?;
        }
    }
}

/// The body of a successful response; 403 and 404 are "not found", other statuses fail.
fn success(response: ureq::http::Response<ureq::Body>, what: &str) -> Result<ureq::Body> {
    let status = response.status().as_u16();
    if status == 403 || status == 404 {
        return Err(Error::NotFound { what: what.into() });
    }
    if !(200..300).contains(&status) {
        return Err(Error::Transport { what: what.into(), detail: format!("HTTP {status}") });
    }
    Ok(response.into_body())
}

/// The methods [`HttpClient::send`] supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Put,
    Post,
}

/// A response to [`HttpClient::get_from`] whose body has not been read yet.
pub struct Ranged {
    client: HttpClient,
    body: ureq::Body,
    resumed: bool,
    what: String,
}

impl fmt::Debug for Ranged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ranged").field("resumed", &self.resumed).finish_non_exhaustive()
    }
}

impl Ranged {
    /// Whether the body continues from the requested offset (else it starts at byte 0).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Copies at most `max_bytes` of the body to `sink` under the pace guard.
    pub fn copy_to(self, max_bytes: u64, sink: &mut dyn Write) -> Result<u64> {
        self.client.copy_body(self.body, max_bytes, &self.what, sink)
    }
}

fn parse_certificates(pem: &[u8]) -> Result<Vec<Certificate<'static>>> {
    let certs = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
            Ok(_) => None,
            Err(e) => Some(Err(tls_error(e))),
        })
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(tls_error("no certificate in PEM"));
    }
    Ok(certs)
}

fn is_slow(timeout: ureq::Timeout) -> bool {
    use ureq::Timeout::*;
    matches!(timeout, PerRead | RecvResponse | RecvBody)
}

fn ureq_error(what: &str, error: ureq::Error) -> Error {
    match error {
        ureq::Error::Timeout(t) if is_slow(t) => {
            Error::SlowRetrieval { what: what.into(), detail: format!("timeout: {t}") }
        }
        ureq::Error::Io(e) => io_error(what, e),
        ureq::Error::BodyStalled => {
            Error::SlowRetrieval { what: what.into(), detail: "body stalled".into() }
        }
        other => Error::Transport { what: what.into(), detail: other.to_string() },
    }
}

/// Body read errors arrive as `io::Error`, sometimes wrapping a `ureq::Error`.
fn io_error(what: &str, error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::TimedOut || error.kind() == io::ErrorKind::WouldBlock {
        return Error::SlowRetrieval { what: what.into(), detail: error.to_string() };
    }
    if error.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        return ureq_error(what, ureq::Error::from(error));
    }
    Error::Transport { what: what.into(), detail: error.to_string() }
}

/// `base` with exactly one trailing `/`, so names append without producing `//`.
pub fn directory_url(base: &str) -> String {
    format!("{}/", base.trim_end_matches('/'))
}

/// [`Fetch`] for the metadata of one repository: `name` is appended to the base URL.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: HttpClient,
    base: String,
}

impl HttpFetcher {
    pub fn new(client: HttpClient, base_url: &str) -> HttpFetcher {
        HttpFetcher { client, base: directory_url(base_url) }
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&mut self, name: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let url = format!("{}{name}", self.base);
        tracing::debug!(%url, max_bytes, "fetching metadata");
        self.client.get(&url, max_bytes, name)
    }
}

/// Characters a target path may not carry raw in a URL path (`/` stays a separator).
const URL_PATH_SET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The URL of target `path` under `base` (TUF 5.7.3): with consistent snapshots the basename
/// is prefixed by a listed hash, sha256 when listed, else the first one.
pub fn target_url(base: &str, path: &str, file: &TargetFile, consistent_snapshot: bool) -> String {
    let name = match file.hashes.get("sha256").or_else(|| file.hashes.values().next()) {
        Some(hash) if consistent_snapshot => match path.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/{hash}.{base}"),
            None => format!("{hash}.{path}"),
        },
        _ => path.to_owned(),
    };
    format!("{}{}", directory_url(base), utf8_percent_encode(&name, URL_PATH_SET))
}

/// Whether `dest` already holds exactly the image `file` describes (then nothing is fetched).
pub fn file_matches(dest: &Path, file: &TargetFile) -> bool {
    let Ok(mut reader) = std::fs::File::open(dest) else {
        return false;
    };
    if reader.metadata().map(|m| m.len()).ok() != Some(file.length) {
        return false;
    }
    let mut hasher = MultiHasher::new(&file.hashes);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    hasher.length() == file.length && hasher.mismatch().is_none()
}

/// Hashes what passes through on its way to the file.
struct HashingWriter<W> {
    inner: W,
    hasher: MultiHasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Downloads the image `path` from `url` to `dest`, streaming it through the hashes into a
/// hidden temporary file beside `dest` and renaming it over `dest` only once its length and
/// every listed hash match. On any failure `dest` is untouched and the temporary file is gone.
/// Memory use does not depend on the image's size.
pub fn download_target(
    client: &HttpClient,
    url: &str,
    path: &str,
    file: &TargetFile,
    dest: &Path,
) -> Result<()> {
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let io_err = |source| Error::Io { what: dest.display().to_string(), source };
    // Hidden and suffixed, so nothing that lists the directory's images mistakes it for one.
    let temp =
        tempfile::Builder::new().prefix(".").suffix(".part").tempfile_in(dir).map_err(io_err)?;
    let mut writer = HashingWriter {
        inner: io::BufWriter::with_capacity(64 * 1024, temp),
        hasher: MultiHasher::new(&file.hashes),
    };
    tracing::debug!(%url, length = file.length, "downloading target");
    client.get_into(url, file.length, path, &mut writer)?;
    let HashingWriter { inner, hasher } = writer;
    if hasher.length() != file.length {
        return Err(Error::ImageLength {
            target: path.into(),
            expected: file.length,
            found: hasher.length(),
        });
    }
    if let Some(algorithm) = hasher.mismatch() {
        return Err(Error::ImageHash { target: path.into(), algorithm });
    }
    let temp = inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    temp.as_file().sync_all().map_err(io_err)?;
    temp.persist(dest).map_err(|e| io_err(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// Serves one connection: `head` at once, then `chunks` with `gap` between them.
    fn serve_once(head: &'static str, chunks: Vec<Vec<u8>>, gap: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(head.as_bytes());
            for chunk in chunks {
                thread::sleep(gap);
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        format!("http://{addr}/file")
    }

    fn fast_guard() -> HttpClient {
        let guard = SlowRetrievalGuard {
            stall: Duration::from_millis(300),
            window: Duration::from_millis(200),
            min_bytes_per_sec: 1024,
        };
        HttpClient::new(&HttpConfig { guard, ..HttpConfig::default() }).unwrap()
    }

    #[test]
    fn a_trickle_is_slow_retrieval() {
        // 10 bytes every 20 ms: 500 B/s against a floor of 1 KiB/s.
        let url = serve_once(
            "HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n",
            vec![vec![b'x'; 10]; 100],
            Duration::from_millis(20),
        );
        let started = Instant::now();
        let err = fast_guard().get(&url, 1000, "file").unwrap_err();
        assert!(matches!(err, Error::SlowRetrieval { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_stall_is_slow_retrieval() {
        let url = serve_once(
            "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nab",
            vec![b"cd".to_vec()],
            Duration::from_secs(2),
        );
        let err = fast_guard().get(&url, 10, "file").unwrap_err();
        assert!(matches!(err, Error::SlowRetrieval { .. }), "{err}");
    }

    #[test]
    fn a_steady_transfer_passes_the_guard() {
        // 2 KiB every 20 ms is about 100 KiB/s, spread over more than one window.
        let url = serve_once(
            "HTTP/1.0 200 OK\r\n\r\n",
            vec![vec![b'x'; 2048]; 20],
            Duration::from_millis(20),
        );
        assert_eq!(fast_guard().get(&url, 40960, "file").unwrap().len(), 40960);
    }

    #[test]
    fn one_byte_over_the_limit_is_endless_data() {
        // Without Content-Length the limit is enforced while reading.
        let url = serve_once("HTTP/1.0 200 OK\r\n\r\n", vec![vec![0; 101]], Duration::ZERO);
        let err = fast_guard().get(&url, 100, "file").unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err}");
        let url = serve_once(
            "HTTP/1.0 200 OK\r\nContent-Length: 101\r\n\r\n",
            vec![vec![0; 101]],
            Duration::ZERO,
        );
        let err = fast_guard().get(&url, 100, "file").unwrap_err();
        assert_eq!(err.attack(), Some(uptane::Attack::EndlessData));
        let url = serve_once("HTTP/1.0 200 OK\r\n\r\n", vec![vec![7; 100]], Duration::ZERO);
        assert_eq!(fast_guard().get(&url, 100, "file").unwrap(), vec![7; 100]);
    }

    #[test]
    fn statuses_map_to_errors() {
        let url = serve_once("HTTP/1.0 404 Not Found\r\n\r\n", vec![], Duration::ZERO);
        assert!(matches!(fast_guard().get(&url, 10, "f"), Err(Error::NotFound { .. })));
        let url = serve_once("HTTP/1.0 403 Forbidden\r\n\r\n", vec![], Duration::ZERO);
        assert!(matches!(fast_guard().get(&url, 10, "f"), Err(Error::NotFound { .. })));
        let url = serve_once("HTTP/1.0 500 Oops\r\n\r\n", vec![], Duration::ZERO);
        assert!(matches!(fast_guard().get(&url, 10, "f"), Err(Error::Transport { .. })));
        // A connection closed without any response.
        let url = serve_once("", vec![], Duration::ZERO);
        assert!(matches!(fast_guard().get(&url, 10, "f"), Err(Error::Transport { .. })));
    }

    /// Serves `body` over TLS with `server` (cert, key), requiring a client certificate
    /// issued by `client_ca`.
    fn serve_tls(server: (&rcgen::Certificate, &rcgen::KeyPair), client_ca: &[u8]) -> String {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(client_ca.to_vec())).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(server.1.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server.0.der().clone()], key)
            .unwrap();
        let config = std::sync::Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://127.0.0.1:{}/file", listener.local_addr().unwrap().port());
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let connection = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => request.push(byte[0]),
                        _ => break,
                    }
                }
                if request.ends_with(b"\r\n\r\n") {
                    let _ = tls.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nsecret");
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            }
        });
        url
    }

    #[test]
    fn mutual_tls_with_a_private_ca() {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |name: &str, usage| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
            params.extended_key_usages = vec![usage];
            (params.signed_by(&key, &ca).unwrap(), key)
        };
        let (server_cert, server_key) = leaf("127.0.0.1", ServerAuth);
        let (client_cert, client_key) = leaf("WVWZZZ1JZXW000001", ClientAuth);
        let url = serve_tls((&server_cert, &server_key), ca.der());

        let config = HttpConfig {
            ca_pem: Some(ca.pem().into_bytes()),
            client_identity: Some((
                client_cert.pem().into_bytes(),
                client_key.serialize_pem().into_bytes(),
            )),
            https_only: true,
            ..HttpConfig::default()
        };
        let client = HttpClient::new(&config).unwrap();
        assert_eq!(client.get(&url, 100, "file").unwrap(), b"secret");
        // https_only refuses plain HTTP outright.
        let plain = serve_once("HTTP/1.0 200 OK\r\n\r\n", vec![], Duration::ZERO);
        assert!(matches!(client.get(&plain, 10, "f"), Err(Error::Transport { .. })));

        // Without a client certificate the server refuses; without the CA, so do we.
        let no_identity = HttpConfig { client_identity: None, ..config.clone() };
        let err = HttpClient::new(&no_identity).unwrap().get(&url, 100, "file").unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        let public_roots = HttpConfig { ca_pem: None, ..config };
        let err = HttpClient::new(&public_roots).unwrap().get(&url, 100, "file").unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");

        let garbage = HttpConfig { ca_pem: Some(b"not pem".to_vec()), ..HttpConfig::default() };
        assert!(HttpClient::new(&garbage).is_err());
    }

    #[test]
    fn target_urls_put_the_hash_on_the_basename() {
        let mut file = TargetFile::describing(b"x");
        let sha256 = file.hashes["sha256"].clone();
        let base = "http://h/r/targets/";
        assert_eq!(target_url(base, "a/b/c.txt", &file, true), format!("{base}a/b/{sha256}.c.txt"));
        assert_eq!(
            target_url("http://h/t", "c.txt", &file, true),
            format!("http://h/t/{sha256}.c.txt")
        );
        assert_eq!(target_url(base, "a b#?.txt", &file, false), format!("{base}a%20b%23%3F.txt"));
        file.hashes.remove("sha256");
        let sha512 = file.hashes["sha512"].clone();
        assert_eq!(target_url(base, "c.txt", &file, true), format!("{base}{sha512}.c.txt"));
    }
}
