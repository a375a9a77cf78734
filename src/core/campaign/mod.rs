//! Notification campaigns, pure: calling windows, outcomes and retries, the pacer that
//! decides with them, and the names of campaign states.
pub mod limits;
pub mod outcome;
pub mod pacer;
pub mod state;
pub mod window;
