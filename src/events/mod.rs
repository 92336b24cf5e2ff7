pub mod kafka;
pub mod okta_hook;
