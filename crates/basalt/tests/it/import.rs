//! `basalt import` against a database the real Parse Server wrote: Parse Server 9.10 runs on a
//! fresh PostgreSQL database, the test fills it through Parse's REST API, imports it, starts
//! basalt on the result and checks through basalt's REST API that objects, users, passwords,
//! sessions, roles, ACLs, CLPs and indexes came over; then interrupts and resumes imports.
//! Takes about a minute (plus about 40 s for `npm ci` of Parse Server on the first run).

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context as _, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::TestServer;
use crate::support::parse::{ParseServer, sql_on};
use crate::support::server::{APP_ID, MASTER_KEY, binary, fresh_database};
use basalt_store::testing::pg::FreshDatabase;
use std::sync::Arc;

/// A finished `basalt import` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Where an import writes: a data dir, and on PostgreSQL runs (`BASALT_TEST_STORE=postgres`)
/// a fresh database too, the same the server started on it reads.
struct Target {
    dir: tempfile::TempDir,
    db: Option<Arc<FreshDatabase>>,
}

impl Target {
    async fn new() -> anyhow::Result<Target> {
        Ok(Target {
            dir: tempfile::tempdir()?,
            db: fresh_database().await?,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `--data-dir DIR [--database-uri URI]`.
    fn args(&self) -> Vec<std::ffi::OsString> {
        let mut args = vec!["--data-dir".into(), self.dir.path().as_os_str().to_owned()];
        if let Some(db) = &self.db {
            args.extend(["--database-uri".into(), db.uri.clone().into()]);
        }
        args
    }

    async fn serve(&self) -> anyhow::Result<TestServer> {
        TestServer::start_on(
            self.path(),
            self.db.clone(),
            &["--app-id", APP_ID, "--master-key", MASTER_KEY],
        )
        .await
    }
}

async fn import(from: &str, target: &Target, extra: &[&str]) -> anyhow::Result<Run> {
    let out = tokio::process::Command::new(binary())
        .args(["import", "--from", from])
        .args(target.args())
        .args([
            "--app-id",
            APP_ID,
            "--master-key",
            MASTER_KEY,
            "--progress",
            "plain",
        ])
        .args(extra)
        .output()
        .await?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The summary row of `class`: (imported, present, refused).
fn counts(summary: &str, class: &str) -> Option<(u64, u64, u64)> {
    summary.lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        if cols.next()? != class {
            return None;
        }
        let n: Vec<u64> = cols.take(3).filter_map(|c| c.parse().ok()).collect();
        (n.len() == 3).then(|| (n[0], n[1], n[2]))
    })
}

fn pointer(class: &str, id: &str) -> Value {
    json!({"__type": "Pointer", "className": class, "objectId": id})
}

/// What the test wrote through Parse Server.
struct Seeded {
    users: Vec<(String, String, String)>, // (objectId, username, session token)
    scores: Vec<String>,
    admins_only: String,
    writers_only: String,
}

async fn seed(parse: &ParseServer) -> anyhow::Result<Seeded> {
    let post = |path: &'static str, body: Value| async move {
        let (status, v) = parse
            .request(Method::POST, path, Some(body), true, None)
            .await?;
        ensure!(status == 200 || status == 201, "POST {path}: {status} {v}");
        Ok::<Value, anyhow::Error>(v)
    };
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let v = parse
            .request(
                Method::POST,
                "/users",
                Some(json!({"username": name, "password": format!("{name}-pw"),
                            "email": format!("{name}@example.com"), "nickname": name.to_uppercase()})),
                false,
                None,
            )
            .await?;
        ensure!(v.0 == 201, "sign-up: {v:?}");
        users.push((
            v.1["objectId"].as_str().context("id")?.to_owned(),
            name.to_owned(),
            v.1["sessionToken"].as_str().context("token")?.to_owned(),
        ));
    }
    // A second session for alice, from a log-in.
    let (status, login) = parse
        .request(
            Method::POST,
            "/login",
            Some(json!({"username": "alice", "password": "alice-pw"})),
            false,
            None,
        )
        .await?;
    ensure!(status == 200, "login: {login}");
    users[0].2 = login["sessionToken"].as_str().context("token")?.to_owned();
    let (alice, bob) = (users[0].0.clone(), users[1].0.clone());

