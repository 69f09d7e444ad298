//! What a long command shows on stderr while it works: a progress bar (drawn only when stderr
//! is a terminal), each seed before it runs when asked (`-v`), and lines printed above the
//! bar as things happen. Sweeps and determinism checks share it, so both look the same.
//!
//! The bar is the `progress` feature's (indicatif; the default `cli` feature turns it on).
//! Built without it, a command asked for a bar prints what it would print with a hidden one.

#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressStyle};

/// The progress of a command over seeds, on stderr.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
}

impl Progress {
    /// A bar over `total` seeds (`None`: no known end) if `bar`, and each seed announced
    /// before it runs if `verbose`.
    pub(crate) fn new(bar: bool, total: Option<u64>, verbose: bool) -> Self {
        Progress {
            bar: bar.then(|| new_bar(total)),
            verbose,
        }
    }

    /// Prints `line` on stderr, above the bar if there is one.
    pub(crate) fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{}", line.as_ref()),
        }
    }

    /// Prints `line` as [`println`](Self::println) does, but only where someone watches:
    /// when the bar is drawn (stderr is a terminal) or when verbose.
    pub(crate) fn event(&self, line: impl AsRef<str>) {
        let drawn = self.bar.as_ref().is_some_and(|bar| !bar.is_hidden());
        if drawn || self.verbose {
            self.println(line);
        }
    }

    /// Announces a seed about to run, if verbose.
    pub(crate) fn starting(&self, seed: impl std::fmt::Display) {
        if self.verbose {
            self.println(format!("seed {seed}: running"));
        }
    }

    /// Counts one seed done.
    pub(crate) fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// An indicatif bar over `total` seeds, drawn only when stderr is a terminal.
#[cfg(feature = "progress")]
fn new_bar(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{elapsed_precise} [{bar:40}] {pos}/{len} seeds ({per_sec}, eta {eta})",
        ),
        None => (
            ProgressBar::no_length(),
            "{elapsed_precise} {pos} seeds ({per_sec})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Without the `progress` feature: a bar that is never drawn, as indicatif's is when stderr
/// is not a terminal, so every line goes straight to stderr.
#[cfg(not(feature = "progress"))]
struct ProgressBar;

#[cfg(not(feature = "progress"))]
impl ProgressBar {
    fn is_hidden(&self) -> bool {
        true
    }

    fn println(&self, _line: impl AsRef<str>) {}

    fn inc(&self, _delta: u64) {}

    fn finish_and_clear(&self) {}
}

#[cfg(not(feature = "progress"))]
fn new_bar(_total: Option<u64>) -> ProgressBar {
    ProgressBar
}
