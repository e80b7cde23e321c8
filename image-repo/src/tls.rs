//! TLS: a development CA and server certificate generated on first start into DATA/tls (or
//! files given by flags), served by rustls with the ring provider (see [`service_kit::tls`]).

use rustls::ServerConfig;

use crate::config::Config;
use crate::error::Result;

/// The certificate and key files the server uses.
pub type TlsFiles = service_kit::tls::ServerFiles;

/// The configured files, or the development ones (generated if missing).
pub fn ensure_files(config: &Config) -> Result<TlsFiles> {
    service_kit::tls::ensure_server_files(
        config.tls_cert.as_ref(),
        config.tls_key.as_ref(),
        &config.dir("tls"),
        "image-repo",
    )
}

/// A rustls server configuration from PEM files (ring provider, never the process default).
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig> {
    service_kit::tls::server_config(&files.cert, &files.key, |_| Ok(None))
}
