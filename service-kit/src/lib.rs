//! The infrastructure the repository services share: configuration files, database
//! connections, TLS material, online keys and JSON errors. Each service keeps what is its own
//! (its settings, migrations, queries, key names, routes) and passes it in.

pub mod config;
pub mod db;
pub mod error;
pub mod keys;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod tls;

pub use error::{Error, Rejection, Result};

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The SHA-256 digest of `bytes` (tokens are stored and compared as these).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// One round of a background task (re-signing metadata before it expires): `work` runs off the
/// event loop, and a failure is logged, not fatal, since the next round tries again.
pub async fn background_round<T, E>(
    what: &str,
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match actix_web::web::block(work).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "{what} failed"),
        Err(e) => tracing::error!(error = %e, "{what} task failed"),
    }
}
