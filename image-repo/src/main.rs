use anyhow::Context;
use clap::Parser;
use image_repo::publish::{Upload, publish};
use image_repo::{AppState, Cli, Command};

fn main() -> anyhow::Result<()> {
    service_kit::init_tracing();
    let args = image_repo::config::file::with_file(std::env::args_os().collect(), |name| {
        std::env::var(name).ok()
    })
    .map_err(anyhow::Error::msg)?;
    let cli = Cli::parse_from(args);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = actix_web::web::Data::new(AppState::open(cli.config)?);
            actix_web::rt::System::new().block_on(async move {
                let (server, addrs) = image_repo::server::start(state)?;
                tracing::info!(?addrs, "listening");
                server.await.context("server")
            })
        }
        Command::Init { root } => {
            let state = AppState::open(cli.config)?;
            let bytes = std::fs::read(&root).with_context(|| root.display().to_string())?;
            let outcome = publish(&state, Upload::Root(bytes))?;
            println!("{}", serde_json::to_string(&outcome)?);
            Ok(())
        }
        Command::Keys => {
            let keys = image_repo::keys::OnlineKeys::load_or_generate(&cli.config)?;
            let dir = cli.config.dir("keys");
            let report = serde_json::json!({
                "snapshot": {
                    "keyid": keys.snapshot.key_id(),
                    "public_key_file": dir.join("snapshot.pub.json"),
                },
                "timestamp": {
                    "keyid": keys.timestamp.key_id(),
                    "public_key_file": dir.join("timestamp.pub.json"),
                },
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}
