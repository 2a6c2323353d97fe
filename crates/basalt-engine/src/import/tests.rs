use std::sync::Arc;

use basalt_core::schema::{ClassSchema, FieldDef, FieldType};
use basalt_store::sqlite::SqliteStore;
use basalt_store::{RelationChange, StoredObject};
use serde_json::{Value, json};

use super::*;
use crate::{AuthContext, Credentials, Engine, EngineConfig, GetRequest};

async fn engine(dir: &std::path::Path) -> Engine {
    let store = SqliteStore::open(&dir.join("basalt.db")).await.unwrap();
    let config = EngineConfig {
        token_key: basalt_auth::sealed::SealingKey::derive("master").map(Arc::new),
        ..EngineConfig::default()
    };
    Engine::new(Arc::new(store), config).await.unwrap()
}

fn object(id: &str, fields: Value) -> ImportObject {
    ImportObject {
        object: StoredObject {
            object_id: id.into(),
            created_at: "2024-01-02T03:04:05.678Z".into(),
            updated_at: "2024-02-03T04:05:06.789Z".into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
        },
        relations: vec![],
    }
}

fn game_schema() -> ClassSchema {
    let mut s = ClassSchema::new("Game");
    s.fields
        .insert("score".into(), FieldDef::of(FieldType::Number));
    s.fields.insert(
        "owner".into(),
        FieldDef::of(FieldType::Pointer("_User".into())),
    );
    s.clp = json!({"find": {"requiresAuthentication": true}, "get": {"*": true}});
    s.indexes.insert(
        "score_1".into(),
        json!({"score": 1}).as_object().cloned().unwrap(),
    );
    s
}

#[tokio::test]
async fn schema_merges_fields_permissions_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;

    let merge = e.import_schema(&game_schema()).await.unwrap();

    assert!(merge.refused.is_empty(), "{merge:?}");
    let json = e.schema(&AuthContext::master(), "Game").unwrap();
    assert_eq!(json["fields"]["owner"]["targetClass"], "_User");
    assert_eq!(
        json["classLevelPermissions"]["find"]["requiresAuthentication"],
        true
    );
    assert_eq!(json["classLevelPermissions"]["delete"], json!({}));
    assert_eq!(json["indexes"]["score_1"], json!({"score": 1}));

    let mut other = ClassSchema::new("Game");
    other
        .fields
        .insert("score".into(), FieldDef::of(FieldType::String));
    other.clp = json!({"find": {"*": "yes"}});
    other.indexes.insert(
        "text".into(),
        json!({"score": "text"}).as_object().cloned().unwrap(),
    );
    let merge = e.import_schema(&other).await.unwrap();
    assert_eq!(merge.refused.len(), 3, "{merge:?}");
    assert!(merge.refused[0].contains("expected Number but got String"));
    let json = e.schema(&AuthContext::master(), "Game").unwrap();
    assert_eq!(json["fields"]["score"]["type"], "Number");
    assert_eq!(
        json["classLevelPermissions"]["find"],
        json!({}),
        "unreadable permissions close the class"
    );

    let bad = ClassSchema::new("no-dashes");
    assert_eq!(
        e.import_schema(&bad)
            .await
            .unwrap_err()
            .as_parse()
            .unwrap()
            .code,
        ErrorCode::InvalidClassName
    );
}

#[tokio::test]
async fn batches_keep_ids_skip_present_objects_and_refuse_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    e.import_schema(&game_schema()).await.unwrap();
    let mut progress = e.import_progress("Game").await.unwrap();
    assert_eq!(progress, ImportProgress::default());

    let batch = vec![
        object(
            "a1",
            json!({"score": 3, "owner": {"__type":"Pointer","className":"_User","objectId":"u1"},
                   "ACL": {"u1": {"read": true, "write": true}}}),
        ),
        object("a2", json!({"score": "three"})),
        object("a3", json!({"score": 4, "meta": 1})),
    ];
    e.import_batch("Game", batch, "a3", &mut progress)
        .await
        .unwrap();

    assert_eq!(
        (progress.imported, progress.present, progress.refused_count),
        (1, 0, 2)
    );
    assert_eq!(progress.after.as_deref(), Some("a3"));
    assert!(
        progress.refused[0]
            .reason
            .contains("expected Number but got String")
    );
    assert!(
        progress.refused[1]
            .reason
            .contains("meta is not in the schema")
    );
    let got = e
        .get(&AuthContext::master(), "Game", "a1", GetRequest::default())
        .await
        .unwrap();
    assert_eq!(got["createdAt"], "2024-01-02T03:04:05.678Z");
    assert_eq!(got["updatedAt"], "2024-02-03T04:05:06.789Z");
    assert_eq!(got["ACL"], json!({"u1": {"read": true, "write": true}}));
    assert!(
        e.get(&AuthContext::default(), "Game", "a1", GetRequest::default())
            .await
            .is_err(),
        "the ACL is enforced"
    );

    // The checkpoint survives a restart, and the class stays invisible to clients.
    drop(e);
    let e = engine(dir.path()).await;
    let resumed = e.import_progress("Game").await.unwrap();
    assert_eq!(resumed.after.as_deref(), Some("a3"));
    assert_eq!(resumed.refused_count, 2);
    assert!(
        e.schemas(&AuthContext::master())
            .iter()
            .all(|s| s["className"] != STATE_CLASS)
    );

    let mut again = resumed.clone();
    e.import_batch(
        "Game",
        vec![object("a1", json!({"score": 9}))],
        "a1",
        &mut again,
    )
    .await
    .unwrap();
    assert_eq!((again.imported, again.present), (1, 1));
    let got = e
        .get(&AuthContext::master(), "Game", "a1", GetRequest::default())
        .await
        .unwrap();
    assert_eq!(got["score"], 3, "a present object is not overwritten");

    e.finish_import("Game").await.unwrap();
    assert_eq!(
        e.import_progress("Game").await.unwrap(),
        ImportProgress::default()
    );
    assert!(
        !e.store
            .load_schemas()
            .await
            .unwrap()
            .iter()
            .any(|s| s.class_name == STATE_CLASS)
    );
}

