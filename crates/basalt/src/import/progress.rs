//! Import progress on stderr: a bar per class when stderr is a terminal, otherwise a plain line
//! per class every few seconds and when it ends (logs and CI output stay readable).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    Auto,
    /// Always a bar.
    Bar,
    /// Plain lines.
    Plain,
    /// Nothing.
    None,
}

/// How often plain mode reports a class still running.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Progress of one class.
pub enum ClassProgress {
    /// An indicatif bar.
    Bar(ProgressBar),
    /// Plain lines.
    Plain {
        /// The class.
        class: String,
        /// Rows in the source.
        total: u64,
        /// When the last line was printed.
        last: Instant,
    },
    /// Silent.
    None,
}

impl ClassProgress {
    /// Starts reporting a class of `total` rows, `done` of them handled in earlier runs.
    pub fn start(mode: ProgressMode, class: &str, total: u64, done: u64) -> ClassProgress {
        let bar = match mode {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Bar => true,
            ProgressMode::Plain => false,
            ProgressMode::None => return ClassProgress::None,
        };
        if bar {
            let pb = ProgressBar::new(total.max(done));
            let style = ProgressStyle::with_template(
                "{prefix:>20} [{bar:30}] {pos}/{len} rows  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            pb.set_style(style);
            pb.set_prefix(class.to_owned());
            pb.set_position(done);
            return ClassProgress::Bar(pb);
        }
        let p = ClassProgress::Plain {
            class: class.to_owned(),
            total,
            last: Instant::now(),
        };
        let resumed = if done > 0 {
            format!(" (resuming after {done})")
        } else {
            String::new()
        };
        line(&format!("import {class}: {total} rows{resumed}"));
        p
    }

    /// `done` rows of the class handled so far.
    pub fn set(&mut self, done: u64) {
        match self {
            ClassProgress::Bar(pb) => {
                if done > pb.length().unwrap_or(0) {
                    pb.set_length(done);
                }
                pb.set_position(done);
            }
            ClassProgress::Plain { class, total, last } => {
                if last.elapsed() >= PLAIN_EVERY {
                    *last = Instant::now();
                    line(&format!("import {class}: {done}/{total} rows"));
                }
            }
            ClassProgress::None => {}
        }
    }

    /// Ends the class with a one-line outcome.
    pub fn finish(self, outcome: &str) {
        match self {
            ClassProgress::Bar(pb) => pb.finish_with_message(outcome.to_owned()),
            ClassProgress::Plain { class, .. } => line(&format!("import {class}: {outcome}")),
            ClassProgress::None => {}
        }
    }
}

fn line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
