//! `import`: adopts what already exists into state, writing nothing to
//! AWS (`drctl_core::import` does the walk).

use std::path::Path;

use drctl_blueprint::PLACEHOLDER_ACCOUNT;
use drctl_core::backend::HeldLock;
use drctl_core::import::{ImportFile, ImportReport, import as walk, parse_import_file};
use drctl_core::{DesiredGraph, State};

use crate::error::OpsError;
use crate::workspace::Workspace;

/// What an import found, the state that records it (not yet saved: see
/// [`Imported::save`]) and the lock it holds.
pub struct Imported {
    pub report: ImportReport,
    pub state: State,
    pub lock: Box<dyn HeldLock>,
}

impl Imported {
    /// Saves the adopted resources in state (serial bumped).
    pub fn save(&mut self, ws: &Workspace) -> Result<(), OpsError> {
        ws.save_state(&mut self.state)
    }
}

/// Looks up what exists of the environment's resources (those `file`
/// names by id, the others by name or tags) and adopts it into the state
/// it returns.
pub async fn import(ws: &Workspace, file: Option<&Path>) -> Result<Imported, OpsError> {
    // The import file is checked against the graph before any call. Until
    // state records the regions' Availability Zones, the subnets' addresses
    // (named after their zones) are known only after the lookup: then the
    // file is refused only by the check against the looked-up graph.
    let (offline_state, _) = ws.load_state()?;
    let offline = ws.desired(
        offline_state
            .account_id
            .as_deref()
            .unwrap_or(PLACEHOLDER_ACCOUNT),
        &offline_state,
    )?;
    let text = match file {
        None => None,
        Some(path) => Some((
            path,
            std::fs::read_to_string(path).map_err(|source| OpsError::ReadImportFile {
                path: path.to_owned(),
                source,
            })?,
        )),
    };
    let check = |graph: &DesiredGraph| match &text {
        None => Ok(ImportFile::default()),
        Some((path, text)) => parse_import_file(path, text, graph),
    };
    if ws.zones_recorded(&offline_state) {
        check(&offline)?;
    }
    let lock = ws.lock("import")?;
    // Resolving an interrupted run may finish its deletes; import only
    // reads and looks up, so it leaves that to plan or apply.
    if ws.has_open_intents()? {
        return Err(OpsError::ImportWithOpenIntents {
            env: ws.env.clone(),
        });
    }
    let (mut state, _) = ws.load_state()?;
    let account = ws.resolve_account(&mut state, true).await?;
    ws.resolve_zones(&mut state).await?;
    let desired = ws.desired(&account, &state)?;
    let file = check(&desired)?;
    let providers = ws.providers().await;
    let report = walk(&desired, &mut state, providers, &file).await?;
    Ok(Imported {
        report,
        state,
        lock,
    })
}
