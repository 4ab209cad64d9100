//! Mắt Thần edge node: decode camera streams, detect and track objects, turn tracks into
//! crossings, zone events and counts, and publish them over MQTT.

pub mod analytics;
pub mod colour;
pub mod config;
pub mod detect;
pub mod evidence;
pub mod frame;
pub mod index;
pub mod ingest;
pub mod labels;
pub mod memory;
pub mod metrics;
pub mod motion;
pub mod outbox;
pub mod pipeline;
pub mod plate;
pub mod publish;
pub mod queue;
pub mod rules;
pub mod signal;
pub mod signing;
pub mod snapshot;
pub mod stale;
pub mod track;
pub mod violations;
