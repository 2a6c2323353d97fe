//! Objects over REST: the exact wire shapes of create, get, update and delete.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

fn is_object_id(v: &serde_json::Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 10 && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_parse_date(v: &serde_json::Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
    })
}

#[tokio::test]
async fn create_returns_201_with_id_date_and_location() -> anyhow::Result<()> {
    let s = TestServer::start().await?;

    let res = reqwest::Client::new()
        .post(format!("{}/classes/GameScore", s.url))
        .header("X-Parse-Application-Id", crate::support::server::APP_ID)
        .json(&json!({"score": 1337, "playerName": "Sean Plott"}))
        .send()
        .await?;

    assert_eq!(res.status(), 201);
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: serde_json::Value = res.json().await?;
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    assert!(is_object_id(&body["objectId"]), "{body}");
    assert!(is_parse_date(&body["createdAt"]), "{body}");
    assert_eq!(
        location,
        Some(format!(
            "{}/classes/GameScore/{}",
            s.url,
            body["objectId"].as_str().unwrap_or("")
        ))
    );
    Ok(())
}

#[tokio::test]
async fn get_update_delete_round_trip() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let (_, created) = s.create("Item", json!({"n": 1, "tags": ["a"], "when": {"__type": "Date", "iso": "2024-05-06T07:08:09Z"}})).await?;
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();

    let (status, got) = s.get(&format!("/classes/Item/{id}")).await?;
    assert_eq!(status, 200);
    assert_eq!(got["n"], 1);
    assert_eq!(
        got["when"],
        json!({"__type": "Date", "iso": "2024-05-06T07:08:09.000Z"})
    );
    assert_eq!(got["createdAt"], created["createdAt"]);
    assert_eq!(got["updatedAt"], created["createdAt"]);

    let (status, updated) = s
        .request(Method::PUT, &format!("/classes/Item/{id}"), Some(json!({"n": {"__op": "Increment", "amount": 41}, "tags": {"__op": "AddUnique", "objects": ["a", "b"]}, "x": "y"})), false)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(updated["n"], 42);
    assert_eq!(updated["tags"], json!(["a", "b"]));
    assert!(
        updated.get("x").is_none(),
        "plain sets are not echoed: {updated}"
    );
    assert!(is_parse_date(&updated["updatedAt"]));

    let (status, deleted) = s
        .request(Method::DELETE, &format!("/classes/Item/{id}"), None, false)
        .await?;
    assert_eq!((status, deleted), (200, json!({})));
    let (status, gone) = s.get(&format!("/classes/Item/{id}")).await?;
    assert_eq!(
        (status, gone),
        (404, json!({"code": 101, "error": "Object not found."}))
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_increments_are_not_lost() -> anyhow::Result<()> {
    let s = std::sync::Arc::new(TestServer::start().await?);
    let (_, created) = s.create("Counter", json!({"n": 0})).await?;
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (s, id) = (std::sync::Arc::clone(&s), id.clone());
        tasks.push(tokio::spawn(async move {
            s.request(
                Method::PUT,
                &format!("/classes/Counter/{id}"),
                Some(json!({"n": {"__op": "Increment", "amount": 1}})),
                false,
            )
            .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await??.0, 200);
    }

    let (_, got) = s.get(&format!("/classes/Counter/{id}")).await?;
    assert_eq!(got["n"], 50);
    Ok(())
}

#[tokio::test]
async fn sdk_tunnelled_post_acts_as_the_request_it_carries() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    s.create("Tun", json!({"n": 1})).await?;
    s.create("Tun", json!({"n": 2})).await?;

    let body = json!({"_method": "GET", "_ApplicationId": crate::support::server::APP_ID, "_ClientVersion": "js8.6.0",
                      "_InstallationId": "abc", "where": {"n": {"$gt": 1}}, "count": 1});
    let (status, found) = s
        .raw(
            Method::POST,
            "/classes/Tun",
            body.to_string().into_bytes(),
            "text/plain",
        )
        .await?;

    assert_eq!(status, 200);
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["n"], 2);
    Ok(())
}
