//! How output looks for this process: colour, live spinners or plain
//! lines, quiet. Decided once from the global flags and the terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

use drctl_view::style::Palette;

use crate::cli::Global;

#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// Colour on stdout: a terminal, NO_COLOR unset or empty, no --no-color.
    pub palette: Palette,
    /// Spinners on stdout (a terminal, not --quiet).
    pub live: bool,
    /// Only failures and the final summary of a run.
    pub quiet: bool,
}

static UI: OnceLock<Ui> = OnceLock::new();

impl Ui {
    fn decide(global: &Global) -> Ui {
        let terminal = std::io::stdout().is_terminal();
        // https://no-color.org: set and not empty.
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            palette: Palette {
                colour: terminal && !no_color_env && !global.no_color,
            },
            live: terminal && !global.quiet,
            quiet: global.quiet,
        }
    }
}

/// Called once, before any output.
pub fn init(global: &Global) {
    let _ = UI.set(Ui::decide(global));
}

pub fn get() -> Ui {
    *UI.get_or_init(|| Ui {
        palette: Palette::PLAIN,
        live: false,
        quiet: false,
    })
}
