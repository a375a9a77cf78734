//! Thin runners for the subcommands: parse what the user typed, call the stores and
//! services, print, and map failures to an [`exit::Exit`] code.

pub mod accounts;
pub mod campaigns;
pub mod digest;
pub mod exit;
pub mod kpi;
pub mod lists;
pub mod messages;
pub mod op_campaigns;
pub mod operators;
pub mod qa;
pub mod setup_db;
pub mod staffing;
pub mod trunks;
