//! `drctl state pull` / `drctl state push`: copy an environment's state
//! between the local --state-dir and the shared (S3) backend, refusing
//! anything that could lose a change (terraform state push's checks).

use std::process::ExitCode;

use anyhow::{Result, bail};
use drctl_core::State;
use drctl_core::backend::{Backend, LocalBackend};

use drctl_state_s3::Copy;

use crate::cli::{Global, KeptCopy, StateCommand, StateCopyArgs, StateKeepArgs};
use crate::session::Session;

pub async fn run(g: &Global, cmd: StateCommand) -> Result<ExitCode> {
    let (args, push) = match cmd {
        StateCommand::Pull(args) => (args, false),
        StateCommand::Push(args) => (args, true),
        StateCommand::Keep(args) => return keep(g, args),
    };
    let session = Session::open(g, &args.env.env)?;
    if session.is_local {
        bail!(
            "state {} moves state between --state-dir and an S3 backend, and none is configured; pass --backend s3://BUCKET/PREFIX or add a `[backend]` table to {}",
            if push { "push" } else { "pull" },
            g.config.display()
        );
    }
    let local = LocalBackend::new(&session.state_dir, &session.env);
    let (from, to): (&dyn Backend, &dyn Backend) = if push {
        (&local, session.backend.as_ref())
    } else {
        (session.backend.as_ref(), &local)
    };
    copy(&session.env, from, to, &args)
}

/// `drctl state keep`: one copy of a replicated backend over the other.
fn keep(g: &Global, args: StateKeepArgs) -> Result<ExitCode> {
    let session = Session::open(g, &args.env.env)?;
    let Some(replicated) = session.replicated() else {
        bail!(
            "state keep chooses between the two copies of a replicated S3 backend, and `{}` has none; set `[backend] replica_url` in {} (or pass --backend-replica)",
            session.env,
            g.config.display()
        );
    };
    let copy = match args.copy {
        KeptCopy::Primary => Copy::Primary,
        KeptCopy::Replica => Copy::Replica,
    };
    let serial = replicated.keep(copy)?;
    println!(
        "Kept the {} copy of `{}`'s state in both buckets (serial {serial}). Run `drctl plan --refresh --env {}` to read what exists in AWS into it.",
        match copy {
            Copy::Primary => "primary",
            Copy::Replica => "replica",
        },
        session.env,
        session.env
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies the state of `from` over that of `to`, both locked meanwhile.
fn copy(env: &str, from: &dyn Backend, to: &dyn Backend, args: &StateCopyArgs) -> Result<ExitCode> {
    let verb = "state copy";
    let _from_lock = from.lock(verb)?;
    let _to_lock = to.lock(verb)?;
    if !from.open_intents()?.is_empty() {
        bail!(
            "{} has unfinished operations of an interrupted run in its journal; run `drctl plan --env {env}` against it first (it recovers them), then copy",
            from.location()
        );
    }
    let Some(mut source) = from.load()? else {
        bail!("there is no state at {}; nothing to copy", from.location());
    };
    // Whatever the local change log holds goes along: fold it first.
    from.compact(&mut source)?;
    let target = to.load()?;
    let serial = match &target {
        None => source.serial.max(1),
        Some(existing) => {
            if existing.lineage != source.lineage {
                bail!(
                    "{} holds another state history (lineage {}, not {}); nothing was copied. It was not made from this one: if it is obsolete, delete it first",
                    to.location(),
                    existing.lineage,
                    source.lineage
                );
            }
            if same_content(existing, &source) {
                println!(
                    "{} already holds this state (serial {}); nothing to copy.",
                    to.location(),
                    existing.serial
                );
                return Ok(ExitCode::SUCCESS);
            }
            if existing.serial >= source.serial && !args.force {
                bail!(
                    "{} is at serial {}, {} is at serial {}: the destination has changes the source lacks; nothing was copied. Copy the other way, or pass --force to overwrite it",
                    to.location(),
                    existing.serial,
                    from.location(),
                    source.serial
                );
            }
            // Newer than anything the destination held, so readers of
            // either copy can tell which is current.
            source.serial.max(existing.serial + 1)
        }
    };
    let mut written = source.clone();
    // `save` bumps the serial once.
    written.serial = serial - 1;
    to.save(&mut written)?;
    println!(
        "Copied the state of `{env}` ({} resources, serial {}) from {} to {}.",
        written.resources.len(),
        written.serial,
        from.location(),
        to.location()
    );
    Ok(ExitCode::SUCCESS)
}

fn same_content(a: &State, b: &State) -> bool {
    a.resources == b.resources
        && a.account_id == b.account_id
        && a.availability_zones == b.availability_zones
        && a.serial == b.serial
}
