//! `drctl bootstrap NAME ...`: the scripted path for a new environment.
//! Adds `[env.NAME]` to drctl.toml keeping the file's comments and layout,
//! validates the result before writing, then plans (or applies with
//! --apply). Never overwrites an environment: the same settings again are
//! a no-op, different ones an error.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use drctl_blueprint::{Config, EnvSettings};
use drctl_core::executor::DEFAULT_PARALLELISM;
use drctl_core::write_atomic;

use crate::cli::{ApplyArgs, BootstrapArgs, EnvArg, Global, PlanArgs, SelectionArgs};
use crate::commands::{apply_cmd, plan_cmd};
use crate::session::Session;

/// The header of a drctl.toml that bootstrap creates.
const NEW_FILE_HEADER: &str = "# drctl environments. Each [env.NAME] table expands to the whole payment-DR\n# stack in two regions; keys left out take their defaults (README.md, \"Configuration\").\n";

/// The keys the operator gave, in the order they are written.
fn given(args: &BootstrapArgs) -> Vec<(&'static str, &str)> {
    [
        ("primary_region", &args.primary_region),
        ("secondary_region", &args.secondary_region),
        ("primary_cidr", &args.primary_cidr),
        ("secondary_cidr", &args.secondary_cidr),
        ("domain", &args.domain),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v.as_deref()?)))
    .collect()
}

/// The recorded value of `key` in the form drctl.toml spells it.
fn recorded(settings: &EnvSettings, key: &str) -> String {
    match key {
        "primary_region" => settings.primary_region.clone(),
        "secondary_region" => settings.secondary_region.clone(),
        "primary_cidr" => settings.primary_cidr.to_string(),
        "secondary_cidr" => settings.secondary_cidr.to_string(),
        "domain" => settings.domain.clone(),
        other => unreachable!("bootstrap does not set `{other}`"),
    }
}

pub async fn bootstrap_cmd(g: &Global, args: BootstrapArgs) -> Result<ExitCode> {
    let path = &g.config;
    let name = args.name.clone();
    let exists = path.exists();
    let text = if exists {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    } else {
        NEW_FILE_HEADER.to_owned()
    };
    // The file as it is must be valid before drctl adds to it.
    let current = Config::parse(path, &text)?;
    let settings = given(&args);
    let unchanged = if let Some(existing) = current.envs.get(&name) {
        let differing: Vec<String> = settings
            .iter()
            .filter(|(k, v)| recorded(existing, k) != *v)
            .map(|(k, v)| format!("{k} (is {:?}, asked {v:?})", recorded(existing, k)))
            .collect();
        if !differing.is_empty() {
            bail!(
                "{}: environment `{name}` already exists with other settings: {}; bootstrap never changes an environment: edit the file, or pick another name",
                path.display(),
                differing.join(", ")
            );
        }
        println!(
            "Environment `{name}` is already in {} with these settings; nothing written.",
            path.display()
        );
        true
    } else {
        let new_text = with_env(&text, &name, &settings)
            .with_context(|| format!("cannot add `[env.{name}]` to {}", path.display()))?;
        // Validate the whole result, then the environment's graph, before
        // the file is touched.
        let config = Config::parse(path, &new_text)?;
        let env_settings = config.env(&name)?;
        drctl_ops::expand_offline(&name, env_settings)?;
        write_atomic(path, new_text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{} `[env.{name}]` {} {}.",
            if exists { "Added" } else { "Created" },
            if exists { "to" } else { "in" },
            path.display()
        );
        false
    };
    let env = EnvArg { env: name };
    if !args.apply {
        if unchanged {
            return Ok(ExitCode::SUCCESS);
        }
        println!();
        let session = Session::open(g, &env.env)?;
        let plan = PlanArgs {
            env,
            selection: SelectionArgs::default(),
            refresh_only: false,
            out: None,
            refresh: false,
            json: false,
            detailed_exitcode: false,
            parallelism: DEFAULT_PARALLELISM,
        };
        return plan_cmd(&session, plan).await;
    }
    println!();
    let session = Session::open(g, &env.env)?;
    let apply = ApplyArgs {
        env,
        plan_file: None,
        selection: SelectionArgs::default(),
        auto_approve: args.auto_approve,
        parallelism: DEFAULT_PARALLELISM,
        refresh: false,
        allow_data_loss: false,
        json: false,
        timeline: None,
    };
    apply_cmd(&session, apply).await
}

/// `text` with an `[env.NAME]` table of `settings` appended; everything
/// already there (comments, order, spacing) is kept.
fn with_env(text: &str, name: &str, settings: &[(&str, &str)]) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    // Comments after the last table belong to the document's end, where
    // toml_edit would keep them below the new table: put them above it so
    // the existing text stays a prefix of the new one.
    let trailing = doc.trailing().as_str().unwrap_or_default().to_owned();
    doc.set_trailing("");
    let envs = doc
        .entry("env")
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .context("`env` is not a table of `[env.NAME]` tables")?;
    let mut table = toml_edit::Table::new();
    for (key, value) in settings {
        table.insert(key, toml_edit::value(*value));
    }
    table.decor_mut().set_prefix(format!("{trailing}\n"));
    envs.insert(name, toml_edit::Item::Table(table));
    Ok(doc.to_string())
}
