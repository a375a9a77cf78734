//! Notification campaigns, pure: calling windows, outcomes and retries.
pub mod outcome;
pub mod window;
