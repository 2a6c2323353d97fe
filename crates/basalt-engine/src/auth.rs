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
        Self {
            master: true,
            ..Self::default()
        }
    }

    /// True when the caller may read everything (master or read-only master).
    pub fn reads_all(&self) -> bool {
        self.master || self.read_only_master
    }

    /// The ACL ids the caller reads as, or `None` when it reads everything.
    pub fn readers(&self) -> Option<Vec<String>> {
        if self.reads_all() {
            None
        } else {
            Some(self.acl_ids())
        }
    }

    /// The ACL ids the caller writes as, or `None` when it writes everything.
    pub fn writers(&self) -> Option<Vec<String>> {
        if self.master {
            None
        } else {
            Some(self.acl_ids())
        }
    }

    fn acl_ids(&self) -> Vec<String> {
        vec!["*".to_owned()]
    }
}
