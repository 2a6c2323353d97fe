//! Bad input gets Parse's error and loses nothing.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn malformed_json_is_400_and_writes_nothing() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    s.create("Thing", json!({"a": 1})).await?;

    let (status, body) = s
        .raw(
            Method::POST,
            "/classes/Thing",
            b"{\"a\":".to_vec(),
            "application/json",
        )
        .await?;

    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(
        body.get("code").is_none(),
        "Parse's body-parser errors carry no code: {body}"
    );
    let (_, all) = s.query("Thing", json!({}), &[("count", "1")]).await?;
    assert_eq!(all["count"], 1);
    Ok(())
}

#[tokio::test]
async fn oversize_body_is_rejected_with_413() -> anyhow::Result<()> {
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--max-upload-size",
        "1kb",
    ])
    .await?;
    let big = json!({"blob": "x".repeat(4096)});

    let (status, body) = s.create("Big", big).await?;

    assert_eq!(status, 413);
    assert_eq!(body["code"], 116);
    let (status, _) = s.get("/health").await?;
    assert_eq!(status, 200, "the server keeps serving");
    Ok(())
}

#[tokio::test]
async fn wrong_app_id_is_403_unauthorized() -> anyhow::Result<()> {
    let s = TestServer::start().await?;

    let res = reqwest::Client::new()
        .get(format!("{}/classes/Any", s.url))
        .header("X-Parse-Application-Id", "nope")
        .send()
        .await?;

    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<serde_json::Value>().await?,
        json!({"error": "unauthorized"})
    );
    Ok(())
}

#[tokio::test]
async fn query_errors_carry_parse_codes() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    s.create("Q", json!({"a": 1})).await?;

    let cases = [
        (json!({"a": {"$frob": 1}}), 107, "bad constraint: $frob"),
        (json!({"$frob": 1}), 105, "Invalid key name: $frob"),
        (json!({"a": {"$in": 1}}), 107, "bad $in value"),
        (json!({"a": {"$regex": "("}}), 102, ""),
    ];
    for (where_, code, message) in cases {
        let (status, body) = s.query("Q", where_.clone(), &[]).await?;
        assert_eq!(status, 400, "{where_}");
        assert_eq!(body["code"], code, "{where_}: {body}");
        if !message.is_empty() {
            assert_eq!(body["error"], message);
        }
    }
    let (status, body) = s.get("/classes/Q?bogus=1").await?;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"code": 102, "error": "Invalid parameter for query: bogus"})
        )
    );
    Ok(())
}

#[tokio::test]
async fn type_conflicts_are_111_and_leave_the_object_unchanged() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let (_, created) = s.create("T", json!({"n": 1})).await?;
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();

    let (status, body) = s
        .request(
            Method::PUT,
            &format!("/classes/T/{id}"),
            Some(json!({"n": "one", "other": 5})),
            false,
        )
        .await?;

    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"code": 111, "error": "schema mismatch for T.n; expected Number but got String"})
    );
    let (_, got) = s.get(&format!("/classes/T/{id}")).await?;
    assert_eq!(got["n"], 1);
    assert!(got.get("other").is_none());
    Ok(())
}
