//! `tcpnotify-sim timeline`: a run drawn as an HTML page and/or a Chrome trace-event file.
//! With `--json`: one `timeline` object naming what was written.

use super::error::CliError;
use super::output::{Output, Printer};
use super::Status;
use crate::report::Timeline;
use crate::scenario::Registry;
use crate::seed::Seed;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The `timeline` object.
#[derive(Serialize)]
struct TimelineRecord {
    /// The scenario file or JSON trace drawn.
    source: String,
    /// What was drawn, in words (`3 lanes in 2 groups, ...`).
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chrome_trace: Option<String>,
    /// How the contract was judged, when a trace did not carry its run's check options.
    #[serde(skip_serializing_if = "Option::is_none")]
    check_note: Option<String>,
}

pub(super) fn timeline(
    out: &Printer,
    registry: &Registry,
    file: &Path,
    seed: Option<u64>,
    output: Option<PathBuf>,
    chrome_trace: Option<PathBuf>,
) -> Result<Status, CliError> {
    // Created before the run, so an unwritable path is refused before anything runs.
    let html = output.as_deref().map(Output::create).transpose()?;
    let chrome = chrome_trace.as_deref().map(Output::create).transpose()?;
    let timeline = Timeline::load(file, seed.map(Seed), registry)?;
    let mut record = TimelineRecord {
        source: file.display().to_string(),
        description: timeline.to_string(),
        html: None,
        chrome_trace: None,
        check_note: timeline.check_note.clone(),
    };
    if let Some(note) = &timeline.check_note {
        out.say(format!("{}: {note}", file.display()));
    }
    // Each drawn only if asked for: a large run's page takes a while to render.
    let renderers: [fn(&Timeline) -> String; 2] = [Timeline::html, Timeline::chrome_trace];
    for ((written, render), field) in [html, chrome]
        .into_iter()
        .zip(renderers)
        .zip([&mut record.html, &mut record.chrome_trace])
    {
        if let Some(written) = written {
            let path = written.path.clone();
            written.commit(&render(&timeline))?;
            out.say(format!("wrote {} ({timeline})", path.display()));
            *field = Some(path.display().to_string());
        }
    }
    out.record("timeline", &record);
    Ok(Status::Passed)
}
