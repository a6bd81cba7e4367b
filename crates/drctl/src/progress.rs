//! Live progress of apply and destroy. On a terminal: a spinner per
//! operation in flight with its elapsed time, finished lines printed above
//! them. Otherwise one plain line per event; quiet: failures only. Every
//! event is also recorded in the run log (timings for the summary, the
//! JSON report and the timeline).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drctl_core::executor::Event;
use drctl_core::operations::OpKind;
use drctl_view::run::RunLog;
use drctl_view::style::Palette;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::Ui;

/// Where the plain lines go: stdout, or stderr when stdout carries JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

pub struct Progress {
    log: Mutex<RunLog>,
    origin: Instant,
    palette: Palette,
    quiet: bool,
    sink: Sink,
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    spinners: Mutex<HashMap<usize, ProgressBar>>,
    style: ProgressStyle,
}

fn verb(kind: OpKind) -> (&'static str, &'static str) {
    match kind {
        OpKind::Create => ("Creating...", "Creation complete"),
        OpKind::Update => ("Modifying...", "Modifications complete"),
        OpKind::Delete => ("Destroying...", "Destruction complete"),
    }
}

use drctl_view::duration as secs;

impl Progress {
    pub fn new(log: RunLog, ui: Ui, sink: Sink) -> Self {
        let live = (ui.live && sink == Sink::Stdout).then(|| Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            spinners: Mutex::default(),
            style: ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .expect("a valid template"),
        });
        Self {
            log: Mutex::new(log),
            origin: Instant::now(),
            palette: if sink == Sink::Stdout {
                ui.palette
            } else {
                Palette::PLAIN
            },
            quiet: ui.quiet,
            sink,
            live,
        }
    }

    fn print(&self, line: &str) {
        match (&self.live, self.sink) {
            (Some(live), _) => {
                let _ = live.multi.println(line);
            }
            (None, Sink::Stdout) => println!("{line}"),
            (None, Sink::Stderr) => eprintln!("{line}"),
        }
    }

    pub fn observe(&self, event: &Event) {
        let op = self
            .log
            .lock()
            .expect("progress lock")
            .observe(event, self.origin.elapsed());
        let p = self.palette;
        match event {
            Event::Started { address, kind } => {
                if let (Some(live), Some(op)) = (&self.live, op) {
                    let spinner = live.multi.add(ProgressBar::new_spinner());
                    spinner.set_style(live.style.clone());
                    spinner.set_message(format!("{address}: {}", verb(*kind).0));
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    live.spinners
                        .lock()
                        .expect("progress lock")
                        .insert(op, spinner);
                } else if !self.quiet {
                    self.print(&format!("{address}: {}", verb(*kind).0));
                }
            }
            Event::Finished {
                address,
                kind,
                elapsed,
                error,
            } => {
                if let (Some(live), Some(op)) = (&self.live, op)
                    && let Some(spinner) = live.spinners.lock().expect("progress lock").remove(&op)
                {
                    spinner.finish_and_clear();
                    live.multi.remove(&spinner);
                }
                match error {
                    None if !self.quiet => self.print(&format!(
                        "{address}: {} after {}",
                        p.green(verb(*kind).1),
                        secs(*elapsed)
                    )),
                    None => {}
                    Some(e) => self.print(&format!(
                        "{address}: {} after {}: {e}",
                        p.red("FAILED"),
                        secs(*elapsed)
                    )),
                }
            }
            Event::Skipped { address, because } => {
                if !self.quiet {
                    self.print(&format!(
                        "{address}: {}, because {because} failed",
                        p.yellow("skipped")
                    ));
                }
            }
        }
    }

    /// The run log, once the run is over.
    pub fn into_log(self) -> RunLog {
        if let Some(live) = &self.live {
            let _ = live.multi.clear();
        }
        self.log.into_inner().expect("progress lock")
    }
}
