//! A violation's clip: the ring buffer's frames encoded to H.264 in MP4 by GStreamer
//! (x264, else OpenH264), so any player and court system can open it.

use std::path::Path;
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::frame::RgbImage;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("no H.264 encoder (install gstreamer1.0-plugins-ugly for x264enc, or openh264)")]
    NoEncoder,
    #[error("no frames to encode")]
    Empty,
    #[error("GStreamer: {0}")]
    Gst(String),
}

fn gst_err(e: impl std::fmt::Display) -> ClipError {
    ClipError::Gst(e.to_string())
}

/// Encodes `frames` (all of the first frame's size; others are skipped) at `fps` into `out`.
pub fn encode_mp4(frames: &[Arc<RgbImage>], fps: u32, out: &Path) -> Result<(), ClipError> {
    let first = frames.first().ok_or(ClipError::Empty)?;
    let (w, h) = (first.width, first.height);
    let encoder = if gst::ElementFactory::find("x264enc").is_some() {
        "x264enc speed-preset=veryfast tune=zerolatency key-int-max=30 bitrate=1500"
    } else if gst::ElementFactory::find("openh264enc").is_some() {
        "openh264enc bitrate=1500000"
    } else {
        return Err(ClipError::NoEncoder);
    };
    let desc = format!(
        "appsrc name=src format=time ! videoconvert ! video/x-raw,format=I420 ! {encoder} ! h264parse ! mp4mux ! filesink name=sink"
    );
    let pipeline = gst::parse::launch(&desc)
        .map_err(gst_err)?
        .downcast::<gst::Pipeline>()
        .map_err(|_| ClipError::Gst("not a pipeline".into()))?;
    let sink = pipeline.by_name("sink").expect("named in the description");
    sink.set_property("location", out.to_string_lossy().to_string());
    let src = pipeline
        .by_name("src")
        .expect("named in the description")
        .downcast::<gst_app::AppSrc>()
        .map_err(|_| ClipError::Gst("appsrc".into()))?;
    let info = gstreamer_video::VideoInfo::builder(gstreamer_video::VideoFormat::Rgb, w, h)
        .fps(gst::Fraction::new(fps as i32, 1))
        .build()
        .map_err(gst_err)?;
    src.set_caps(Some(&info.to_caps().map_err(gst_err)?));
    let stride = info.stride()[0] as usize;
    pipeline.set_state(gst::State::Playing).map_err(gst_err)?;
    let result = (|| {
        let frame_ns = 1_000_000_000u64 / fps as u64;
        for (i, f) in frames
            .iter()
            .filter(|f| f.width == w && f.height == h)
            .enumerate()
        {
            let mut data = vec![0u8; stride * h as usize];
            for y in 0..h as usize {
                data[y * stride..y * stride + w as usize * 3].copy_from_slice(f.row(y));
            }
            let mut buf = gst::Buffer::from_mut_slice(data);
            {
                let b = buf.get_mut().expect("fresh buffer");
                b.set_pts(gst::ClockTime::from_nseconds(i as u64 * frame_ns));
                b.set_duration(gst::ClockTime::from_nseconds(frame_ns));
            }
            src.push_buffer(buf).map_err(gst_err)?;
        }
        src.end_of_stream().map_err(gst_err)?;
        let bus = pipeline.bus().expect("pipelines have a bus");
        for msg in bus.iter_timed(gst::ClockTime::from_seconds(60)) {
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(e) => {
                    return Err(ClipError::Gst(format!(
                        "{} ({})",
                        e.error(),
                        e.debug().map(|d| d.to_string()).unwrap_or_default()
                    )));
                }
                _ => {}
            }
        }
        Err(ClipError::Gst("encoding did not finish within 60 s".into()))
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_mp4_that_gstreamer_can_read_back() {
        gst::init().unwrap();
        // 250 px wide: rows of 750 bytes, which GStreamer pads to 752.
        let frames: Vec<Arc<RgbImage>> = (0..10u8)
            .map(|i| Arc::new(RgbImage::filled(250, 120, [i * 20, 100, 200 - i * 10])))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clip.mp4");
        encode_mp4(&frames, 5, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.len() > 500, "{} bytes", bytes.len());
        assert_eq!(&bytes[4..8], b"ftyp", "an MP4 starts with its ftyp box");
        // Read it back: the clip decodes to 10 frames.
        let p = gst::parse::launch(&format!(
            "filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! fakesink name=s signal-handoffs=false",
            out.display()
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        p.set_state(gst::State::Playing).unwrap();
        let bus = p.bus().unwrap();
        let eos = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        assert!(matches!(eos.unwrap().view(), gst::MessageView::Eos(_)));
        let _ = p.set_state(gst::State::Null);
        assert!(matches!(encode_mp4(&[], 5, &out), Err(ClipError::Empty)));
    }
}