    let admins = post(
        "/roles",
        json!({"name": "Admins", "ACL": {"*": {"read": true}},
               "users": {"__op": "AddRelation", "objects": [pointer("_User", &alice)]}}),
    )
    .await?;
    let admins_id = admins["objectId"].as_str().context("id")?.to_owned();
    // Admins are Writers too (a nested role); bob is a Writer directly.
    post(
        "/roles",
        json!({"name": "Writers", "ACL": {"*": {"read": true}},
               "users": {"__op": "AddRelation", "objects": [pointer("_User", &bob)]},
               "roles": {"__op": "AddRelation", "objects": [pointer("_Role", &admins_id)]}}),
    )
    .await?;

    post(
        "/schemas/GameScore",
        json!({
            "className": "GameScore",
            "fields": {
                "name": {"type": "String"}, "score": {"type": "Number"},
                "active": {"type": "Boolean"}, "playedAt": {"type": "Date"},
                "meta": {"type": "Object"}, "tags": {"type": "Array"},
                "owner": {"type": "Pointer", "targetClass": "_User"},
                "fans": {"type": "Relation", "targetClass": "_User"},
                "place": {"type": "GeoPoint"}, "photo": {"type": "File"},
                "area": {"type": "Polygon"}, "secret": {"type": "String"}
            },
            "classLevelPermissions": {
                "find": {"*": true}, "count": {"*": true}, "get": {"*": true},
                "create": {"role:Writers": true}, "update": {"role:Writers": true},
                "delete": {"role:Admins": true}, "addField": {},
                "protectedFields": {"*": ["secret"]}
            },
            "indexes": {"score_1": {"score": 1}}
        }),
    )
    .await?;
    let photo = parse
        .upload("photo.txt", "text/plain", b"a picture")
        .await?;

