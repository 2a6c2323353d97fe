//! Who is calling: decided by the api from keys (and, later, session tokens).

/// The caller's rights for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    /// Called with the master key: every rule is bypassed.
    pub master: bool,
    /// Called with the read-only master key: may read everything and write nothing.
    pub read_only_master: bool,
    /// The client's installation id, if it sent one.
    pub installation_id: Option<String>,
}

impl AuthContext {
    /// The master key's context.
    pub fn master() -> Self {
        Self { master: true, ..Self::default() }
    }

    /// True when the caller may read everything (master or read-only master).
    pub fn reads_all(&self) -> bool {
        self.master || self.read_only_master
    }
}
