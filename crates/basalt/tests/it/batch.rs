//! `/batch`, independent and transactional.

use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn independent_batch_answers_each_sub_request() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    s.create("B", json!({"n": 0})).await?;

    let (status, body) = s
        .request(
            reqwest::Method::POST,
            "/batch",
            Some(json!({"requests": [
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": 1}},
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": "bad"}},
                {"method": "GET", "path": "/parse/classes/B", "body": {"where": {"n": 1}}},
            ]})),
            false,
        )
        .await?;

    assert_eq!(status, 200);
    assert!(body[0]["success"]["objectId"].is_string(), "{body}");
    assert_eq!(body[1]["error"]["code"], 111);
    assert_eq!(body[2]["success"]["results"][0]["n"], 1);
    Ok(())
}

#[tokio::test]
async fn transactional_batch_writes_all_or_nothing() -> anyhow::Result<()> {
    let s = TestServer::start().await?;
    let (_, a) = s.create("Tx", json!({"n": 1})).await?;
    let a = a["objectId"].as_str().unwrap_or_default().to_owned();

    let (status, _) = s
        .request(
            reqwest::Method::POST,
            "/batch",
            Some(json!({"transaction": true, "requests": [
                {"method": "PUT", "path": format!("/parse/classes/Tx/{a}"), "body": {"n": 100}},
                {"method": "POST", "path": "/parse/classes/Tx", "body": {"n": 2}},
                {"method": "DELETE", "path": "/parse/classes/Tx/doesNotExist"},
            ]})),
            false,
        )
        .await?;

    assert_eq!(status, 500);
    let (_, all) = s.query("Tx", json!({}), &[]).await?;
    assert_eq!(all["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(all["results"][0]["n"], 1);
    Ok(())
}
