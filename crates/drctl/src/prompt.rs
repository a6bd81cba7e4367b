//! Asking the operator before a change.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

/// Whether the operator approves `what`: yes with `--auto-approve`, else
/// only a typed `yes` on a terminal.
pub fn confirm(what: &str, auto_approve: bool) -> Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "standard input is not a terminal, so drctl cannot ask for confirmation; review the plan and pass --auto-approve"
        );
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