    let mut requests = Vec::new();
    for i in 0..120 {
        requests.push(json!({"method": "POST", "path": "/parse/classes/GameScore", "body": {
            "name": format!("game {i}"), "score": i, "active": i % 2 == 0,
            "playedAt": {"__type": "Date", "iso": format!("2024-03-{:02}T10:00:00.{:03}Z", i % 28 + 1, i)},
            "meta": {"level": i % 5, "ratio": 0.25 + f64::from(i), "at": {"__type": "Date", "iso": "2023-01-01T00:00:00.000Z"}},
            "tags": ["t", i, {"k": "v"}],
            "owner": pointer("_User", &users[i as usize % 3].0),
            "place": {"__type": "GeoPoint", "latitude": 48.85 + f64::from(i) / 100.0, "longitude": 2.35},
            "secret": format!("s{i}"),
        }}));
    }
    let (status, done) = parse
        .request(
            Method::POST,
            "/batch",
            Some(json!({"requests": requests})),
            true,
            None,
        )
        .await?;
    ensure!(status == 200, "batch: {done}");
    let scores: Vec<String> = done
        .as_array()
        .context("batch answer")?
        .iter()
        .map(|r| r["success"]["objectId"].as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .context("batch ids")?;
    ensure!(scores.len() == 120, "batch created {}", scores.len());

    let special = post(
        "/classes/GameScore",
        json!({"name": "special", "photo": photo,
               "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0]]},
               "fans": {"__op": "AddRelation", "objects": [pointer("_User", &alice), pointer("_User", &bob)]}}),
    )
    .await?;
    let admins_only = post(
        "/classes/GameScore",
        json!({"name": "for admins", "ACL": {"role:Admins": {"read": true, "write": true}}}),
    )
    .await?;
    let writers_only = post(
        "/classes/GameScore",
        json!({"name": "for writers", "ACL": {"role:Writers": {"read": true}}}),
    )
    .await?;
    let mut scores = scores;
    scores.push(special["objectId"].as_str().context("id")?.to_owned());

    let (status, inst) = parse
        .request(
            Method::POST,
            "/installations",
            Some(json!({"deviceType": "ios", "deviceToken": "0123abcd",
                        "installationId": "3a4b5c6d-0000-4000-8000-00000000abcd",
                        "channels": ["news", "sports"], "timeZone": "Europe/Paris"})),
            false,
            None,
        )
        .await?;
    ensure!(status == 201, "installation: {inst}");

    Ok(Seeded {
        users,
        scores,
        admins_only: admins_only["objectId"].as_str().context("id")?.to_owned(),
        writers_only: writers_only["objectId"].as_str().context("id")?.to_owned(),
    })
}

/// Rows Parse Server would not write itself but older data or other tools leave behind: an
/// Object with a dotted key, a user name differing from another only in case (Parse compares
/// case-sensitively in the database; the first in objectId order is kept, so this one sorts
/// last), and a class whose name basalt cannot hold.
async fn add_legacy_rows(db_url: &str, alice_hash_from: &str) -> anyhow::Result<()> {
    sql_on(
        db_url,
        &format!(
            r#"
            INSERT INTO "GameScore" ("objectId", "createdAt", "updatedAt", "name", "meta")
              VALUES ('dotted0001', now(), now(), 'dotted', '{{"a.b": 1}}');
            INSERT INTO "_User" ("objectId", "createdAt", "updatedAt", "username", "_hashed_password")
              SELECT 'zzzzzzzzzz', now(), now(), 'ALICE', "_hashed_password" FROM "_User"
              WHERE "objectId" = '{alice_hash_from}';
            INSERT INTO "_SCHEMA" ("className", "schema", "isParseClass")
              VALUES ('Bad-Class', '{{"className": "Bad-Class", "fields": {{}}}}', true);
            "#
        ),
    )
    .await
}

#[tokio::test]
async fn imports_what_parse_server_wrote_and_resumes_after_interruption() -> anyhow::Result<()> {
    let parse = ParseServer::start(APP_ID, MASTER_KEY).await?;
    let seeded = seed(&parse).await?;
    add_legacy_rows(&parse.db_url, &seeded.users[0].0).await?;
    let data = Target::new().await?;

    // An import stopped after 50 rows, in batches of 7, then resumed.
    let first = import(
        &parse.db_url,
        &data,
        &["--batch-size", "7", "--stop-after", "50"],
    )
    .await?;
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let s = &first.stdout;
    assert!(s.contains("stopped after 50 rows"), "{s}");
    assert_eq!(counts(s, "_User"), Some((3, 0, 1)), "{s}");
    assert_eq!(counts(s, "_Role"), Some((2, 0, 0)), "{s}");
    assert_eq!(counts(s, "_Session"), Some((4, 0, 0)), "{s}");
    assert_eq!(counts(s, "_Installation"), Some((1, 0, 0)), "{s}");
    // 50 rows: 11 in the classes above, 39 of GameScore (the dotted row among them or not).
    let (done, present, refused) = counts(s, "GameScore").context("GameScore row")?;
    assert_eq!((done + refused, present), (39, 0), "{s}");
    assert!(s.contains("(unfinished)"), "{s}");

    let resumed = import(&parse.db_url, &data, &["--batch-size", "7"]).await?;
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let s = &resumed.stdout;
    assert!(s.contains("import complete"), "{s}");
    // Finished classes are read again and found present; GameScore continues from its
    // checkpoint, its counts covering both runs.
    assert_eq!(counts(s, "_User"), Some((0, 3, 1)), "{s}");
    assert_eq!(counts(s, "_Session"), Some((0, 4, 0)), "{s}");
    assert_eq!(counts(s, "GameScore"), Some((123, 0, 1)), "{s}");
    assert!(s.contains("(resumed)"), "{s}");
    assert!(
        s.contains("GameScore dotted0001: field meta: Nested keys"),
        "{s}"
    );
    assert!(
        s.contains("_User zzzzzzzzzz: Account already exists for this username."),
        "{s}"
    );
    assert!(
        s.contains("class Bad-Class: Invalid classname: Bad-Class"),
        "{s}"
    );
    assert!(
        resumed.stderr.contains("import GameScore:"),
        "progress lines: {}",
        resumed.stderr
    );

    // A third run, over TLS (the server's snakeoil certificate, not checked under `require`),
    // finds everything present and writes nothing; --strict reports the refusals.
    let over_tls = format!("{}?sslmode=require", parse.db_url);
    let again = import(&over_tls, &data, &["--strict"]).await?;
    assert_eq!(again.code, 3, "{}{}", again.stdout, again.stderr);
    assert_eq!(
        counts(&again.stdout, "GameScore"),
        Some((0, 123, 1)),
        "{}",
        again.stdout
    );
    assert_eq!(
        counts(&again.stdout, "_User"),
        Some((0, 3, 1)),
        "{}",
        again.stdout
    );

    // `verify-full` checks the certificate against the system's roots, which do not hold the
    // server's self-signed one: the import stops before reading anything.
    let verified = format!("{}?sslmode=verify-full", parse.db_url);
    let refused = import(&verified, &data, &[]).await?;
    assert_ne!(refused.code, 0, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused
            .stderr
            .contains("cannot connect to the Parse Server database")
            && refused.stderr.to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );

    let basalt = data.serve().await?;
    objects_match(&parse, &basalt, &seeded).await?;
    users_and_sessions_work(&parse, &basalt, &seeded).await?;
    roles_acls_and_clps_hold(&parse, &basalt, &seeded).await?;
    drop(basalt);

    killed_import_resumes_without_duplicates(&parse).await
}

/// Every object reads back from basalt as Parse Server returns it (file URLs point at each
/// server's own files route, so only their names are compared).
async fn objects_match(
    parse: &ParseServer,
    basalt: &TestServer,
    seeded: &Seeded,
) -> anyhow::Result<()> {
    for class in ["GameScore", "_User", "_Role", "_Installation"] {
        let path = format!("/classes/{class}?limit=1000&order=objectId");
        let (_, theirs) = parse.request(Method::GET, &path, None, true, None).await?;
        let (status, ours) = basalt.request(Method::GET, &path, None, true).await?;
        assert_eq!(status, 200, "{ours}");
        // Keyed by id: PostgreSQL orders ids by its collation, basalt byte by byte.
        let by_id = |v: &Value| -> anyhow::Result<std::collections::BTreeMap<String, Value>> {
            Ok(v["results"]
                .as_array()
                .context("results")?
                .iter()
                .map(|o| {
                    (
                        o["objectId"].as_str().unwrap_or_default().to_owned(),
                        o.clone(),
                    )
                })
                .collect())
        };
        let mut theirs = by_id(&theirs)?;
        theirs.retain(|id, _| id != "dotted0001" && id != "zzzzzzzzzz");
        let ours = by_id(&ours)?;
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{class}"
        );
        for (mut a, mut b) in theirs.into_values().zip(ours.into_values()) {
            for o in [&mut a, &mut b] {
                if let Some(photo) = o.get_mut("photo") {
                    photo.as_object_mut().context("file")?.remove("url");
                }
            }
            assert_eq!(a, b, "{class} differs");
        }
    }
    let special = seeded.scores.last().context("special")?;
    let (_, theirs) = parse
        .request(
            Method::GET,
            &format!("/classes/GameScore/{special}"),
            None,
            true,
            None,
        )
        .await?;
    let (_, ours) = basalt
        .request(
            Method::GET,
            &format!("/classes/GameScore/{special}"),
            None,
            true,
        )
        .await?;
    assert_eq!(theirs["photo"]["name"], ours["photo"]["name"]);
    assert!(
        ours["photo"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&basalt.url)),
        "{ours}"
    );
    assert_eq!(
        ours["area"]["coordinates"],
        json!([[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]])
    );
    let fans = json!({"$relatedTo": {"object": pointer("GameScore", special), "key": "fans"}});
    // Users are readable by themselves only (Parse 9's default ACL): ask as the master key.
    let mut url = reqwest::Url::parse("http://basalt/classes/_User")?;
    url.query_pairs_mut()
        .append_pair("where", &fans.to_string())
        .append_pair("order", "username");
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let (_, related) = basalt.request(Method::GET, &path, None, true).await?;
    let names: Vec<&str> = related["results"]
        .as_array()
        .context("results")?
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"], "relation links came over");
    Ok(())
}

