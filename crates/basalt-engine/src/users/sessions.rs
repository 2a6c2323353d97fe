//! Sessions: created on sign-up and log-in, found by the hash of their token (tokens are never
//! stored), cached briefly per node, revoked on log-out, deletion and password change; every
//! revocation is announced to the other nodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use basalt_auth::token::{hash_token, new_session_token};
use basalt_core::names::new_object_id;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::time::{format_iso, now_iso};
use basalt_core::value::{Document, pointer};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, StoredObject, Write};
use serde_json::{Value, json};

use crate::auth::UserSession;
use crate::cluster::{ClusterBus, Invalidation};
use crate::{AuthContext, Engine};

/// How long a resolved session is trusted before it is read again. Other nodes announce the
/// changes they make (see `cluster`); this bounds how long a missed announcement matters.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(10);
/// Entries kept before the cache is emptied (a bound, not an LRU).
const SESSION_CACHE_MAX: usize = 50_000;

/// Resolved sessions by token hash.
pub(crate) struct SessionCache {
    entries: Mutex<HashMap<String, CachedSession>>,
    /// Bumped by every eviction, so a lookup that read the store before an eviction does not
    /// put back what the eviction removed.
    generation: AtomicU64,
    bus: Arc<dyn ClusterBus>,
}

/// A resolved session, when it was resolved, and when it expires (Parse ISO).
type CachedSession = (Arc<UserSession>, Instant, String);

impl SessionCache {
    pub(crate) fn new(bus: Arc<dyn ClusterBus>) -> Self {
        Self {
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            bus,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedSession>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, hash: &str) -> Option<Arc<UserSession>> {
        self.lock()
            .get(hash)
            .filter(|(_, at, expires)| {
                at.elapsed() < SESSION_CACHE_TTL && expires.as_str() > now_iso().as_str()
            })
            .map(|(s, _, _)| Arc::clone(s))
    }

    /// The eviction count, read before looking a session up in the store.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a session read from the store, unless something was evicted since `generation`.
    fn put(&self, hash: String, s: Arc<UserSession>, expires: String, generation: u64) {
        let mut map = self.lock();
        if self.generation() != generation {
            return;
        }
        if map.len() >= SESSION_CACHE_MAX {
            map.clear();
        }
        map.insert(hash, (s, Instant::now(), expires));
    }

    /// Forgets the sessions resolved for one user, here and on the other nodes.
    pub(crate) fn forget_user(&self, user_id: &str) {
        self.forget_user_here(user_id);
        self.bus.publish(Invalidation::UserSessions {
            user_id: user_id.to_owned(),
        });
    }

    /// Forgets every cached session (after role changes, user and session edits), here and on
    /// the other nodes.
    pub(crate) fn clear(&self) {
        self.clear_here();
        self.bus.publish(Invalidation::AllSessions);
    }

    /// Forgets the sessions resolved for one user on this node only.
    pub(crate) fn forget_user_here(&self, user_id: &str) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.retain(|_, (s, _, _)| s.user_id != user_id);
    }

