pub mod accounts;
pub mod lists;