async fn as_user(
    basalt: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", basalt.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Session-Token", token);
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    Ok((status, res.json().await?))
}

async fn users_and_sessions_work(
    parse: &ParseServer,
    basalt: &TestServer,
    seeded: &Seeded,
) -> anyhow::Result<()> {
    // Sessions show their owners their own tokens, as on Parse (before any new log-in).
    let (alice_token, bob_token) = (&seeded.users[0].2, &seeded.users[1].2);
    let (_, mine) = as_user(basalt, Method::GET, "/sessions", alice_token, None).await?;
    let (_, theirs) = parse
        .request(Method::GET, "/sessions", None, false, Some(alice_token))
        .await?;
    let tokens = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> = v["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["sessionToken"].as_str().map(str::to_owned))
            .collect();
        t.sort();
        t
    };
    assert_eq!(tokens(&mine), tokens(&theirs));
    assert_eq!(tokens(&mine).len(), 2);
    for (id, name, token) in &seeded.users {
        // The session Parse Server issued keeps working.
        let (status, me) = as_user(basalt, Method::GET, "/users/me", token, None).await?;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["objectId"], json!(id));
        assert_eq!(me["username"], json!(name));
        assert_eq!(me["sessionToken"], json!(token));
        assert_eq!(me["email"], json!(format!("{name}@example.com")));
        // The bcrypt hash Parse Server stored verifies.
        let (status, login) = basalt
            .request(
                Method::POST,
                "/login",
                Some(json!({"username": name, "password": format!("{name}-pw")})),
                false,
            )
            .await?;
        assert_eq!(status, 200, "{login}");
        assert_eq!(login["objectId"], json!(id));
        let (status, wrong) = basalt
            .request(
                Method::POST,
                "/login",
                Some(json!({"username": name, "password": "nope"})),
                false,
            )
            .await?;
        assert_eq!((status, &wrong["code"]), (404, &json!(101)));
    }
    // A log-out ends the imported session.
    let (status, _) = as_user(basalt, Method::POST, "/logout", bob_token, None).await?;
    assert_eq!(status, 200);
    let (status, gone) = as_user(basalt, Method::GET, "/users/me", bob_token, None).await?;
    assert_eq!((status, &gone["code"]), (400, &json!(209)));
    Ok(())
}

