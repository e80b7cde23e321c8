//! The HTTP(S) server and the background re-signing task.

use std::net::SocketAddr;

use actix_web::dev::Service;
use actix_web::{App, HttpServer, web};

use crate::error::{Error, Result};
use crate::metrics::kind_of;
use crate::state::AppState;
use crate::{publish, routes, tls};

/// Binds and starts the server (HTTPS unless `--insecure-http`) and the re-signing task. Must
/// run inside an actix system; await the returned server to serve until stopped.
pub fn start(state: web::Data<AppState>) -> Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let config = state.config.clone();
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let metrics_state = app_state.clone();
        App::new()
            .app_data(app_state.clone())
            .wrap_fn(move |req, srv| {
                let kind = kind_of(req.path());
                let state = metrics_state.clone();
                let response = srv.call(req);
                async move {
                    let response = response.await?;
                    state.metrics.count_request(kind, response.status().as_u16());
                    Ok(response)
                }
            })
            .configure(routes::configure)
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
    spawn_resigner(state);
    Ok((server.run(), addrs))
}

fn spawn_resigner(state: web::Data<AppState>) {
    let interval =
        state.config.resign_interval.to_std().unwrap_or(std::time::Duration::from_secs(60));
    actix_web::rt::spawn(async move {
        loop {
            let task_state = state.clone();
            service_kit::background_round("re-signing", move || {
                publish::resign_if_due(&task_state)
            })
            .await;
            actix_web::rt::time::sleep(interval).await;
        }
    });
}