#[tokio::test]
async fn users_keep_bcrypt_hashes_and_sessions_keep_their_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    let bcrypt_hash = BCRYPTJS_HASH;
    let mut progress = ImportProgress::default();
    let users = vec![
        object(
            "u1",
            json!({"username": "ada", "_hashed_password": bcrypt_hash,
                   "ACL": {"*": {"read": true}, "u1": {"read": true, "write": true}}}),
        ),
        // Parse compares user names with case; basalt does not.
        object("u2", json!({"username": "ADA", "_hashed_password": "x"})),
        object("u3", json!({"username": "bob", "_sneaky": 1})),
    ];
    e.import_batch("_User", users, "u3", &mut progress)
        .await
        .unwrap();
    assert_eq!((progress.imported, progress.refused_count), (1, 2));
    assert!(
        progress.refused[0].reason.contains("_sneaky"),
        "{progress:?}"
    );
    assert!(
        progress.refused[1].reason.contains("username"),
        "{progress:?}"
    );

    let token = "r:0123456789abcdef0123456789abcdef";
    let sessions = vec![object(
        "s1",
        json!({"sessionToken": token,
               "user": {"__type":"Pointer","className":"_User","objectId":"u1"},
               "expiresAt": {"__type":"Date","iso":"2999-01-01T00:00:00.000Z"}}),
    )];
    let mut progress = ImportProgress::default();
    e.import_batch("_Session", sessions, "s1", &mut progress)
        .await
        .unwrap();
    assert_eq!(progress.imported, 1);

    let auth = e.authenticate(AuthContext::default(), token).await.unwrap();
    assert_eq!(auth.user_id(), Some("u1"));
    let stored = e
        .store
        .find(
            &e.schemas.snapshot(),
            "_Session",
            &FindSpec::filter(Filter::All),
        )
        .await
        .unwrap();
    assert_ne!(
        stored[0].fields["sessionToken"],
        json!(token),
        "stored hashed"
    );
    assert_eq!(
        stored[0].fields["ACL"],
        json!({"u1": {"read": true, "write": true}})
    );

    let logged_in = e
        .login(
            &AuthContext::default(),
            &Credentials {
                username: Some("ada".into()),
                email: None,
                password: Some(BCRYPTJS_PASSWORD.into()),
                auth_data: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(logged_in["objectId"], "u1");
}

#[tokio::test]
async fn relation_links_are_stored_with_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path()).await;
    let mut roles = vec![object(
        "r1",
        json!({"name": "admins", "ACL": {"*": {"read": true}}}),
    )];
    roles[0].relations = vec![RelationChange {
        field: "users".into(),
        add: vec!["u1".into(), "u2".into()],
        remove: vec![],
    }];
    roles.push(object("r2", json!({"ACL": {"*": {"read": true}}})));
    let mut progress = ImportProgress::default();
    e.import_batch("_Role", roles, "r2", &mut progress)
        .await
        .unwrap();
    assert_eq!((progress.imported, progress.refused_count), (1, 1));
    assert_eq!(progress.refused[0].reason, "a role needs a name");

    let related = Filter::RelatedTo {
        class: "_Role".into(),
        object_id: "r1".into(),
        key: "users".into(),
    };
    let n = e
        .store
        .count(&e.schemas.snapshot(), "_User", &related, None)
        .await;
    // No _User objects exist; the links are there all the same.
    assert_eq!(n.unwrap(), 0);
    let roles_of = e.roles_of("u2").await.unwrap();
    assert!(roles_of.iter().any(|r| r == "admins"), "{roles_of:?}");
}

/// Made by bcryptjs at cost 10, as Parse Server writes `_hashed_password`.
const BCRYPTJS_HASH: &str = "$2a$10$uxEYlG8ZjtAqlBtyf/IvLeeAQ5eBySExhXlC8aw9FaSKxaXmytwPa";
const BCRYPTJS_PASSWORD: &str = "correct horse battery staple";
