//! The timeline end to end: pages rendered by headless Chromium and read back as a DOM and a
//! screenshot, a 1,000-connection run, and the `timeline` command with its Chrome trace.
//!
//! The browser tests need Debian's `chromium` (`.ci/run` installs it); without it they fail
//! and say so.

mod chromium;
// Drives the binary, which needs the `cli` feature.
#[cfg(feature = "cli")]
mod cli;
mod page;
mod scale;

use scraper::{ElementRef, Html, Selector};
use std::path::PathBuf;
use tcpnotify_sim::report::Timeline;

/// Writes `timeline`'s page as `name`.html in the tests' scratch folder.
pub fn write_page(name: &str, timeline: &Timeline) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("timeline-{name}.html"));
    let html = timeline.html();
    std::fs::write(&path, &html).expect("page written");
    (path, html)
}

/// A rendered DOM, queried with CSS selectors.
pub struct Dom(Html);

impl Dom {
    /// Parses a serialised DOM.
    pub fn parse(html: &str) -> Dom {
        Dom(Html::parse_document(html))
    }

    /// The elements matching `selector`.
    pub fn all(&self, selector: &str) -> Vec<ElementRef<'_>> {
        let selector = Selector::parse(selector).expect("valid selector");
        self.0.select(&selector).collect()
    }

    /// How many elements the document has.
    pub fn elements(&self) -> usize {
        self.all("*").len()
    }
}

/// The text of `element`, its descendants' text joined.
pub fn text(element: &ElementRef<'_>) -> String {
    element.text().collect()
}

/// The labels of the rendered lane rows, in order.
pub fn lane_labels(dom: &Dom) -> Vec<String> {
    dom.all(".row.lane > .label").iter().map(text).collect()
}

/// Checks that a PNG screenshot shows a drawing: its size, several colours, and a fair
/// share of pixels that are not the background's.
pub fn assert_not_blank(png_bytes: &[u8], (width, height): (u32, u32)) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!((frame.width, frame.height), (width, height));
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let colours: std::collections::BTreeSet<&[u8]> = pixels.chunks(channels).collect();
    let background = &pixels[..channels];
    let drawn = pixels.chunks(channels).filter(|p| *p != background).count();
    let share = drawn as f64 / (width * height) as f64;
    assert!(
        colours.len() >= 16,
        "only {} colours in the screenshot",
        colours.len()
    );
    assert!(
        share > 0.03,
        "only {:.1}% of the screenshot is drawn",
        share * 100.0
    );
}
