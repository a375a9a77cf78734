//! Call flows per entry point (pure state machines; see `core::flow`).
pub mod meter;
pub mod service;
