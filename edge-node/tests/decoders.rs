//! Every supported output layout, through the real ONNX Runtime, on generated models whose
//! outputs are known exactly (tests/support/gen_models.py).

mod support;

use std::path::Path;

use edge_node::config::EdgeConfig;
use edge_node::detect::{Detection, Detector};
use edge_node::frame::RgbImage;
use support::frames::decoded_frame;

fn detector(model: &Path, model_extra: &str) -> Result<Detector, String> {
    support::ort();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.avi");
    std::fs::write(&video, b"x").unwrap();
    let text = format!(
        "site = \"s\"\n[mqtt]\n[model]\npath = \"{}\"\nthreads = 1\n{model_extra}\n[[cameras]]\nid = \"c\"\nurl = \"file://{}\"\n",
        model.display(),
        video.display()
    );
    let cfg = EdgeConfig::parse(&text, &dir.path().join("edge.toml")).map_err(|e| e.to_string())?;
    Detector::new(&cfg.model).map_err(|e| e.to_string())
}

fn close(d: &Detection, class: usize, score: f32, b: [f32; 4]) -> bool {
    d.class == class
        && (d.score - score).abs() < 2e-3
        && [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2]
            .iter()
            .zip(b)
            .all(|(a, b)| (a - b).abs() < 0.05)
}

const LABELS3: &str = "labels = [\"a\", \"b\", \"c\"]\nscore_threshold = 0.3";

#[test]
fn yolov8_batches_frames_and_routes_results_back() {
    let models = support::gen_models();
    let mut det = detector(&models.path().join("yolov8_dynamic_batch.onnx"), LABELS3).unwrap();
    assert!(
        det.max_batch() > 1,
        "dynamic batch dimension should allow batching"
    );
    let white = RgbImage::filled(64, 64, [255, 255, 255]);
    let grey = RgbImage::filled(64, 64, [128, 128, 128]);
    let out = det.detect(&[&white, &grey, &white]).unwrap();
    assert_eq!(out.len(), 3);
    let m = 128.0 / 255.0;
    for (frame, m) in [(0, 1.0), (1, m), (2, 1.0)] {
        let d = &out[frame];
        assert_eq!(d.len(), 2, "frame {frame}: {d:?}");
        assert!(
            d.iter()
                .any(|d| close(d, 1, 0.8 * m, [27.0, 16.0, 37.0, 24.0])),
            "frame {frame}: {d:?}"
        );
        assert!(
            d.iter()
                .any(|d| close(d, 2, 0.6 * m, [7.0, 47.0, 13.0, 53.0])),
            "frame {frame}: {d:?}"
        );
    }
}

#[test]
fn yolo_letterbox_maps_boxes_to_frame_pixels() {
    let models = support::gen_models();
    let mut det = detector(&models.path().join("yolov8_dynamic_batch.onnx"), LABELS3).unwrap();
    // 128x64 into 64x64: scale 0.5, 16 px of padding above and below.
    let wide = RgbImage::filled(128, 64, [255, 255, 255]);
    let out = det.detect(&[&wide]).unwrap();
    // Padding (grey 114) lowers the mean brightness the model sees.
    let m = (0.5 * 1.0 + 0.5 * 114.0 / 255.0) as f32;
    assert!(
        out[0]
            .iter()
            .any(|d| close(d, 1, 0.8 * m, [54.0, 0.0, 74.0, 16.0])),
        "{:?}",
        out[0]
    );
}

#[test]
fn per_class_filter_and_thresholds() {
    let models = support::gen_models();
    let cfg = "labels = [\"a\", \"b\", \"c\"]\nclasses = [\"b\", \"c\"]\n[model.class_thresholds]\nc = 0.7";
    let mut det = detector(&models.path().join("yolov8_dynamic_batch.onnx"), cfg).unwrap();
    let out = det
        .detect(&[&RgbImage::filled(64, 64, [255, 255, 255])])
        .unwrap();
    assert_eq!(
        out[0].len(),
        1,
        "class c (0.6) is under its own 0.7 threshold: {:?}",
        out[0]
    );
    assert_eq!(out[0][0].class, 1);
}

#[test]
fn yolov5_multiplies_objectness_and_runs_fixed_batch_models_one_by_one() {
    let models = support::gen_models();
    let mut det = detector(&models.path().join("yolov5.onnx"), LABELS3).unwrap();
    assert_eq!(det.max_batch(), 1);
    let white = RgbImage::filled(64, 64, [255, 255, 255]);
    let out = det.detect(&[&white, &white]).unwrap();
    for d in &out {
        assert_eq!(d.len(), 1);
        assert!(
            close(&d[0], 1, 0.9 * 0.8, [27.0, 16.0, 37.0, 24.0]),
            "{d:?}"
        );
    }
}

#[test]
fn transposed_yolov8_needs_the_layout_named_and_says_so() {
    let models = support::gen_models();
    let path = models.path().join("yolov8_transposed.onnx");
    let mut auto = detector(&path, LABELS3).unwrap();
    let white = RgbImage::filled(64, 64, [255, 255, 255]);
    let err = auto.detect(&[&white]).unwrap_err().to_string();
    assert!(err.contains("classes") && err.contains("labels"), "{err}");
    let mut named = detector(&path, &format!("{LABELS3}\nlayout = \"yolov8\"")).unwrap();
    let out = named.detect(&[&white]).unwrap();
    assert!(
        out[0]
            .iter()
            .any(|d| close(d, 1, 0.8, [27.0, 16.0, 37.0, 24.0])),
        "{:?}",
        out[0]
    );
}

