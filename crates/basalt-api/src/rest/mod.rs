//! REST handlers, one module per resource. Each decodes, calls the engine, encodes.

pub(crate) mod aggregate;
pub(crate) mod batch;
pub(crate) mod classes;
pub(crate) mod pages;
pub(crate) mod schemas;
pub(crate) mod server;
pub(crate) mod users;
