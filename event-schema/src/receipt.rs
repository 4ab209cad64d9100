//! Receipts: a hub tells the edges of a site which messages it has committed to its store, or
//! refused for good, so an edge deletes a message from its outbox only then, never on the
//! broker's acknowledgement alone (a broker restart or a lost subscription would otherwise lose
//! what the broker had acknowledged). Duplicates that a resend causes are harmless: the hub
//! upserts events by id and evidence by hash.

use serde::{Deserialize, Serialize};

pub const RECEIPT_SCHEMA: &str = "matthan.receipt/1";

/// Receipts travel outside the event tree, one topic per site.
pub const RECEIPT_ROOT: &str = "matthan-receipt";

/// `matthan-receipt/{site}`: what a hub has done with the site's messages.
pub fn receipt_topic(site: &str) -> String {
    format!("{RECEIPT_ROOT}/{site}")
}

/// One batch of a hub's decisions. A key is an event's id or an evidence blob's sha256.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub schema: String,
    /// Committed to the hub's store (new or already there).
    #[serde(default)]
    pub stored: Vec<String>,
    /// Refused for good (invalid): resending would not help.
    #[serde(default)]
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub key: String,
    pub reason: String,
}

impl Receipt {
    pub fn new(stored: Vec<String>, refused: Vec<Refusal>) -> Self {
        Self {
            schema: RECEIPT_SCHEMA.into(),
            stored,
            refused,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.stored.is_empty() && self.refused.is_empty()
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("receipts serialise")
    }

    pub fn from_json(payload: &[u8]) -> Result<Self, String> {
        let r: Receipt = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        if r.schema != RECEIPT_SCHEMA {
            return Err(format!("unknown receipt schema {:?}", r.schema));
        }
        Ok(r)
    }

    /// The same receipt as messages of at most `keys` keys each (at least one message).
    pub fn split(self, keys: usize) -> Vec<Receipt> {
        let keys = keys.max(1);
        let mut out = Vec::new();
        let mut stored = self.stored.into_iter().peekable();
        let mut refused = self.refused.into_iter().peekable();
        while out.is_empty() || stored.peek().is_some() || refused.peek().is_some() {
            let s: Vec<String> = stored.by_ref().take(keys).collect();
            let r: Vec<Refusal> = refused.by_ref().take(keys - s.len()).collect();
            out.push(Receipt::new(s, r));
        }
        out
    }

    /// Every key the edge may forget.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.stored
            .iter()
            .map(String::as_str)
            .chain(self.refused.iter().map(|r| r.key.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_schema_check() {
        let r = Receipt::new(
            vec!["a".into()],
            vec![Refusal {
                key: "b".into(),
                reason: "bad".into(),
            }],
        );
        let back = Receipt::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(Receipt::from_json(br#"{"schema":"x/9"}"#).is_err());
        assert_eq!(receipt_topic("hcmc"), "matthan-receipt/hcmc");
        let big = Receipt::new((0..7).map(|i| i.to_string()).collect(), r.refused.clone());
        let parts = big.clone().split(3);
        assert_eq!(parts.len(), 3);
        let keys: Vec<String> = parts
            .iter()
            .flat_map(|p| p.keys().map(String::from).collect::<Vec<_>>())
            .collect();
        assert_eq!(keys, big.keys().map(String::from).collect::<Vec<_>>());
        assert_eq!(Receipt::default().split(3).len(), 1);
    }
}