#[test]
fn nanodet_layout_decodes_distributions_per_stride() {
    let models = support::gen_models();
    let mut det = detector(
        &models.path().join("nanodet_tiny.onnx"),
        "labels = [\"a\", \"b\"]",
    )
    .unwrap();
    // BGR mean/std normalisation maps this colour to about 1.0 on every channel.
    let img = RgbImage::filled(32, 32, [182, 173, 161]);
    let out = det.detect(&[&img]).unwrap();
    let m =
        ((182.0 - 123.675) / 58.395 + (173.0 - 116.28) / 57.12 + (161.0 - 103.53) / 57.375) / 3.0;
    assert_eq!(out[0].len(), 1, "{:?}", out[0]);
    assert!(
        close(&out[0][0], 0, 0.9 * m, [0.0, 0.0, 32.0, 16.0]),
        "{:?}",
        out[0]
    );
}

#[test]
fn real_nanodet_finds_people_in_a_real_frame() {
    support::ort();
    // One real frame of vtest.avi, decoded by GStreamer into the same RGB the pipeline uses.
    let img = decoded_frame(&support::vtest(), "decodebin", 300);
    let mut det = detector(&support::nanodet(), "").unwrap();
    let out = det.detect(&[&img]).unwrap();
    let people = out[0]
        .iter()
        .filter(|d| d.class == 0 && d.score > 0.5)
        .count();
    assert!(
        people >= 3,
        "vtest frame 300 shows several pedestrians; found {people}: {:?}",
        out[0]
    );
}

/// A region runs the model on a window of the whole-frame input with the same pixels, so a
/// person well inside the window is found where the whole-frame run finds them; a model of
/// fixed size simply runs on the whole frame.
#[test]
fn a_region_finds_what_the_whole_frame_finds_inside_it() {
    use edge_node::detect::Region;
    support::ort();
    let img = decoded_frame(&support::vtest(), "decodebin", 300);
    let any_size = support::repo().join("models/nanodet-m-416-dyn.onnx");
    let mut det = detector(&any_size, "").unwrap();
    assert!(det.supports_regions());
    let region = Region::new([0.2, 0.2, 0.75, 1.0]).unwrap();
    let win = det.window(&img, Some(&region));
    assert_eq!((win.x, win.y, win.w, win.h), (64, 64, 256, 352));
    let whole = det.detect(&[&img]).unwrap().remove(0);
    let part = det.detect_in(&[(&img, Some(&region))]).unwrap().remove(0);
    // Well inside: a stride-32 cell away from the window's edges, in frame pixels.
    let (sx, sy) = (416.0 / img.width as f32, 416.0 / img.height as f32);
    let inside = |d: &Detection| {
        d.bbox.x1 * sx >= (win.x + 32) as f32
            && d.bbox.x2 * sx <= (win.x + win.w - 32) as f32
            && d.bbox.y1 * sy >= (win.y + 32) as f32
            && d.bbox.y2 * sy <= (win.y + win.h) as f32
    };
    let expected: Vec<_> = whole
        .iter()
        .filter(|d| inside(d) && d.score > 0.5)
        .collect();
    assert!(
        expected.len() >= 2,
        "frame 300 has people inside the region: {whole:?}"
    );
    for d in expected {
        let best = part
            .iter()
            .filter(|p| p.class == d.class)
            .map(|p| (iou(&p.bbox, &d.bbox), p.score))
            .fold((0.0f32, 0.0f32), |a, b| if b.0 > a.0 { b } else { a });
        assert!(
            best.0 > 0.9 && (best.1 - d.score).abs() < 0.05,
            "{d:?} from the whole frame is {best:?} (IoU, score) in the region: {part:?}"
        );
    }
    // Nothing comes back from outside the window.
    let (x0, x1) = (win.x as f32 / sx, (win.x + win.w) as f32 / sx);
    assert!(
        part.iter()
            .all(|p| p.bbox.x1 >= x0 - 1.0 && p.bbox.x2 <= x1 + 1.0)
    );
    let mut fixed = detector(&support::nanodet(), "").unwrap();
    assert!(!fixed.supports_regions());
    let same = fixed.detect_in(&[(&img, Some(&region))]).unwrap().remove(0);
    assert_eq!(same.len(), fixed.detect(&[&img]).unwrap()[0].len());
}

fn iou(a: &matthan_schema::BBox, b: &matthan_schema::BBox) -> f32 {
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let area = |r: &matthan_schema::BBox| (r.x2 - r.x1) * (r.y2 - r.y1);
    w * h / (area(a) + area(b) - w * h)
}

#[test]
fn unreadable_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.onnx");
    std::fs::write(&bad, b"this is not a protobuf").unwrap();
    let err = detector(&bad, "").err().expect("garbage must not load");
    assert!(err.contains("garbage.onnx"), "{err}");
}

/// The camera path takes RGBx from `videoconvert` and repacks it (cheaper than asking for RGB):
/// its frames must be exactly the RGB `videoconvert` gives, or every model, threshold and
/// colour classifier downstream would see a different picture from the one it was measured on.
#[test]
fn camera_frames_are_videoconverts_rgb() {
    let dir = tempfile::tempdir().unwrap();
    // Parsing checks the model file; this test never loads it.
    let text = format!(
        "site = \"s\"\n[mqtt]\n[model]\npath = \"{}\"\n[[cameras]]\nid = \"c\"\nurl = \"file://{}\"\ndetect_fps = 30\n",
        support::nanodet().display(),
        support::vtest().display()
    );
    let cfg = EdgeConfig::parse(&text, &dir.path().join("edge.toml")).unwrap();
    let frames = support::frames::camera_frames(&cfg, 41);
    let want = support::frames::decoded_frames(&support::vtest(), "decodebin", 60);
    support::frames::assert_same_pictures(&frames, &want, "videoconvert's RGB");
}
