//! Pure logic: no async, no I/O, no clock reads. Inputs in, decisions out.
pub mod channels;
pub mod flow;
pub mod numbers;
