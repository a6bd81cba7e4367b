//! Colour for a terminal, nothing for a pipe or a file.

use anstyle::{AnsiColor, Style};

/// Whether output is painted. The caller decides (a terminal, NO_COLOR
/// unset, no `--no-color`); renderers only obey.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Palette {
    pub colour: bool,
}

impl Palette {
    pub const PLAIN: Palette = Palette { colour: false };
    pub const COLOUR: Palette = Palette { colour: true };

    /// `text` wrapped in the escape codes of `style`, or as is.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    pub fn green(&self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_palette_adds_no_escape_codes() {
        assert_eq!(Palette::PLAIN.red("x"), "x");
        assert_eq!(Palette::COLOUR.red("x"), "\u{1b}[31mx\u{1b}[0m");
    }
}
