//! Prometheus metrics for the edge, served on `metrics_listen` when configured: frames in, out
//! and dropped per camera, inference latency, publish latency (outbox → PUBACK), outbox depth,
//! reconnects.

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::queue::FrameQueues;

/// Histogram bucket bounds in milliseconds.
const BUCKETS_MS: [u64; 10] = [5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl Histogram {
    pub fn observe_ms(&self, ms: u64) {
        for (b, c) in BUCKETS_MS.iter().zip(&self.buckets) {
            if ms <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Observations, in all.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Milliseconds observed, in all.
    pub fn sum_ms(&self) -> u64 {
        self.sum_ms.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in BUCKETS_MS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {n}\n{name}_sum {}\n{name}_count {n}",
            self.sum_ms.load(Ordering::Relaxed)
        );
    }
}

#[derive(Default)]
pub struct Metrics {
    pub cameras: Vec<String>,
    pub processed: Vec<AtomicU64>,
    /// Frames the motion gate kept from the detector (nothing moved), per camera.
    pub gated: Vec<AtomicU64>,
    /// Frames detected only within a window around what moved (`[cameras.motion] windows`).
    pub windowed: Vec<AtomicU64>,
    /// Model input pixels run, all cameras (`DetectTimes::input_px`).
    pub model_input_px: AtomicU64,
    pub inference_ms: Histogram,
    pub publish_ms: Histogram,
    pub published: AtomicU64,
    pub acked: AtomicU64,
    /// Messages a hub's receipt confirmed (and the outbox forgot).
    pub confirmed: AtomicU64,
    pub reconnects: AtomicU64,
    pub outbox_pending: AtomicU64,
    /// Messages the broker has that no hub has confirmed yet.
    pub outbox_awaiting: AtomicU64,
    pub outbox_dropped: AtomicU64,
    /// Vehicle sightings read by the plate reader, and skipped because it was behind.
    pub plate_reads: AtomicU64,
    pub plate_skipped: AtomicU64,
    pub plate_ms: Histogram,
    pub queues: std::sync::OnceLock<Arc<FrameQueues>>,
    /// Per stage (tracking, snapshots, rules…), over every camera: frames it handled and the
    /// nanoseconds it took, so the per-frame cost outside inference is visible stage by stage.
    pub stages: std::sync::Mutex<std::collections::BTreeMap<&'static str, (u64, u64)>>,
}

impl Metrics {
    pub fn new(cameras: Vec<String>) -> Self {
        let processed = cameras.iter().map(|_| AtomicU64::new(0)).collect();
        let gated = cameras.iter().map(|_| AtomicU64::new(0)).collect();
        let windowed = cameras.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            cameras,
            processed,
            gated,
            windowed,
            ..Self::default()
        }
    }

    /// Adds one frame's stage timings (name, nanoseconds).
    pub fn stage_times(&self, times: &[(&'static str, u64)]) {
        self.add_stages(1, times);
    }

    /// Adds the detector's parts for `frames` frames (one call may take several cameras').
    pub fn detector_times(&self, t: &crate::detect::DetectTimes) {
        self.model_input_px.fetch_add(t.input_px, Ordering::Relaxed);
        self.add_stages(
            t.frames,
            &[
                ("detect.preprocess", t.preprocess_ns),
                ("detect.inference", t.inference_ns),
                ("detect.postprocess", t.postprocess_ns),
            ],
        );
    }

    fn add_stages(&self, frames: u64, times: &[(&'static str, u64)]) {
        let mut m = self.stages.lock().expect("stage metrics lock");
        for (name, ns) in times {
            let e = m.entry(name).or_default();
            e.0 += frames;
            e.1 += ns;
        }
    }

    fn render_stages(&self, out: &mut String) {
        let m = self.stages.lock().expect("stage metrics lock");
        for (metric, help, seconds) in [
            (
                "matthan_edge_stage_seconds_total",
                "Time the detector thread spends in each per-frame stage (the detector's preprocess, inference and postprocess included), all cameras",
                true,
            ),
            (
                "matthan_edge_stage_frames_total",
                "frames each per-frame stage handled, all cameras",
                false,
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
            for (name, (frames, ns)) in m.iter() {
                let v = if seconds {
                    format!("{:.6}", *ns as f64 / 1e9)
                } else {
                    frames.to_string()
                };
                let _ = writeln!(out, "{metric}{{stage=\"{name}\"}} {v}");
            }
        }
    }

    /// The per-camera frame counters.
    fn render_camera_counters(&self, out: &mut String) {
        let q = self.queues.get();
        for (name, help, read) in [
            (
                "matthan_edge_frames_in_total",
                "frames decoded and handed to the detector queue",
                0,
            ),
            (
                "matthan_edge_frames_processed_total",
                "frames detected, tracked and analysed",
                1,
            ),
            (
                "matthan_edge_frames_dropped_total",
                "frames dropped by back-pressure (oldest first)",
                2,
            ),
            (
                "matthan_edge_frames_gated_total",
                "frames analysed without the detector because nothing moved (motion gate)",
                3,
            ),
            (
                "matthan_edge_frames_windowed_total",
                "frames detected only in a window around what moved (motion windows)",
                4,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (i, cam) in self.cameras.iter().enumerate() {
                let v = match (read, q) {
                    (0, Some(q)) => q.pushed[i].load(Ordering::Relaxed),
                    (2, Some(q)) => q.dropped[i].load(Ordering::Relaxed),
                    (1, _) => self.processed[i].load(Ordering::Relaxed),
                    (3, _) => self.gated[i].load(Ordering::Relaxed),
                    (4, _) => self.windowed[i].load(Ordering::Relaxed),
                    _ => 0,
                };
                let _ = writeln!(out, "{name}{{camera=\"{cam}\"}} {v}");
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_stages(&mut out);
        self.render_camera_counters(&mut out);
        self.inference_ms.render(
            &mut out,
            "matthan_edge_inference_ms",
            "detector latency per call (preprocess, model, decode, NMS)",
        );
        self.publish_ms.render(
            &mut out,
            "matthan_edge_publish_ms",
            "time from publish to the broker's acknowledgement",
        );
        self.plate_ms.render(
            &mut out,
            "matthan_edge_plate_ms",
            "plate reading per vehicle sighting (text detection and recognition)",
        );
        for (name, kind, help, v) in [
            (
                "matthan_edge_published_total",
                "counter",
                "messages published (retries included)",
                &self.published,
            ),
            (
                "matthan_edge_acked_total",
                "counter",
                "messages acknowledged by the broker",
                &self.acked,
            ),
            (
                "matthan_edge_confirmed_total",
                "counter",
                "messages a hub confirmed stored (receipts)",
                &self.confirmed,
            ),
            (
                "matthan_edge_outbox_awaiting_receipt",
                "gauge",
                "messages the broker acknowledged that no hub has confirmed yet",
                &self.outbox_awaiting,
            ),
            (
                "matthan_edge_mqtt_reconnects_total",
                "counter",
                "MQTT connections lost",
                &self.reconnects,
            ),
            (
                "matthan_edge_outbox_pending",
                "gauge",
                "messages waiting in the outbox",
                &self.outbox_pending,
            ),
            (
                "matthan_edge_plate_reads_total",
                "counter",
                "vehicle sightings the plate reader read",
                &self.plate_reads,
            ),
            (
                "matthan_edge_plate_skipped_total",
                "counter",
                "vehicle sightings not read because the plate reader was behind",
                &self.plate_skipped,
            ),
            (
                "matthan_edge_outbox_dropped_total",
                "counter",
                "messages dropped from the outbox for lack of disk",
                &self.outbox_dropped,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}

/// Serves `/metrics` on `addr` from a thread of its own, for as long as the process runs.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let m = metrics.clone();
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "text/plain; version=0.0.4",
                                )],
                                m.render(),
                            )
                        }
                    }),
                );
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "metrics server stopped");
                }
            })
        })?;
    tracing::info!(listen = %addr, "metrics at /metrics");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Metrics;
    use crate::detect::DetectTimes;

    #[test]
    fn stage_timings_count_frames_per_stage_and_the_detector_per_frame_it_took() {
        let m = Metrics::new(vec!["cam".into()]);
        m.stage_times(&[("track", 2_000), ("rules", 500)]);
        m.stage_times(&[("track", 4_000), ("rules", 500)]);
        // One batched call over three cameras' frames counts three frames.
        m.detector_times(&DetectTimes {
            frames: 3,
            preprocess_ns: 3_000_000,
            inference_ns: 60_000_000,
            postprocess_ns: 600_000,
            input_px: 3 * 416 * 416,
        });
        let s = m.stages.lock().unwrap().clone();
        assert_eq!(s["track"], (2, 6_000));
        assert_eq!(s["rules"], (2, 1_000));
        assert_eq!(s["detect.inference"], (3, 60_000_000));
        assert_eq!(s["detect.preprocess"], (3, 3_000_000));
        let text = m.render();
        assert!(
            text.contains("matthan_edge_stage_seconds_total{stage=\"detect.inference\"} 0.060000"),
            "{text}"
        );
        assert!(
            text.contains("matthan_edge_stage_frames_total{stage=\"detect.postprocess\"} 3"),
            "{text}"
        );
    }
}
