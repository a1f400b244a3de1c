//! handover: an encrypted vault for child-protection case papers, and their
//! signed, encrypted hand-over from one state department to another.
//!
//! Data flows one way: interfaces (`cli`) → `vault` → (`store`, `crypto`, `bundle`),
//! over the plain types of `domain`, with settings from `config`.
//! See DESIGN.md (shared) for the whole map.

pub mod api;
pub mod audit;
pub mod bundle;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod durable;
pub mod policy;
pub mod store;
pub mod vault;
