//! Who is calling: the bearer token checked against the configured hashes and their expiry, a
//! per-address limit on failed attempts (so tokens cannot be guessed at line speed), failures
//! audited, and `/api/whoami` for the console's login.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{ApiError, Shared};
use crate::config::{Role, TokenConfig, sha256_hex};
use crate::store::AuditEntry;

/// Failed attempts an address may make in one window before every attempt from it is refused
/// until the window ends.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(300);
/// Addresses remembered at most: past this, the oldest windows are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

/// A configured token (by its hash): who, which role, until when.
#[derive(Debug, Clone)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub expires: Option<DateTime<Utc>>,
}

pub fn tokens(cfg: &[TokenConfig]) -> HashMap<String, Token> {
    cfg.iter()
        .map(|t| {
            let token = Token {
                name: t.name.clone(),
                role: t.role,
                expires: t.expires.map(|e| e.to_utc()),
            };
            (t.sha256.to_lowercase(), token)
        })
        .collect()
}

/// Failed attempts per address, in fixed windows.
#[derive(Default)]
pub struct Failures(Mutex<HashMap<IpAddr, (Instant, u32)>>);

impl Failures {
    /// Counts a failure; returns the count in the address's current window.
    fn record(&self, ip: IpAddr) -> u32 {
        let mut m = self.0.lock().expect("failures lock");
        let now = Instant::now();
        if m.len() >= MAX_ADDRESSES {
            m.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let e = m.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1
    }

    /// Seconds until the address may try again, when it is locked out.
    fn locked(&self, ip: IpAddr) -> Option<u64> {
        let m = self.0.lock().expect("failures lock");
        let (start, n) = m.get(&ip)?;
        let left = WINDOW.checked_sub(start.elapsed())?;
        (*n >= MAX_FAILURES).then_some(left.as_secs().max(1))
    }
}

/// The authenticated caller.
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub expires: Option<DateTime<Utc>>,
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Some(wait) = state.failures.locked(ip) {
            state.metrics.denied.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many failed logins from {ip}: try again in {wait} s"),
            ));
        }
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            state.metrics.denied.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "missing bearer token".into(),
            ));
        };
        let why = match state.tokens.get(&sha256_hex(token.as_bytes())) {
            Some(t) if t.expires.is_none_or(|e| Utc::now() < e) => {
                return Ok(Caller {
                    name: t.name.clone(),
                    role: t.role,
                    expires: t.expires,
                });
            }
            Some(t) => format!("token of {} expired", t.name),
            None => "unknown token".to_string(),
        };
        state.metrics.denied.fetch_add(1, Ordering::Relaxed);
        let n = state.failures.record(ip);
        // The first failure of a window and the lockout are audited, not every guess: a
        // flood of bad tokens must not flood the audit log.
        if n == 1 || n == MAX_FAILURES {
            audit_failure(state.clone(), ip, why.clone(), n);
        }
        Err(ApiError(StatusCode::UNAUTHORIZED, why))
    }
}

fn audit_failure(state: Shared, ip: IpAddr, why: String, n: u32) {
    tokio::task::spawn_blocking(move || {
        let entry = AuditEntry {
            ts: Utc::now(),
            who: "-".into(),
            role: "-".into(),
            action: "login_failed".into(),
            detail: if n >= MAX_FAILURES {
                format!("{ip}: {why}; {n} failures, locked out for the rest of the window")
            } else {
                format!("{ip}: {why}")
            },
        };
        let written = state
            .conn()
            .map_err(|e| e.1)
            .and_then(|mut s| s.audit(&entry).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::error!(error = %e, %ip, "could not audit a failed login");
        }
    });
}

/// `GET /api/whoami`: the caller's name, role and token expiry (the console's login check).
pub(super) async fn whoami(caller: Caller) -> Json<serde_json::Value> {
    Json(json!({
        "name": caller.name,
        "role": caller.role.as_str(),
        "expires": caller.expires.map(|e| matthan_schema::format_ts(&e)),
    }))
}
