//! `drctl output --env ENV [NAME] [--json]`: the endpoints and names of an
//! environment, from its state. `NAME` alone prints the bare value.

use std::process::ExitCode;

use anyhow::{Result, bail};
use drctl_blueprint::targets::named_outputs;
use drctl_view::outputs::outputs;

use crate::cli::OutputArgs;
use crate::session::Session;

pub fn output_cmd(session: &Session, args: OutputArgs) -> Result<ExitCode> {
    let (state, exists) = session.load_state()?;
    let env = &session.env;
    // Scripts read the output: an empty answer must not look like success.
    if !exists {
        bail!("no state for `{env}`: run `drctl apply --env {env}` first");
    }
    let sources = named_outputs();
    let values = outputs(&state, &sources);
    match &args.name {
        Some(name) => {
            let Some((_, address, _)) = sources.iter().find(|(n, _, _)| n == name) else {
                bail!(
                    "no output named `{name}`; the outputs are: {}",
                    sources
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let Some(output) = values.get(name.as_str()) else {
                bail!(
                    "output `{name}` has no value yet: {address} is not in the state of `{env}`; run `drctl apply --env {env}`"
                );
            };
            if args.json {
                println!("{}", serde_json::to_string(&output.value)?);
            } else {
                println!("{}", output.value);
            }
        }
        None if args.json => println!("{}", serde_json::to_string_pretty(&values)?),
        None if values.is_empty() => {
            println!("`{env}` has no outputs yet: run `drctl apply --env {env}`.")
        }
        None => {
            let width = values.keys().map(|k| k.len()).max().unwrap_or(0);
            for (name, output) in &values {
                println!("{name:<width$} = {}", output.value);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
