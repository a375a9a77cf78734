//! Pure logic: no async, no I/O, no clock reads. Inputs in, decisions out.
pub mod accounts;
pub mod acd;
pub mod call;
pub mod campaign;
pub mod channels;
pub mod dialstring;
pub mod flow;
pub mod flows;
pub mod kpi;
pub mod lists;
pub mod meter;
pub mod numbers;
pub mod report;
pub mod speech;
pub mod staffing;
pub mod values;
