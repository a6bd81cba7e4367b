//! `drctl import`: adopts what already exists into state, writing nothing
//! to AWS (`drctl_core::import` does the walk).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use drctl_blueprint::PLACEHOLDER_ACCOUNT;
use drctl_core::import::{ImportFile, NotAdopted, Source, import, parse_import_file};

use crate::cli::ImportArgs;
use crate::session::Session;

pub(crate) async fn import_cmd(session: &Session, args: ImportArgs) -> Result<ExitCode> {
    // The import file is checked against the graph before any call. Until
    // state records the regions' Availability Zones, the subnets' addresses
    // (named after their zones) are known only after the lookup: then the
    // file is refused only by the check against the looked-up graph.
    let (offline_state, _) = session.load_state()?;
    let offline = session.desired(PLACEHOLDER_ACCOUNT, &offline_state)?;
    let text = match &args.file {
        None => None,
        Some(path) => Some((
            path,
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the import file {}", path.display()))?,
        )),
    };
    let check = |graph: &drctl_core::DesiredGraph| match &text {
        None => Ok(ImportFile::default()),
        Some((path, text)) => parse_import_file(path, text, graph),
    };
    if session.zones_recorded(&offline_state) {
        check(&offline)?;
    }
    let _lock = session.lock("import")?;
    // Resolving an interrupted run may finish its deletes; import only
    // reads and looks up, so it leaves that to plan or apply.
    if session.has_open_intents()? {
        bail!(
            "an interrupted run of environment `{env}` left operations unfinished in its journal; `drctl import` only reads, so it does not resolve them: run `drctl plan --env {env}` first (it resolves them, and may finish an interrupted delete), then import",
            env = session.env
        );
    }
    let (mut state, _) = session.load_state()?;
    let account = session.resolve_account(&mut state, true).await?;
    session.resolve_zones(&mut state).await?;
    let desired = session.desired(&account, &state)?;
    let file = check(&desired)?;
    let providers = session.providers().await;
    let report = import(&desired, &mut state, providers, &file).await?;

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
        session.save_state(&mut state)?;
        println!(
            "State records the adopted resources as they are (serial {}). Run `drctl plan --env {}` to see what differs from the configuration before anything changes.",
            state.serial, session.env
        );
    }
    Ok(ExitCode::SUCCESS)
}