async fn roles_acls_and_clps_hold(
    parse: &ParseServer,
    basalt: &TestServer,
    seeded: &Seeded,
) -> anyhow::Result<()> {
    let alice = &seeded.users[0].2;
    let carol = &seeded.users[2].2;
    let bob_again = {
        let (_, login) = basalt
            .request(
                Method::POST,
                "/login",
                Some(json!({"username": "bob", "password": "bob-pw"})),
                false,
            )
            .await?;
        login["sessionToken"].as_str().context("token")?.to_owned()
    };
    let get = |id: &str| format!("/classes/GameScore/{id}");
    // Role ACL: Admins only.
    assert_eq!(
        as_user(basalt, Method::GET, &get(&seeded.admins_only), alice, None)
            .await?
            .0,
        200
    );
    assert_eq!(
        as_user(
            basalt,
            Method::GET,
            &get(&seeded.admins_only),
            &bob_again,
            None
        )
        .await?
        .0,
        404
    );
    // Nested role: alice is a Writer through Admins; carol is neither.
    assert_eq!(
        as_user(basalt, Method::GET, &get(&seeded.writers_only), alice, None)
            .await?
            .0,
        200
    );
    assert_eq!(
        as_user(
            basalt,
            Method::GET,
            &get(&seeded.writers_only),
            &bob_again,
            None
        )
        .await?
        .0,
        200
    );
    assert_eq!(
        as_user(basalt, Method::GET, &get(&seeded.writers_only), carol, None)
            .await?
            .0,
        404
    );
    assert_eq!(basalt.get(&get(&seeded.writers_only)).await?.0, 404);

    // The CLP: only Writers create, only Admins delete; `secret` is protected.
    let body = Some(json!({"name": "new"}));
    let (status, denied) = as_user(
        basalt,
        Method::POST,
        "/classes/GameScore",
        carol,
        body.clone(),
    )
    .await?;
    assert_eq!((status, &denied["code"]), (400, &json!(119)));
    let (status, created) =
        as_user(basalt, Method::POST, "/classes/GameScore", &bob_again, body).await?;
    assert_eq!(status, 201, "{created}");
    let new_id = created["objectId"].as_str().context("id")?;
    assert_eq!(
        as_user(basalt, Method::DELETE, &get(new_id), &bob_again, None)
            .await?
            .1["code"],
        119
    );
    assert_eq!(
        as_user(basalt, Method::DELETE, &get(new_id), alice, None)
            .await?
            .0,
        200
    );
    let (_, public) = basalt.get(&get(&seeded.scores[0])).await?;
    assert_eq!(public["name"], "game 0");
    assert!(public.get("secret").is_none(), "{public}");

    // /schemas shows Parse's permissions and index.
    let (_, theirs) = parse
        .request(Method::GET, "/schemas/GameScore", None, true, None)
        .await?;
    let (_, ours) = basalt
        .request(Method::GET, "/schemas/GameScore", None, true)
        .await?;
    assert_eq!(
        ours["classLevelPermissions"],
        theirs["classLevelPermissions"]
    );
    assert_eq!(ours["indexes"]["score_1"], json!({"score": 1}));
    assert_eq!(ours["fields"], theirs["fields"]);
    let (_, all) = basalt.request(Method::GET, "/schemas", None, true).await?;
    let names: Vec<&str> = all["results"]
        .as_array()
        .context("results")?
        .iter()
        .filter_map(|s| s["className"].as_str())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("_Import")), "{names:?}");
    // An indexed query answers in Parse's order.
    let (_, top) = basalt
        .query(
            "GameScore",
            json!({"score": {"$gte": 117}}),
            &[("order", "-score")],
        )
        .await?;
    let top: Vec<&Value> = top["results"]
        .as_array()
        .context("results")?
        .iter()
        .map(|o| &o["score"])
        .collect();
    assert_eq!(top, [&json!(119), &json!(118), &json!(117)]);
    Ok(())
}

