//! The two repository services run in-process, each on its own thread and actix system, on
//! real loopback sockets with HTTPS; and the operator's HTTPS client for their admin APIs.
//!
//! A [`Service`] is stopped (gracefully, its thread joined) when dropped, so an error anywhere
//! in the demo still leaves nothing running.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::{Server, ServerHandle};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// What a service's `server::start` returns: the server to await and where it listens.
type Started<E> = std::result::Result<(Server, Vec<SocketAddr>), E>;

/// One running service.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    /// `https://localhost:PORT` (the development certificates name `localhost`).
    pub url: String,
    /// The development CA its HTTPS certificate chains to.
    pub ca: PathBuf,
    handle: ServerHandle,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Service {
    /// Starts `start(state)` inside a new actix system on its own thread and waits until it
    /// listens.
    pub fn spawn<S, E>(
        name: &'static str,
        state: S,
        ca: PathBuf,
        start: fn(S) -> Started<E>,
    ) -> Result<Service>
    where
        S: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match start(state) {
                    Ok((server, addrs)) => {
                        let _ = tx.send(Ok((addrs, server.handle())));
                        server.await.with_context(|| format!("{name} stopped with an error"))
                    }
                    Err(e) => {
                        let e = anyhow::Error::new(e).context(format!("starting {name}"));
                        let message = format!("{e:#}");
                        let _ = tx.send(Err(e));
                        bail!(message)
                    }
                }
            })
        })?;
        let (addrs, handle) = rx.recv().map_err(|_| anyhow!("{name} died while starting"))??;
        let port = addrs.first().with_context(|| format!("{name} listens nowhere"))?.port();
        let url = format!("https://localhost:{port}");
        Ok(Service { name, url, ca, handle, thread: Some(thread) })
    }

    /// Stops the service gracefully and joins its thread.
    pub fn stop(mut self) -> Result<()> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else { return Ok(()) };
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        thread.join().map_err(|_| anyhow!("{} panicked", self.name))?
    }

    /// Whether it still serves (actix also stops its servers on SIGINT and SIGTERM).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// An operator's client for this service's admin API.
    pub fn admin(&self, token: &str) -> Result<Admin> {
        Admin::new(&self.url, &std::fs::read(&self.ca)?, token)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Err(e) = self.shut_down() {
            eprintln!("stopping {}: {e:#}", self.name);
        }
    }
}

/// HTTPS requests with the operator's bearer token, trusting the service's CA.
#[derive(Debug, Clone)]
pub struct Admin {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Admin {
    pub fn new(base: &str, ca_pem: &[u8], token: &str) -> Result<Admin> {
        let cert = ureq::tls::Certificate::from_pem(ca_pem)
            .context("reading the service's CA certificate")?
            .to_owned();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        let agent =
            ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build();
        Ok(Admin { agent: agent.into(), base: base.to_owned(), token: token.to_owned() })
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        let request = self.agent.get(format!("{}{path}", self.base));
        let response = request.header("Authorization", self.bearer()).call();
        answer("GET", path, response)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.send("POST", path, body.to_string().into_bytes())
    }

    pub fn put(&self, path: &str, body: Vec<u8>) -> Result<Value> {
        self.send("PUT", path, body)
    }

    fn send(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self.agent.post(url),
            _ => self.agent.put(url),
        };
        let response = request.header("Authorization", self.bearer()).send(&body[..]);
        answer(method, path, response)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// The JSON answer, or the service's `{error, message}` as an error.
fn answer(
    method: &str,
    path: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Value> {
    let response = response.with_context(|| format!("{method} {path}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().read_to_vec().with_context(|| format!("{method} {path}"))?;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        bail!("{method} {path}: HTTP {status} {} {}", value["error"], value["message"]);
    }
    Ok(value)
}
