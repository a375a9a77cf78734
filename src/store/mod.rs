//! Adapters for the stores: PostgreSQL for durable records, Redis for live shared state.
pub mod accounts;
pub mod acd;
pub mod acd_calls;
pub mod attempt_batch;
pub mod campaigns;
pub mod drivers;
pub mod forecast;
pub mod journal;
pub mod kpi;
mod kpi_outbound;
mod list_copy;
pub mod lists;
pub mod messages;
pub mod migrate;
pub mod notify;
pub mod op_board;
pub mod op_campaigns;
pub mod op_held;
pub mod operators;
pub mod postgres;
pub mod qa;
pub mod redis;
pub mod redis_conn;
pub mod report;
pub mod scratch;
pub mod trunk_state;

pub use self::postgres::StoreError;
