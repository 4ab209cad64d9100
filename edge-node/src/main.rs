use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Parser, Subcommand};
use edge_node::config::{EdgeConfig, Source};

/// Mắt Thần edge node: cameras in, events out over MQTT.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every camera of the config until its sources end or SIGINT/SIGTERM.
    Run {
        /// The edge box's config file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Make this box's evidence-signing key (PKCS#8, mode 0600) and its public half (`.pub`).
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a signed evidence bundle (its folder) or a hub's case export (the `.zip`): every
    /// file's sha256, the manifest's signature, and for a case its summary and key against the
    /// signed manifest. Exits 1 and names each tampered, missing or unlisted file.
    Verify {
        /// The bundle's folder or the case export's zip.
        bundle: PathBuf,
        /// The signing box's public key: a `.pub` file or its hex. Without it, the key named in
        /// the manifest is used (integrity only, not origin).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Drive one junction's signal-timing controller from a simulator: JSON lines on stdin
    /// (crossings, queues, greens, ticks), answers on stdout. See `benches/sumo/`.
    SignalSim {
        /// A junction description (TOML, the `[[junctions]]` table's fields).
        #[arg(long)]
        junction: PathBuf,
    },
    /// Run the config's detector on still images and print what it finds (one JSON line per
    /// object): for checking a camera's view when installing it.
    Detect {
        #[arg(short, long)]
        config: PathBuf,
        images: Vec<PathBuf>,
    },
    /// Read the licence plate in vehicle crops with the config's OCR models ([evidence.ocr]).
    ReadPlate {
        #[arg(short, long)]
        config: PathBuf,
        images: Vec<PathBuf>,
    },
    /// Analyse recorded video for the hub's forensic cases: lease videos from the hub's work
    /// queue, run the pipeline on each as fast as the box allows, publish the events (tagged
    /// with case, video hash and offset) through the config's broker, report progress.
    IndexWorker {
        /// An edge config with exactly one camera: the template for every video (detection
        /// rate, motion gate, plates); its source is replaced by each video.
        #[arg(short, long)]
        config: PathBuf,
        /// The hub's base URL (https://hub.example:8443).
        #[arg(long)]
        hub: String,
        /// A file holding a token of the hub's `worker` role.
        #[arg(long)]
        token_file: PathBuf,
        /// The CA that signed the hub's certificate (PEM), when it is not a public one.
        #[arg(long)]
        hub_ca: Option<PathBuf>,
        /// This worker's name at the hub; default the host name and process id.
        #[arg(long)]
        id: Option<String>,
        /// Downloads and this worker's outbox (one worker per folder).
        #[arg(long, default_value = "index-work")]
        work_dir: PathBuf,
        /// Exit when every job has ended (none queued, none on another worker) instead of
        /// waiting for more.
        #[arg(long)]
        once: bool,
        /// Seconds between asks when there is no job to take.
        #[arg(long, default_value_t = 5)]
        poll_s: u64,
    },
    /// Validate a config file and print what it sets up; exits non-zero on the first error.
    CheckConfig {
        /// The config file (TOML).
        file: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs written to files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edge-node: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::CheckConfig { file } => check_config(file),
        Command::Detect { config, images } => {
            let cfg = EdgeConfig::load(&config)?;
            let mut det = edge_node::detect::Detector::new(&cfg.model)?;
            for p in images {
                let img = load_rgb(&p)?;
                for d in det.detect(&[&img])?.remove(0) {
                    println!(
                        "{}",
                        serde_json::json!({
                            "image": p.display().to_string(),
                            "class": cfg.model.labels.get(d.class),
                            "score": (d.score * 1000.0).round() / 1000.0,
                            "bbox": [d.bbox.x1.round(), d.bbox.y1.round(), d.bbox.x2.round(), d.bbox.y2.round()],
                        })
                    );
                }
            }
            Ok(())
        }
        Command::ReadPlate { config, images } => {
            let cfg = EdgeConfig::load(&config)?;
            let ocr = cfg
                .evidence
                .as_ref()
                .and_then(|e| e.ocr.as_ref())
                .context("the config has no [evidence.ocr] models")?;
            let mut r = edge_node::plate::PlateReader::new(
                &ocr.det,
                &ocr.rec,
                cfg.model.ort_library.as_deref(),
            )?;
            for p in images {
                let img = load_rgb(&p)?;
                match r.read(&img)? {
                    Some(pl) => println!(
                        "{}",
                        serde_json::json!({"image": p.display().to_string(), "plate": pl.text, "score": pl.score, "lines": pl.lines, "rect": pl.rect})
                    ),
                    None => println!(
                        "{}",
                        serde_json::json!({"image": p.display().to_string(), "plate": null})
                    ),
                }
            }
            Ok(())
        }
        Command::Keygen { out } => {
            let key = edge_node::signing::SigningKey::generate(&out)?;
            println!(
                "{}: new Ed25519 key (mode 0600); public key {} in {}",
                out.display(),
                key.public_hex(),
                out.with_extension("pub").display()
            );
            Ok(())
        }
        Command::Verify { bundle, public_key } => verify(bundle, public_key),
        Command::SignalSim { junction } => {
            let text = std::fs::read_to_string(&junction)
                .with_context(|| format!("reading {}", junction.display()))?;
            let raw: edge_node::signal::RawJunction = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", junction.display()))?;
            // The simulator's detectors stand in for camera lines and zones.
            let j = edge_node::signal::Junction::validate(raw, |_, _| true, |_, _| true)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", junction.display(), e.key, e.reason))?;
            let c = edge_node::signal::Controller::new(j, None);
            edge_node::signal::bridge::serve(c, std::io::stdin().lock(), std::io::stdout().lock())?;
            Ok(())
        }
        Command::Run { config } => run(config),
        Command::IndexWorker {
            config,
            hub,
            token_file,
            hub_ca,
            id,
            work_dir,
            once,
            poll_s,
        } => {
            let cfg = EdgeConfig::load(&config)?;
            let token = matthan_mqtt::read_secret(&token_file)
                .map_err(|e| anyhow::anyhow!("--token-file: {e}"))?;
            let opts = edge_node::index::WorkerOptions {
                hub,
                token,
                ca: hub_ca,
                id: id.unwrap_or_else(default_worker_id),
                work_dir,
                once,
                poll: std::time::Duration::from_secs(poll_s.max(1)),
            };
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                signal_hook::flag::register(sig, stop.clone())
                    .context("installing signal handlers")?;
            }
            let s = edge_node::index::run(&cfg, &opts, stop)?;
            println!(
                "index-worker {}: {} videos done ({:.1} min of video, {} events), {} failed, {} lost to another worker",
                opts.id,
                s.done,
                s.seconds_of_video / 60.0,
                s.events,
                s.failed,
                s.lost
            );
            Ok(())
        }
    }
}

