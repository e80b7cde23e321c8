//! The HTTP(S) server.

use std::net::SocketAddr;

use actix_web::{App, HttpServer, web};

use crate::error::{Error, Result};
use crate::state::AppState;
use crate::{routes, tls};

/// Binds and starts the server (HTTPS unless `--insecure-http`). Must run inside an actix
/// system; await the returned server to serve until stopped.
pub fn start(state: web::Data<AppState>) -> Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let config = state.config.clone();
    let limit = config.max_manifest_bytes.max(512 * 1024);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(limit))
            .configure(routes::configure)
    })
    .on_connect(|connection, data| {
        if let Some(identity) = tls::client_identity(connection) {
            data.insert(identity);
        }
    })
    .workers(config.workers.max(1));
    let server = if config.insecure_http {
        tracing::warn!("serving plain HTTP (--insecure-http)");
        server.bind(config.listen)
    } else {
        let files = tls::ensure_files(&config)?;
        server.bind_rustls_0_23(config.listen, tls::server_config(&files)?)
    }
    .map_err(|e| Error::io(format!("binding {}", config.listen), e))?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}
