use anyhow::Context;
use clap::Parser;
use director_repo::{AppState, Cli, Command};

fn main() -> anyhow::Result<()> {
    service_kit::init_tracing();
    let args = director_repo::config::file::with_file(std::env::args_os().collect(), |name| {
        std::env::var(name).ok()
    })
    .map_err(anyhow::Error::msg)?;
    let cli = Cli::parse_from(args);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = actix_web::web::Data::new(AppState::open(cli.config)?);
            actix_web::rt::System::new().block_on(async move {
                let (server, addrs) = director_repo::server::start(state)?;
                tracing::info!(?addrs, "listening");
                server.await.context("server")
            })
        }
        Command::Keys => {
            let ring = director_repo::keys::KeyRing::load(&cli.config)?;
            let keys = ring.defaults(None);
            let dir = cli.config.dir("keys");
            let mut report = serde_json::Map::new();
            for (name, key) in keys.named() {
                report.insert(
                    name.into(),
                    serde_json::json!({
                        "keyid": key.key_id(),
                        "public_key_file": dir.join(format!("{name}.pub.json")),
                    }),
                );
            }
            // Every key the service holds (new keys for a rotation included), by key id.
            report.insert("held".into(), serde_json::to_value(ring.public_keys())?);
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}
