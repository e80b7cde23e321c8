//! Test support for the services' integration tests (feature `test-support`): which database a
//! test runs on, with the PostgreSQL variant skipped when no URL is configured (failed under
//! CI), a fresh PostgreSQL database per test, the service running on its own thread, a client
//! trusting its development CA, and the core's `Fetch` over HTTPS.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::{Server, ServerHandle};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL admin URL, or `None` (with a note) when it is not configured; under CI
    /// a missing URL fails the test.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("UPTANE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but UPTANE_TEST_DATABASE_URL is not: PostgreSQL tests cannot run")
            }
            _ => {
                eprintln!(
                    "note: UPTANE_TEST_DATABASE_URL is unset; skipping the PostgreSQL variant"
                );
                None
            }
        }
    }
}

/// A fresh PostgreSQL database, dropped at the end of the test.
#[derive(Debug)]
pub struct TempDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl TempDatabase {
    pub fn create(admin: &str) -> TempDatabase {
        TempDatabase::try_create(admin).unwrap()
    }

    /// A fresh database on the server `admin` connects to, or why there is none.
    pub fn try_create(admin: &str) -> Result<TempDatabase, String> {
        let mut raw = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
            .map_err(|_| "no randomness for a database name".to_owned())?;
        let name = format!("t_{}", hex::encode(raw));
        let mut conn = PgConnection::establish(admin).map_err(|e| format!("{admin}: {e}"))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("{admin}: creating database {name}: {e}"))?;
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        Ok(TempDatabase { admin: admin.into(), url: format!("{base}/{name}"), name })
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ =
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A service running on its own thread and actix system, as the integration tests start it.
#[derive(Debug)]
pub struct RunningServer {
    /// The first address it listens on.
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Opens the service's state with `open` on a new thread, then starts it there with `start`
    /// inside an actix system, and waits until it listens.
    pub fn spawn<S: 'static>(
        open: impl FnOnce() -> S + Send + 'static,
        start: impl FnOnce(S) -> (Server, Vec<SocketAddr>) + Send + 'static,
    ) -> RunningServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let state = open();
            actix_web::rt::System::new().block_on(async move {
                let (server, addrs) = start(state);
                tx.send((addrs[0], server.handle())).unwrap();
                server.await.unwrap();
            });
        });
        let (addr, handle) = rx.recv().expect("server failed to start");
        RunningServer { addr, handle, thread: Some(thread) }
    }

    /// Stops the server gracefully and joins its thread.
    pub fn stop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(true));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

/// A client trusting `ca_pem` (the service's generated development CA) that treats every HTTP
/// status as an answer rather than an error.
pub fn trusting_agent(ca_pem: &[u8]) -> ureq::Agent {
    let cert = ureq::tls::Certificate::from_pem(ca_pem).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
        .build();
    ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into()
}

/// The core's `Fetch` of `name` from `url` over HTTPS: a 404 is `NotFound`, a body longer than
/// `max_bytes` is `TooLarge`.
pub fn fetch_metadata(
    agent: &ureq::Agent,
    url: String,
    name: &str,
    max_bytes: u64,
) -> uptane::Result<Vec<u8>> {
    let transport =
        |e: ureq::Error| uptane::Error::Transport { what: url.clone(), detail: e.to_string() };
    let response = agent.get(&url).call().map_err(transport)?;
    match response.status().as_u16() {
        200 => {}
        404 => return Err(uptane::Error::NotFound { what: url }),
        status => {
            return Err(uptane::Error::Transport { what: url, detail: format!("HTTP {status}") });
        }
    }
    response.into_body().with_config().limit(max_bytes).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => {
            uptane::Error::TooLarge { what: name.into(), limit: max_bytes }
        }
        other => uptane::Error::Transport { what: name.into(), detail: other.to_string() },
    })
}
