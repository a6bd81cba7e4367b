//! From the parsed command line to the subcommand's function.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::session::Session;
use crate::{commands, dr};

/// Runs one subcommand.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    crate::ui::init(g);
    match cli.command {
        Command::Plan(args) => commands::plan_cmd(&Session::open(g, &args.env.env)?, args).await,
        Command::Apply(args) => commands::apply_cmd(&Session::open(g, &args.env.env)?, args).await,
        Command::Import(args) => {
            crate::import::import_cmd(&Session::open(g, &args.env.env)?, args).await
        }
        Command::Refresh(args) => {
            commands::refresh_cmd(&Session::open(g, &args.env.env)?, args).await
        }
        Command::Destroy(args) => {
            commands::destroy_cmd(&Session::open(g, &args.env.env)?, args).await
        }
        Command::Show(args) => commands::show_cmd(&Session::open(g, &args.env.env)?, args),
        Command::Graph(args) => commands::graph_cmd(&Session::open(g, &args.env.env)?, args),
        Command::Status(args) => dr::status_cmd(&Session::open(g, &args.env.env)?, args).await,
        Command::Failover(args) => {
            let mut session = Session::open(g, &args.env.env)?;
            // The primary region is down: nothing of this run may need it.
            let note = if args.unplanned {
                session.without_primary_region()
            } else {
                None
            };
            dr::failover_cmd(&session, args, note).await
        }
        Command::Failback(args) => dr::failback_cmd(&Session::open(g, &args.env.env)?, args).await,
        Command::Drill(args) => dr::drill_cmd(&Session::open(g, &args.env.env)?, args).await,
        Command::Validate => commands::validate_cmd(g),
        Command::Init(args) => commands::init_cmd(g, args),
        Command::State(cmd) => crate::state_cmd::run(g, cmd).await,
        Command::Output(args) => crate::output::output_cmd(&Session::open(g, &args.env.env)?, args),
        Command::Bootstrap(args) => crate::bootstrap::bootstrap_cmd(g, args).await,
        Command::ForceUnlock(args) => {
            let session = Session::open(g, &args.env)?;
            match session.backend.force_unlock()? {
                Some(holder) => println!("Removed the lock of `{}` held by {holder}.", args.env),
                None => println!("`{}` was not locked.", args.env),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
