//! Signal timing: recommendations, congestion warnings, and controllers' signal states.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rfc3339_ms;

/// One phase's share of a recommended cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    pub phase: String,
    pub green_s: f32,
    pub yellow_s: f32,
    pub all_red_s: f32,
}

/// What was measured on one approach over the interval the recommendation used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproachInput {
    pub approach: String,
    /// Passenger-car units per hour (motorbikes weighted by the junction's factor).
    pub flow_pcu_h: f32,
    /// Saturation flow, PCU per hour of green.
    pub saturation_pcu_h: f32,
    /// Whether saturation flow was measured from discharge headways (else the configured default).
    pub saturation_measured: bool,
    /// Vehicles stopped behind the stop line (latest).
    pub queue_veh: f32,
    /// Fraction of the interval the queue zone held a vehicle.
    pub occupancy: f32,
    /// Flow ratio y = flow / saturation.
    pub flow_ratio: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecommendation {
    pub junction: String,
    /// `webster` (optimal fixed-time plan for the measured flows) or `adaptive` (updated every
    /// cycle from queues and flows, with oversaturation handling).
    pub mode: String,
    pub cycle_s: f32,
    pub phases: Vec<PhaseTiming>,
    pub inputs: Vec<ApproachInput>,
    /// Sum of the phases' critical flow ratios; at or over 0.9 the junction is oversaturated.
    pub y_total: f32,
    pub oversaturated: bool,
    /// Mean delay per vehicle (s, HCM/Webster estimate) under the plan in force, and under this one.
    pub delay_current_s: f32,
    pub delay_expected_s: f32,
    #[serde(with = "rfc3339_ms")]
    pub interval_start: DateTime<Utc>,
    /// The plan the controller runs now (configured or reported by it), for the traffic
    /// centre to see beside the recommendation; absent when the edge does not know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_force: Option<PlanInForce>,
    /// Each approach's forecast flow for the next 5, 10 and 15 minutes, made at this interval's
    /// end (so the junction page can draw it against what then happened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<FlowForecast>,
    /// The greens the junction's controller asked for over MQTT during this interval, each with
    /// what it was decided from (live control; empty when no controller asks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<PhaseDecision>,
}

/// One answer to a controller's request for a phase's green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseDecision {
    pub phase: String,
    /// When the edge decided (its clock).
    #[serde(with = "rfc3339_ms")]
    pub at: DateTime<Utc>,
    pub green_s: f32,
    /// False when the decision was ready only after the request's deadline: it was not sent,
    /// and the controller ran its own plan for that phase.
    pub answered: bool,
    /// What it was decided from, per approach.
    pub inputs: Vec<DecisionInput>,
}

/// One approach as the controller saw it when deciding a green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionInput {
    pub approach: String,
    /// Arrival flow over the last interval, PCU/h.
    pub flow_pcu_h: f32,
    /// Stopped queue, PCU.
    pub queue_pcu: f32,
    pub saturation_pcu_h: f32,
}

/// A fixed-time plan: its cycle and each phase's green.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanInForce {
    pub cycle_s: f32,
    pub phases: Vec<PhaseTiming>,
}

/// One approach's forecast flow `horizon_min` minutes after the recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowForecast {
    pub approach: String,
    pub horizon_min: u32,
    pub flow_pcu_h: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CongestionWarning {
    pub junction: String,
    pub approach: String,
    /// Minutes ahead the forecast looks.
    pub horizon_min: u32,
    pub forecast_flow_pcu_h: f32,
    /// Forecast degree of saturation (flow over capacity under the current plan).
    pub forecast_degree: f32,
    pub threshold: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

/// One phase change from a junction controller, on `matthan/{site}/{junction}/signal/state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalState {
    pub phase: String,
    pub colour: Colour,
    /// When this colour came on.
    #[serde(with = "rfc3339_ms")]
    pub since: DateTime<Utc>,
    /// The controller's yellow and planned red, when it tells them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yellow_s: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_s: Option<f32>,
}
