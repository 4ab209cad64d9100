//! Camera ingest with GStreamer: every source kind goes through one pipeline shape,
//!
//! `<source> ! videorate drop-only max-rate=<detect fps> ! videoconvert ! RGB ! appsink`,
//!
//! so frames are thinned to the detect rate before colour conversion (cheap), and Rust only
//! ever sees the frames it will use. Hardware decoders win decodebin's ranking when present.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use matthan_schema::CameraState;

pub mod probe;
pub mod source;

pub use source::{DecoderChoice, Source, source};

use crate::config::CameraConfig;
use crate::frame::{Frame, RgbImage};
use crate::queue::{FrameQueues, Msg, Overflow};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("GStreamer could not start: {0}")]
    Init(String),
    #[error("camera {camera}: cannot build pipeline: {reason}")]
    Build { camera: String, reason: String },
}

const HW_DECODERS: [(&str, DecoderChoice); 6] = [
    ("nvh264dec", DecoderChoice::Nvidia),
    ("nvh265dec", DecoderChoice::Nvidia),
    ("vaapih264dec", DecoderChoice::Vaapi),
    ("vaapih265dec", DecoderChoice::Vaapi),
    ("vah264dec", DecoderChoice::Vaapi),
    ("vah265dec", DecoderChoice::Vaapi),
];

pub fn init() -> Result<(), IngestError> {
    gst::init().map_err(|e| IngestError::Init(e.to_string()))
}

/// Raises the chosen hardware decoders above the software ones (or sinks them all for
/// `software` and `openh264`; the latter also raises OpenH264 above libav). Ranks are
/// process-wide, so every camera of a box makes the same choice (checked with the config).
pub fn rank_decoders(choice: DecoderChoice) -> Result<(), IngestError> {
    let registry = gst::Registry::get();
    for (name, kind) in HW_DECODERS {
        let Some(feature) = registry.lookup_feature(name) else {
            continue;
        };
        let wanted = match choice {
            DecoderChoice::Software | DecoderChoice::Openh264 => gst::Rank::NONE,
            DecoderChoice::Auto => gst::Rank::PRIMARY + 1,
            c if c == kind => gst::Rank::PRIMARY + 1,
            _ => gst::Rank::NONE,
        };
        feature.set_rank(wanted);
        tracing::debug!(decoder = name, rank = ?wanted, "decoder rank");
    }
    // Set either way (MARGINAL is how it is packaged), so the ranks follow the last choice.
    let openh264 = registry.lookup_feature("openh264dec");
    match (choice, openh264) {
        (DecoderChoice::Openh264, None) => {
            return Err(IngestError::Init(
                "decoder = \"openh264\": GStreamer has no openh264dec element \
                 (Debian: gstreamer1.0-plugins-bad)"
                    .into(),
            ));
        }
        (DecoderChoice::Openh264, Some(f)) => f.set_rank(gst::Rank::PRIMARY + 1),
        (_, Some(f)) => f.set_rank(gst::Rank::MARGINAL),
        (_, None) => {}
    }
    Ok(())
}

/// Whether a camera's frames may be dropped under load (live) or must wait (recorded file).
pub fn overflow_policy(cam: &CameraConfig) -> Overflow {
    match cam.source {
        Source::File(_) if !cam.realtime => Overflow::Block,
        _ => Overflow::DropOldest,
    }
}

pub fn describe(cam: &CameraConfig) -> String {
    let src = match &cam.source {
        Source::File(p) => format!("uridecodebin name=dec uri={}", gst_uri(p)),
        // The URL (credentials and all) is set as a property after parsing, never pasted into
        // the launch string, where a quote or space in a password would change the pipeline.
        Source::Rtsp { .. } => "uridecodebin name=dec".to_string(),
        Source::V4l2(dev) => format!("v4l2src device=\"{}\" ! decodebin name=dec", dev.display()),
    };
    // A phone's recording may say it is rotated (an orientation tag): frames are turned
    // upright after the rate filter, so only analysed frames pay for it.
    let flip = match cam.source {
        Source::File(_) => " ! videoflip video-direction=auto",
        _ => "",
    };
    format!(
        "{src} ! videorate drop-only=true max-rate={fps} ! videoconvert{flip} ! video/x-raw,format=RGBx ! \
         appsink name=sink sync={sync} max-buffers=2 enable-last-sample=false",
        fps = cam.detect_fps,
        sync = cam.realtime,
    )
}

pub(crate) fn gst_uri(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("file://{}", abs.display()))
}

