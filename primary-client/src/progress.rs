//! Progress bars for image downloads and per-Secondary CAN transfers. Drawn on stderr only
//! when it is a terminal and the output is not JSON; otherwise every bar is hidden and costs
//! nothing.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where bars go.
#[derive(Debug, Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Bars on stderr if it is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Progress {
        let shown = enabled && std::io::stderr().is_terminal();
        Progress {
            bars: shown.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// No bars at all.
    pub fn hidden() -> Progress {
        Progress { bars: None }
    }

    /// A bar of `length` bytes labelled `label`.
    pub fn bar(&self, label: &str, length: u64) -> ProgressBar {
        let Some(bars) = &self.bars else { return ProgressBar::hidden() };
        let bar = bars.add(ProgressBar::new(length));
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        bar
    }
}
