//! I/O shells around the pure core: each takes inputs from an adapter, asks the core, and
//! hands the resulting actions to the adapters.
pub mod acd;
pub mod amd;
pub mod campaign_lease;
pub mod campaigns;
pub mod dial_batch;
pub mod dialer;
pub mod driving;
pub mod failover;
pub mod inbound;
pub mod leases;
pub mod lobby;
pub mod messages;
pub mod meter;
pub mod notice_amd;
pub mod notice_call;
pub mod opcamp;
pub mod records;
pub mod screen;
pub mod trunk_alert;
pub mod trunks;
pub mod witnessed;