/// The mapped RGBx buffer as packed RGB rows. `videoconvert` writes 32-bit pixels faster than
/// 24-bit ones with the same colours (vtest.avi, 795 frames: 0.67 s of CPU against 0.88 s), and
/// dropping every fourth byte with SIMD here costs a fraction of the difference.
fn rgb_of(map: &[u8], info: &gst_video::VideoInfo) -> Result<RgbImage, gst::FlowError> {
    let stride = info.stride()[0] as usize;
    let (w, h) = (info.width(), info.height());
    // Whole rows only: the shuffle walks the source a stride at a time.
    let src = map
        .get(..stride * h as usize)
        .ok_or(gst::FlowError::Error)?;
    let mut data = vec![0u8; w as usize * 3 * h as usize];
    yuvutils_rs::rgba_to_rgb(src, stride as u32, &mut data, w * 3, w, h).map_err(|e| {
        tracing::error!(error = %e, "repacking a frame to RGB");
        gst::FlowError::Error
    })?;
    Ok(RgbImage {
        width: w,
        height: h,
        stride: w as usize * 3,
        data,
    })
}

/// Runs one camera until its source ends (files), or until `stop` (live sources restart on
/// error with exponential backoff). Meant for a thread of its own.
pub fn run_camera(
    index: usize,
    cam: &CameraConfig,
    queues: Arc<FrameQueues>,
    stop: Arc<AtomicBool>,
) {
    let id: Arc<str> = Arc::from(cam.id.as_str());
    let live = !matches!(cam.source, Source::File(_));
    if !live && queues.resume[index].load(Ordering::Relaxed) == u64::MAX {
        // Analysed to its end in an earlier run (see pipeline/resume.rs).
        queues.push(Msg::End {
            camera: index,
            error: None,
        });
        return;
    }
    let mut backoff = Duration::from_secs(1);
    let mut seq = 0u64;
    loop {
        let before = seq;
        let outcome = run_once(live, index, &id, cam, &queues, &stop, &mut seq)
            .map_err(|e| source::redact(&e));
        if seq > before {
            // It worked for a while: the next failure starts the backoff afresh.
            backoff = Duration::from_secs(1);
        }
        match outcome {
            Ok(()) if !live && cam.loop_file && !stop.load(Ordering::Relaxed) => {
                tracing::debug!(camera = %id, "end of file; looping");
                continue;
            }
            Ok(()) if !live => {
                queues.push(Msg::End {
                    camera: index,
                    error: None,
                });
                return;
            }
            Ok(()) => {}
            Err(e) if !live => {
                tracing::error!(camera = %id, error = %e, "camera failed");
                queues.push(Msg::End {
                    camera: index,
                    error: Some(e),
                });
                return;
            }
            Err(e) => {
                tracing::warn!(camera = %id, error = %e, retry_in = ?backoff, "camera down");
                queues.push(Msg::Status {
                    camera: index,
                    state: CameraState::Down,
                    detail: Some(e),
                });
            }
        }
        if stop.load(Ordering::Relaxed) {
            queues.push(Msg::End {
                camera: index,
                error: None,
            });
            return;
        }
        let until = std::time::Instant::now() + backoff;
        while std::time::Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                queues.push(Msg::End {
                    camera: index,
                    error: None,
                });
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// A live source silent this long is restarted.
const STALL_AFTER: Duration = Duration::from_secs(10);

/// The wall-clock time of the stream's first frame, and that frame's PTS.
type ClockBase = (DateTime<Utc>, gst::ClockTime);

/// Sets the decoder's threads as it is added (libav's `avdec_*` take `max-threads`; hardware
/// and OpenH264 decoders have no such setting) and logs which decoder the camera got.
fn watch_decoder(pipeline: &gst::Pipeline, id: &Arc<str>, threads: Option<NonZeroU32>) {
    let cam_id = id.clone();
    pipeline.connect_deep_element_added(move |_, _, el| {
        if let Some(f) = el.factory()
            && f.klass().contains("Decoder")
            && f.klass().contains("Video")
        {
            let libav = el.find_property("max-threads").is_some();
            if let Some(n) = threads.filter(|_| libav) {
                el.set_property("max-threads", n.get() as i32);
            }
            // 0: libav's own choice; absent: a decoder without the setting.
            let max_threads = libav.then(|| el.property::<i32>("max-threads"));
            tracing::info!(camera = %cam_id, decoder = %f.name(), ?max_threads, "video decoder");
        }
    });
}

/// One pipeline lifetime. Ok on end of stream or stop; Err with GStreamer's own words otherwise.
fn run_once(
    live: bool,
    index: usize,
    id: &Arc<str>,
    cam: &CameraConfig,
    queues: &Arc<FrameQueues>,
    stop: &Arc<AtomicBool>,
    seq: &mut u64,
) -> Result<(), String> {
    let pipeline = gst::parse::launch(&describe(cam))
        .map_err(|e| format!("pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "pipeline: not a pipeline".to_string())?;
    if let Source::Rtsp { tcp, url } = &cam.source {
        let tcp = *tcp;
        let dec = pipeline.by_name("dec").expect("named in describe");
        dec.set_property("uri", url);
        dec.connect("source-setup", false, move |args| {
            if let Ok(src) = args[1].get::<gst::Element>()
                && src.find_property("protocols").is_some()
            {
                src.set_property_from_str("protocols", if tcp { "tcp" } else { "udp" });
                src.set_property("latency", 200u32);
            }
            None
        });
    }
    watch_decoder(&pipeline, id, cam.decode_threads);
    let sink = pipeline
        .by_name("sink")
        .expect("named in describe")
        .downcast::<gst_app::AppSink>()
        .expect("appsink");

    // Capture time = wall clock at the first frame + (PTS - first PTS): monotonic, and a
    // replayed file gets times as if it were being filmed now.
    let base: Arc<std::sync::Mutex<Option<ClockBase>>> = Arc::default();
    let start_at = cam.start_at;
    let q = queues.clone();
    let cam_id = id.clone();
    let cell = cam.motion.as_ref().map(|m| m.cell_px);
    let first = Arc::new(AtomicBool::new(true));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(*seq));
    let counter_cb = counter.clone();
    // When the last frame arrived, for the stall watchdog (live sources only).
    let last_frame = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let last_frame_cb = last_frame.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                *last_frame_cb.lock().expect("watchdog lock") = std::time::Instant::now();
                let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
                    return Err(gst::FlowError::Error);
                };
                let info = gst_video::VideoInfo::from_caps(caps)
                    .map_err(|_| gst::FlowError::NotNegotiated)?;
                let pts = buffer.pts().unwrap_or(gst::ClockTime::ZERO);
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let (w, h) = (info.width(), info.height());
                let captured = {
                    let mut b = base.lock().expect("base lock");
                    let (wall, pts0) =
                        *b.get_or_insert_with(|| (start_at.unwrap_or_else(Utc::now), pts));
                    wall + chrono::Duration::nanoseconds(pts.saturating_sub(pts0).nseconds() as i64)
                };
                // Frames an earlier run analysed (a resumed file) are decoded but not analysed
                // again; capture times still count from the file's first frame.
                if !live && pts.nseconds() < q.resume[index].load(Ordering::Relaxed) {
                    return Ok(gst::FlowSuccess::Ok);
                }
                if first.swap(false, Ordering::Relaxed) {
                    q.push(Msg::Status {
                        camera: index,
                        state: CameraState::Up,
                        detail: Some(format!("{w}x{h}")),
                    });
                }
                let image = Arc::new(rgb_of(&map, &info)?);
                let frame = Frame {
                    camera: index,
                    camera_id: cam_id.clone(),
                    seq: counter_cb.fetch_add(1, Ordering::Relaxed),
                    pts: Duration::from_nanos(pts.nseconds()),
                    captured,
                    thumb: cell.map(|c| crate::motion::Thumb::of(&image, c)),
                    image,
                };
                if q.push(Msg::Frame(frame)) {
                    Ok(gst::FlowSuccess::Ok)
                } else {
                    Err(gst::FlowError::Flushing)
                }
            })
            .build(),
    );

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start: {e}"))?;
    let result = watch_bus(&pipeline, &sink, live, stop, &last_frame, id);
    let _ = pipeline.set_state(gst::State::Null);
    *seq = counter.load(Ordering::Relaxed);
    result
}

