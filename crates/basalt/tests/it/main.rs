//! Black-box tests: each starts the real `basalt` binary on a free port with a fresh data
//! directory and talks HTTP to it.

mod support;

mod batch;
mod behind_proxy;
mod cluster;
mod errors;
mod identity;
mod import;
mod lifecycle;
mod mail;
mod objects;
mod queries;
mod redis_tls;
mod schemas;
mod social;