/// An import killed at an arbitrary point, then run again, holds exactly one copy of each
/// object.
async fn killed_import_resumes_without_duplicates(parse: &ParseServer) -> anyhow::Result<()> {
    let data = Target::new().await?;
    let mut child = tokio::process::Command::new(binary())
        .args(["import", "--from", &parse.db_url])
        .args(data.args())
        .args([
            "--app-id",
            APP_ID,
            "--master-key",
            MASTER_KEY,
            "--progress",
            "plain",
            "--batch-size",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    while let Some(line) = lines.next_line().await? {
        if line.starts_with("import GameScore:") {
            break;
        }
    }
    child.start_kill()?;
    child.wait().await?;

    let rerun = import(&parse.db_url, &data, &[]).await?;
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let (imported, present, refused) = counts(&rerun.stdout, "GameScore").context("row")?;
    assert_eq!(imported + present, 123, "{}", rerun.stdout);
    assert_eq!(refused, 1);
    let basalt = data.serve().await?;
    let (_, n) = basalt
        .request(
            Method::GET,
            "/classes/GameScore?count=1&limit=0",
            None,
            true,
        )
        .await?;
    assert_eq!(n["count"], 123);
    let (_, users) = basalt
        .request(Method::GET, "/classes/_User?count=1&limit=0", None, true)
        .await?;
    assert_eq!(users["count"], 3);
    Ok(())
}