/// Waits on the pipeline's bus until end of stream, an error, a stall of a live source, or
/// `stop`. Ok on end of stream or stop; Err with GStreamer's own words otherwise.
fn watch_bus(
    pipeline: &gst::Pipeline,
    sink: &gst_app::AppSink,
    live: bool,
    stop: &AtomicBool,
    last_frame: &std::sync::Mutex<std::time::Instant>,
    id: &str,
) -> Result<(), String> {
    let bus = pipeline.bus().expect("pipelines have a bus");
    loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(200)) else {
            // A live source that stops sending without closing (a hung camera, a half-open TCP
            // connection) never errors by itself: restart it.
            let quiet = last_frame.lock().expect("watchdog lock").elapsed();
            if live && quiet >= STALL_AFTER {
                break Err(format!("no frames for {} s", quiet.as_secs()));
            }
            continue;
        };
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(_) => {
                // The bus can announce EOS while the appsink still holds samples (its queue, and
                // the one a blocked callback is handing to a full frame queue): stopping now
                // would lose the last frames of a file. Wait until every sample was pulled.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !sink.is_eos()
                    && !stop.load(Ordering::Relaxed)
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                break Ok(());
            }
            MessageView::Error(e) => {
                let src = e
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default();
                let debug = e.debug().map(|d| format!(" ({d})")).unwrap_or_default();
                let mut text = format!("{}{debug} [{src}]", e.error());
                text.truncate(600);
                break Err(text);
            }
            MessageView::Warning(w) => {
                tracing::warn!(camera = %id, warning = %w.error(), "gstreamer")
            }
            _ => {}
        }
    }
}
