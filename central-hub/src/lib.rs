//! Mắt Thần central hub: stores the events edge nodes publish and finds them again from an
//! operator's description.

pub mod caption;
pub mod ingest;
pub mod query;
pub mod search;
pub mod store;