    /// Forgets every cached session on this node only.
    pub(crate) fn clear_here(&self) {
        let mut map = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

/// Parse's answer for a token that names no live session.
pub(crate) fn invalid_session() -> ParseError {
    ParseError::new(ErrorCode::InvalidSessionToken, "Invalid session token")
}

/// The error for a live session whose user was deleted. `/users/me` words it differently.
pub(crate) fn orphaned_session() -> ParseError {
    ParseError::new(ErrorCode::InvalidSessionToken, ORPHANED)
}

/// The message of `orphaned_session`, so callers can tell it apart.
pub const ORPHANED: &str = "Invalid session token.";

/// How a session came to be, recorded in `createdWith`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CreatedWith<'a> {
    /// Sign-up.
    Signup(&'a str),
    /// Log-in.
    Login(&'a str),
    /// Upgrade of a legacy session.
    Upgrade,
    /// `POST /sessions` by a signed-in user.
    Create,
}

impl CreatedWith<'_> {
    fn json(&self) -> Value {
        match self {
            CreatedWith::Signup(p) => json!({"action": "signup", "authProvider": p}),
            CreatedWith::Login(p) => json!({"action": "login", "authProvider": p}),
            CreatedWith::Upgrade => json!({"action": "upgrade"}),
            CreatedWith::Create => json!({"action": "create"}),
        }
    }
}

impl Engine {
    /// The write creating a session for `user_id`, and the new token.
    pub(crate) fn new_session(
        &self,
        auth: &AuthContext,
        user_id: &str,
        how: CreatedWith<'_>,
    ) -> (Write, String) {
        let token = new_session_token();
        let now = now_iso();
        let expires = time::OffsetDateTime::now_utc() + self.config.session_length;
        let mut fields = Document::new();
        fields.insert("sessionToken".into(), Value::String(hash_token(&token)));
        if let Some(sealed) = self.config.token_key.as_ref().and_then(|k| k.seal(&token)) {
            fields.insert(crate::output::SEALED_TOKEN.into(), Value::String(sealed));
        }
        fields.insert("user".into(), pointer("_User", user_id));
        fields.insert("createdWith".into(), how.json());
        fields.insert(
            "expiresAt".into(),
            json!({"__type": "Date", "iso": format_iso(expires)}),
        );
        if let Some(inst) = &auth.installation_id {
            fields.insert("installationId".into(), Value::String(inst.clone()));
        }
        fields.insert(
            "ACL".into(),
            json!({ user_id: {"read": true, "write": true} }),
        );
        let object = StoredObject {
            object_id: new_object_id(),
            created_at: now.clone(),
            updated_at: now,
            fields,
        };
        (
            Write::Create {
                class: "_Session".into(),
                object,
                relations: vec![],
            },
            token,
        )
    }

    /// Resolves a session token into the caller's user and roles, or 209.
    pub async fn authenticate(&self, mut auth: AuthContext, token: &str) -> Result<AuthContext> {
        let hash = hash_token(token);
        if let Some(s) = self.sessions.get(&hash) {
            auth.user = Some(s);
            return Ok(auth);
        }
        let generation = self.sessions.generation();
        let filter = Filter::Field(
            FieldPath::parse("sessionToken"),
            Condition::Eq(Value::String(hash.clone())),
        );
        let spec = FindSpec {
            limit: Some(1),
            ..FindSpec::filter(filter)
        };
        let schemas = self.schemas.snapshot();
        let found = self.store.find(&schemas, "_Session", &spec).await?;
        let session = found.into_iter().next().ok_or_else(invalid_session)?;
        let expires = session
            .fields
            .get("expiresAt")
            .and_then(|e| e.get("iso"))
            .and_then(Value::as_str)
            .unwrap_or("9999-12-31T23:59:59.999Z")
            .to_owned();
        let expired = expires.as_str() < now_iso().as_str();
        if expired {
            return Err(ParseError::new(
                ErrorCode::InvalidSessionToken,
                "Session token is expired.",
            )
            .into());
        }
        let user_id = session
            .fields
            .get("user")
            .and_then(|u| u.get("objectId"))
            .and_then(Value::as_str)
            .ok_or_else(invalid_session)?
            .to_owned();
        // A session outlives a deleted user's row (as in Parse); it no longer opens anything.
        if self.find_user_by("objectId", &user_id).await?.is_none() {
            return Err(orphaned_session().into());
        }
        let roles = self.roles_of(&user_id).await?;
        let resolved = Arc::new(UserSession {
            user_id,
            session_token: token.to_owned(),
            session_id: session.object_id,
            roles: Arc::new(roles),
        });
        self.sessions
            .put(hash, Arc::clone(&resolved), expires, generation);
        auth.user = Some(resolved);
        Ok(auth)
    }

    /// A new session for `user_id`, committed; returns its token.
    pub(crate) async fn issue_session(&self, auth: &AuthContext, user_id: &str) -> Result<String> {
        let (write, token) = self.new_session(auth, user_id, CreatedWith::Login("password"));
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        Ok(token)
    }

    /// Deletes every session of a user except `keep` (a session id), as a password change does.
    pub(crate) async fn revoke_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<()> {
        let filter = Filter::Field(
            FieldPath::parse("user"),
            Condition::Eq(pointer("_User", user_id)),
        );
        let schemas = self.schemas.snapshot();
        let sessions = self
            .store
            .find(&schemas, "_Session", &FindSpec::filter(filter))
            .await?;
        let writes: Vec<Write> = sessions
            .into_iter()
            .filter(|s| keep != Some(s.object_id.as_str()))
            .map(|s| Write::Delete {
                class: "_Session".into(),
                object_id: s.object_id,
                writers: None,
            })
            .collect();
        if !writes.is_empty() {
            self.commit(writes).await.map_err(|(_, e)| e)?;
        }
        self.sessions.forget_user(user_id);
        Ok(())
    }
}
