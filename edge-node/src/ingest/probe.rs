//! What a recorded file holds, before it is analysed: its length and its picture size, or
//! GStreamer's own words on why it cannot be read (not a video, truncated, a codec this box
//! has no decoder for). A forensic job fails with that reason instead of a bare "error".

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// None when the container does not say (some streams are only known by reading them).
    pub duration: Option<Duration>,
    pub width: u32,
    pub height: u32,
}

/// How long a file may take to start decoding (a network mount, a huge MKV index).
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens `path` to its first decoded frame and reads its length and size.
pub fn probe(path: &Path) -> Result<Probe, String> {
    super::init().map_err(|e| e.to_string())?;
    let launch = format!(
        "uridecodebin uri={} ! videoconvert ! videoflip video-direction=auto ! fakesink name=sink",
        super::gst_uri(path)
    );
    let pipeline = gst::parse::launch(&launch)
        .map_err(|e| format!("pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "pipeline: not a pipeline".to_string())?;
    let outcome = preroll(&pipeline);
    let size = pipeline
        .by_name("sink")
        .and_then(|s| s.static_pad("sink"))
        .and_then(|p| p.current_caps())
        .and_then(|c| gstreamer_video::VideoInfo::from_caps(&c).ok())
        .map(|i| (i.width(), i.height()));
    let duration = pipeline
        .query_duration::<gst::ClockTime>()
        .map(|d| Duration::from_nanos(d.nseconds()));
    let _ = pipeline.set_state(gst::State::Null);
    outcome?;
    let (width, height) = size.ok_or("no video stream")?;
    Ok(Probe {
        duration,
        width,
        height,
    })
}

/// Pauses the pipeline and waits for its first frame (or its error).
fn preroll(pipeline: &gst::Pipeline) -> Result<(), String> {
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| "cannot be opened".to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let deadline = std::time::Instant::now() + PROBE_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no frame decoded within {} s",
                PROBE_TIMEOUT.as_secs()
            ));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::AsyncDone(_) => return Ok(()),
            gst::MessageView::Error(e) => {
                let debug = e.debug().map(|d| d.to_string()).unwrap_or_default();
                // The first line of GStreamer's debug names the element; enough to act on.
                let hint = debug.lines().next().unwrap_or("");
                return Err(format!("{} ({hint})", e.error()));
            }
            gst::MessageView::Eos(_) => return Err("ends before its first frame".into()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_video_is_refused_with_gstreamer_s_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.mp4");
        std::fs::write(&p, b"this is a text file, not a video").unwrap();
        let err = probe(&p).unwrap_err();
        assert!(!err.is_empty(), "{err}");
        let err = probe(&dir.path().join("missing.mp4")).unwrap_err();
        assert!(
            err.to_lowercase().contains("not") || err.contains("exist"),
            "{err}"
        );
    }
}