/// `check-config`: loads and validates the file, prints what it describes.
fn check_config(file: PathBuf) -> anyhow::Result<()> {
    let cfg = EdgeConfig::load(&file)?;
    println!("{}: ok", file.display());
    println!(
        "  site {} (edge {}), broker {}:{}",
        cfg.site, cfg.edge_id, cfg.mqtt.host, cfg.mqtt.port
    );
    println!("  model {}", cfg.model.path.display());
    for c in &cfg.cameras {
        let src = match &c.source {
            Source::File(p) => format!("file {}", p.display()),
            Source::Rtsp { url, tcp } => {
                let url = edge_node::ingest::source::redact(url);
                format!("rtsp {url} ({})", if *tcp { "tcp" } else { "udp" })
            }
            Source::V4l2(d) => format!("v4l2 {}", d.display()),
        };
        println!(
            "  camera {}: {src} at {} fps, {} lines, {} zones",
            c.id,
            c.detect_fps,
            c.lines.len(),
            c.zones.len()
        );
    }
    for j in &cfg.junctions {
        let live = if j.answer_requests {
            format!(
                ", answers its controller on {}",
                matthan_schema::signal_request_topic(&cfg.site, &j.id)
            )
        } else {
            String::new()
        };
        println!(
            "  junction {}: {} approaches, {} phases, {} mode, cycle {}-{} s{live}",
            j.id,
            j.approaches.len(),
            j.phases.len(),
            if j.adaptive { "adaptive" } else { "webster" },
            j.cycle_min_s,
            j.cycle_max_s
        );
    }
    Ok(())
}

