//! `gridsync-server`: parses the command line and hands over to the library.

use anyhow::Context;
use clap::Parser;
use gridsync_server::auth::hash_password;
use gridsync_server::configuration::{Cli, Command, Settings, UserCommand};
use gridsync_server::domain::{NewUser, now_unix};
use gridsync_server::{Application, store, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.log_json);
    match cli.command {
        None => serve(Settings::from_args(cli.database_url, &cli.serve)).await,
        Some(Command::Serve(args)) => serve(Settings::from_args(cli.database_url, &args)).await,
        Some(Command::User(UserCommand::Add {
            username,
            password,
            role,
            areas,
        })) => {
            let store = store::connect(&cli.database_url)
                .await
                .with_context(|| format!("opening {}", store::redact(&cli.database_url)))?;
            let password_hash = hash_password(password.as_str())?;
            let user = store
                .create_user(&NewUser {
                    username: username.into_inner(),
                    password_hash,
                    role,
                    areas,
                    created_at: now_unix(),
                })
                .await?;
            println!(
                "created {} ({}) with areas [{}]",
                user.username,
                user.role,
                user.areas.join(", ")
            );
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(database = %store::redact(&settings.database_url), bind = %settings.bind, "starting");
    let application = Application::build(settings)
        .await
        .context("starting the server")?;
    println!(
        "gridsync-server listening on http://127.0.0.1:{}",
        application.port()
    );
    application.run_until_stopped().await?;
    Ok(())
}
