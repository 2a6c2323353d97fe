//! The test server helper, and the outside services some tests run beside it.

pub mod nginx;
pub mod parse;
pub mod redis_server;
pub mod server;
pub mod services;

pub use server::TestServer;
