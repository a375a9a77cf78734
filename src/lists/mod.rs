//! The do-not-call list ([`dnc`]). The rest of contact lists lives by layer: the row checks
//! in `core::lists`, storing and reading lists in `store::lists`, the commands in
//! `cli::lists`.

pub mod dnc;

// The names `dnc` reaches the row checks and the COPY stream by.
use crate::core::lists::{rows, ListError, RowProblem};
use crate::store::lists as import;
