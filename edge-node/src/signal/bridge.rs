//! A line protocol that lets a traffic simulator stand in for the cameras: each input line is
//! one JSON control message (`control::Msg`: a stop-line crossing, a queue reading, a phase
//! turning green, an interval tick), answered where an answer is needed with one JSON line.
//! Used by `edge-node signal-sim` and the SUMO evaluation (`benches/sumo/`); a running edge
//! takes the same messages over MQTT (`live`), and both go through `control::handle`.

use std::io::{BufRead, Write};

use super::Controller;
use super::control::{self, Msg};

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("line {line}: {reason}")]
    Bad { line: usize, reason: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub fn serve(
    mut c: Controller,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), BridgeError> {
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| BridgeError::Bad {
            line: n + 1,
            reason,
        };
        let msg: Msg = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        if let Some(r) = control::handle(&mut c, msg).map_err(bad)? {
            writeln!(out, "{r}")?;
            out.flush()?;
        }
    }
    Ok(())
}
