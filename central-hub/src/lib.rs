//! Mắt Thần central hub: stores the events edge nodes publish and finds them again from an
//! operator's description.

pub mod api;
pub mod caption;
pub mod cases;
pub mod config;
pub mod embed;
pub mod eval;
pub mod evidence;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod lexicon;
pub mod maintenance;
pub mod query;
pub mod search;
pub mod server;
pub mod signature;
pub mod store;
pub mod watch;
