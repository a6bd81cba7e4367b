//! Live progress of apply and destroy. On a terminal: a spinner per
//! operation in flight with its elapsed time and what it waits for,
//! finished lines printed above them. Otherwise one plain line per event,
//! and for each operation still running a line every
//! [`drctl_view::heartbeat::HEARTBEAT`] saying for how long and what it
//! waits for (CI logs must not go silent during a 40-minute wait); quiet:
//! failures only. Every event is also recorded in the run log (timings for
//! the summary, the JSON report and the timeline).

use std::collections::HashMap;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use drctl_core::executor::Event;
use drctl_core::operations::OpKind;
use drctl_view::heartbeat::Heartbeats;
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
    live: Option<Arc<Live>>,
    beats: Arc<Mutex<Heartbeats>>,
    heartbeat: Option<Heartbeat>,
}

struct Live {
    multi: MultiProgress,
    spinners: Mutex<HashMap<usize, (ProgressBar, String)>>,
    style: ProgressStyle,
}

/// The thread that, every second, prints the heartbeat lines due (plain
/// output) or puts each operation's status into its spinner (live);
/// stopped when dropped.
struct Heartbeat {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn verb(kind: OpKind) -> (&'static str, &'static str) {
    match kind {
        OpKind::Create => ("Creating...", "Creation complete"),
        OpKind::Update => ("Modifying...", "Modifications complete"),
        OpKind::Delete => ("Destroying...", "Destruction complete"),
    }
}

/// One second's work of the heartbeat thread.
fn beat(beats: &Mutex<Heartbeats>, live: Option<&Live>, sink: Sink) {
    let mut beats = beats.lock().expect("progress lock");
    match live {
        Some(live) => {
            let spinners = live.spinners.lock().expect("progress lock");
            for (op, status) in beats.statuses() {
                if let (Some((bar, start_line)), Some(status)) = (spinners.get(&op), status) {
                    bar.set_message(format!("{start_line} {status}"));
                }
            }
        }
        None => {
            for line in beats.due(Instant::now()) {
                match sink {
                    Sink::Stdout => println!("{line}"),
                    Sink::Stderr => eprintln!("{line}"),
                }
            }
        }
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
        let live = live.map(Arc::new);
        let beats: Arc<Mutex<Heartbeats>> = Arc::default();
        let heartbeat = (!ui.quiet).then(|| {
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let beats = Arc::clone(&beats);
            let live = live.clone();
            let thread = std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_secs(1))
                {
                    beat(&beats, live.as_deref(), sink);
                }
            });
            Heartbeat {
                stop: Some(stop),
                thread: Some(thread),
            }
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
            beats,
            heartbeat,
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
            Event::Started {
                address,
                kind,
                status,
            } => {
                if let (Some(live), Some(op)) = (&self.live, op) {
                    let bar = live.multi.add(ProgressBar::new_spinner());
                    let start_line = format!("{address}: {}", verb(*kind).0);
                    bar.set_style(live.style.clone());
                    bar.set_message(start_line.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    live.spinners
                        .lock()
                        .expect("progress lock")
                        .insert(op, (bar, start_line));
                } else if !self.quiet {
                    self.print(&format!("{address}: {}", verb(*kind).0));
                }
                if let Some(op) = op {
                    self.beats.lock().expect("progress lock").started(
                        op,
                        address,
                        *kind,
                        status,
                        Instant::now(),
                    );
                }
            }
            Event::Finished {
                address,
                kind,
                elapsed,
                error,
            } => {
                if let Some(op) = op {
                    self.beats.lock().expect("progress lock").finished(op);
                }
                if let (Some(live), Some(op)) = (&self.live, op)
                    && let Some((spinner, _)) =
                        live.spinners.lock().expect("progress lock").remove(&op)
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
    pub fn into_log(mut self) -> RunLog {
        self.heartbeat.take();
        if let Some(live) = &self.live {
            let _ = live.multi.clear();
        }
        self.log.into_inner().expect("progress lock")
    }
}
