//! The `drctl` command line.

mod bootstrap;
mod cli;
mod commands;
mod dispatch;
mod dr;
mod import;
mod output;
mod progress;
mod prompt;
mod render;
mod session;
mod state_cmd;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "changes" to
    // `plan --detailed-exitcode`.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr at `-v`'s level (RUST_LOG overrides), with one limit no
/// setting lifts: other crates log at most at DEBUG. The AWS SDK's TRACE
/// lines dump whole requests and responses, bodies included (the RDS
/// Query body carries CreateDBCluster's MasterUserPassword; with
/// `LOG_SIGNABLE_BODY=true` the signer prints it too), and drctl promises
/// no secret at any verbosity (docs/security.md). drctl's own TRACE lines
/// stay.
fn init_logging(cli: &cli::Cli) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let wanted = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.log_level()));
    let no_bodies = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::DEBUG || meta.target().starts_with("drctl")
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(wanted)
                .with_filter(no_bodies),
        )
        .init();
    if std::env::var_os("LOG_SIGNABLE_BODY").is_some() {
        tracing::warn!(
            "LOG_SIGNABLE_BODY is set: drctl ignores it. Request bodies carry secrets (a database's master password), so drctl never logs them, at any verbosity"
        );
    }
}

/// `outer: cause: ...`, leaving out a cause the text before already
/// says (the library errors name their cause in their own message).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
