//! The test server helper.

pub mod parse;
pub mod server;

pub use server::TestServer;
