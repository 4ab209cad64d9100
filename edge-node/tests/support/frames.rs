//! Frames for the decoding tests: what the camera path delivers, and what GStreamer alone
//! decodes from the same file, to compare byte for byte.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use edge_node::config::EdgeConfig;
use edge_node::frame::RgbImage;
use edge_node::queue::{FrameQueues, Msg};

/// Frame `n` of a video as RGB: `decode` is the GStreamer chain between the file and
/// `videoconvert` (`decodebin`, or a decoder named outright).
pub fn decoded_frame(path: &Path, decode: &str, n: u32) -> RgbImage {
    decoded_frames(path, decode, n as usize + 1)
        .pop()
        .expect("frames")
        .1
}

/// The first `n` frames of a video as RGB, each with its PTS.
pub fn decoded_frames(path: &Path, decode: &str, n: usize) -> Vec<(Duration, RgbImage)> {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    gst::init().unwrap();
    let p = gst::parse::launch(&format!(
        "filesrc location=\"{}\" ! {decode} ! videoconvert ! video/x-raw,format=RGB ! appsink name=s sync=false",
        path.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = p
        .by_name("s")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let s = sink.pull_sample().expect("frame");
        let info = gstreamer_video::VideoInfo::from_caps(s.caps().unwrap()).unwrap();
        let buffer = s.buffer().unwrap();
        let pts = Duration::from_nanos(buffer.pts().expect("pts").nseconds());
        let b = buffer.map_readable().unwrap();
        let img = RgbImage {
            width: info.width(),
            height: info.height(),
            stride: info.stride()[0] as usize,
            data: b.to_vec(),
        };
        out.push((pts, img));
    }
    p.set_state(gst::State::Null).unwrap();
    out
}

/// The first `n` frames the camera path (`ingest::run_camera`) delivers for the first camera
/// of `cfg`.
pub fn camera_frames(cfg: &EdgeConfig, n: usize) -> Vec<(Duration, Arc<RgbImage>)> {
    edge_node::ingest::init().unwrap();
    let cam = cfg.cameras[0].clone();
    let q = Arc::new(FrameQueues::new(
        vec![edge_node::ingest::overflow_policy(&cam)],
        2,
    ));
    let (q2, stop) = (q.clone(), Arc::new(AtomicBool::new(false)));
    let stop2 = stop.clone();
    let th = std::thread::spawn(move || edge_node::ingest::run_camera(0, &cam, q2, stop2));
    let mut frames = Vec::new();
    while frames.len() < n {
        for m in q.pop_batch(8, Duration::from_millis(200)) {
            if let Msg::Frame(f) = m {
                frames.push((f.pts, f.image));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    q.close();
    th.join().unwrap();
    frames
}

/// How many bytes of two pictures' rows differ (sizes must match).
pub fn bytes_differing(ours: &RgbImage, want: &RgbImage) -> usize {
    assert_eq!((ours.width, ours.height), (want.width, want.height));
    (0..ours.height as usize)
        .flat_map(|y| ours.row(y).iter().zip(want.row(y)))
        .filter(|(a, b)| a != b)
        .count()
}

/// Compares each frame the camera path delivered with the reference decode's frame of the same
/// PTS (by PTS, not by position: what is compared is the picture, and a frame missing on either
/// side must not shift every later comparison). Panics naming the first frame that differs,
/// or a camera frame the reference never decoded (it must decode at least as far).
pub fn assert_same_pictures(
    camera: &[(Duration, Arc<RgbImage>)],
    reference: &[(Duration, RgbImage)],
    what: &str,
) {
    let by_pts: std::collections::HashMap<_, _> =
        reference.iter().map(|(pts, img)| (*pts, img)).collect();
    assert!(!camera.is_empty(), "no camera frames to compare");
    for (n, (pts, img)) in camera.iter().enumerate() {
        let Some(want) = by_pts.get(pts) else {
            let have: Vec<_> = reference.iter().map(|(p, _)| p.as_millis()).collect();
            panic!("camera frame {n} (pts {pts:?}) is not among the reference's (ms): {have:?}");
        };
        let differ = bytes_differing(img, want);
        assert_eq!(
            differ, 0,
            "camera frame {n} (pts {pts:?}): {differ} bytes differ from {what}"
        );
    }
}
