//! `drctl import`: adopts what already exists into state, writing nothing
//! to AWS (`drctl_core::import` does the walk).

use std::process::ExitCode;

use anyhow::Result;
use drctl_core::import::{NotAdopted, Source};

use crate::cli::ImportArgs;
use crate::session::Session;

pub(crate) async fn import_cmd(session: &Session, args: ImportArgs) -> Result<ExitCode> {
    let mut imported = drctl_ops::import::import(session, args.file.as_deref()).await?;
    let report = &imported.report;
    let verb = if args.dry_run {
        "Would adopt"
    } else {
        "Adopted"
    };
    println!("{verb} {} resource(s):", report.adopted.len());
    for (address, id, source) in &report.adopted {
        let how = match source {
            Source::File => "named in the import file",
            Source::Found => "found by name or tags",
        };
        println!("  {address}  {id}  ({how})");
    }
    if !report.missing.is_empty() {
        println!("Not found ({}; apply creates them):", report.missing.len());
        for (address, why) in &report.missing {
            match why {
                NotAdopted::NotFound => println!("  {address}"),
                NotAdopted::Needs(dep) => println!("  {address}  (needs {dep}, not found)"),
            }
        }
    }
    if !report.already.is_empty() {
        println!("Already in state: {}", report.already.len());
    }
    if args.dry_run {
        println!("Nothing was written (--dry-run).");
    } else if !report.adopted.is_empty() {
        imported.save(session)?;
        println!(
            "State records the adopted resources as they are (serial {}). Run `drctl plan --env {}` to see what differs from the configuration before anything changes.",
            imported.state.serial, session.env
        );
    }
    Ok(ExitCode::SUCCESS)
}