/// `verify`: checks an evidence bundle's signature and files, optionally against a trusted key.
fn verify(bundle: PathBuf, public_key: Option<String>) -> anyhow::Result<()> {
    let trusted = match public_key {
        None => None,
        Some(k) if std::path::Path::new(&k).is_file() => Some(
            std::fs::read_to_string(&k)
                .with_context(|| format!("reading {k}"))?
                .trim()
                .to_string(),
        ),
        Some(k) => Some(k),
    };
    let (problems, manifest) = if bundle.is_file() {
        let f = std::fs::File::open(&bundle)
            .with_context(|| format!("opening {}", bundle.display()))?;
        let r = matthan_evidence::case::verify_zip(std::io::BufReader::new(f), trusted.as_deref());
        if let Some(x) = &r.export {
            println!(
                "{}: event {}, exported by {} at {} (the hub's record, not signed by the camera)",
                bundle.display(),
                x.event_id,
                x.exported_by,
                x.exported_at
            );
        }
        (r.problems, r.manifest)
    } else {
        let r = edge_node::signing::verify_bundle(&bundle, trusted.as_deref());
        (r.problems, r.manifest)
    };
    if problems.is_empty() {
        match manifest {
            Some(m) => println!(
                "{}: ok, {} files, signed by {} (fingerprint {}){}",
                bundle.display(),
                m.files.len(),
                m.public_key,
                matthan_evidence::fingerprint(&m.public_key).unwrap_or_default(),
                if trusted.is_none() {
                    " (not checked against a trusted key)"
                } else {
                    ""
                }
            ),
            None => println!(
                "{}: ok, but nothing in it is signed by a camera (only the hashes the hub listed)",
                bundle.display()
            ),
        }
        return Ok(());
    }
    for p in &problems {
        println!("{}: {p}", bundle.display());
    }
    anyhow::bail!("{}: {} problem(s)", bundle.display(), problems.len())
}

/// `run`: the pipeline until every source ends or SIGINT/SIGTERM.
fn run(config: PathBuf) -> anyhow::Result<()> {
    let cfg = EdgeConfig::load(&config)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let s = edge_node::pipeline::run(&cfg, stop.clone())?;
    let fps = s.frames as f64 / s.elapsed.as_secs_f64().max(1e-9);
    println!(
        "edge-node: {} frames in {:.1} s ({fps:.1} fps, {} provider), {} dropped, {} still (motion gate), {} in motion windows ({:.1} Mpx through the model), {} events published, {} acknowledged",
        s.frames,
        s.elapsed.as_secs_f64(),
        s.provider,
        s.dropped,
        s.gated,
        s.windowed,
        s.model_input_px as f64 / 1e6,
        s.publish.published,
        s.publish.acked
    );
    if !s.failed.is_empty() && !stop.load(Ordering::Relaxed) {
        let list: Vec<String> = s
            .failed
            .iter()
            .map(|(c, e)| format!("camera {c}: {e}"))
            .collect();
        anyhow::bail!("{}", list.join("; "));
    }
    Ok(())
}

/// `host-pid`: unique among the workers sharing a token.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
    format!("{}-{}", host.trim(), std::process::id())
}

fn load_rgb(p: &std::path::Path) -> anyhow::Result<edge_node::frame::RgbImage> {
    let img = image::open(p)
        .with_context(|| format!("{}: not an image", p.display()))?
        .to_rgb8();
    let (width, height) = img.dimensions();
    Ok(edge_node::frame::RgbImage {
        width,
        height,
        stride: width as usize * 3,
        data: img.into_raw(),
    })
}
