//! The test server helper.

pub mod server;

pub use server::TestServer;
