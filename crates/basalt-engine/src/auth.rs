//! Who is calling: the keys the api checked, and the user behind a session token with the
//! roles that user holds (directly or through parent roles).

use std::sync::Arc;

/// A signed-in user, as a valid session token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// The user's object id.
    pub user_id: String,
    /// The session token the client sent (needed to answer `/users/me` and `/sessions/me`).
    pub session_token: String,
    /// The `_Session` object id.
    pub session_id: String,
    /// Names of the roles the user holds, parents included.
    pub roles: Arc<Vec<String>>,
}

/// The caller's rights for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthContext {
    /// Called with the master key: every rule is bypassed.
    pub master: bool,
    /// Called with the read-only master key: may read everything and write nothing.
    pub read_only_master: bool,
    /// The client's installation id, if it sent one.
    pub installation_id: Option<String>,
    /// The signed-in user, when a valid session token came with the request.
    pub user: Option<Arc<UserSession>>,
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

    /// The signed-in user's id.
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_deref().map(|u| u.user_id.as_str())
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

    /// `*`, the user's id and `role:Name` for each role held.
    pub fn acl_ids(&self) -> Vec<String> {
        let mut ids = vec!["*".to_owned()];
        if let Some(u) = &self.user {
            ids.push(u.user_id.clone());
            ids.extend(u.roles.iter().map(|r| format!("role:{r}")));
        }
        ids
    }
}
