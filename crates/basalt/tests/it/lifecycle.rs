//! Starting with no keys, restarting on the same data, graceful shutdown, configuration errors.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::TestServer;
use crate::support::server::binary;

#[tokio::test]
async fn first_start_generates_keys_once_and_prints_a_curl_line() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            let done = line.starts_with("listening on ");
            printed.push(line);
            if done {
                break;
            }
        }
        Ok::<_, anyhow::Error>(())
    })
    .await??;
    child.kill().await?;

    let text = printed.join("\n");
    let keys = std::fs::read_to_string(dir.path().join("keys.toml"))?;
    let stored: toml_like::Keys = toml_like::parse(&keys);
    assert!(
        text.contains(&stored.app_id) && text.contains(&stored.master_key),
        "{text}"
    );
    assert!(text.contains("curl -X POST"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(dir.path().join("keys.toml"))?
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    let again = TestServer::start_in(dir.path(), &[]).await?;
    let res = reqwest::Client::new()
        .get(format!("{}/classes/Any", again.url))
        .header("X-Parse-Application-Id", &stored.app_id)
        .send()
        .await?;
    assert_eq!(
        res.status(),
        200,
        "the stored app id keeps working after a restart"
    );
    Ok(())
}

/// Reads the two keys of keys.toml without a TOML parser in the test's dependencies.
mod toml_like {
    pub struct Keys {
        pub app_id: String,
        pub master_key: String,
    }

    pub fn parse(text: &str) -> Keys {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = ")))
                .map(|v| v.trim_matches('"').to_owned())
                .unwrap_or_default()
        };
        Keys {
            app_id: get("app_id"),
            master_key: get("master_key"),
        }
    }
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_data_survives_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let s = TestServer::start_in(
        dir.path(),
        &["--app-id", "it-app", "--master-key", "it-master"],
    )
    .await?;
    let (_, created) = s.create("Keep", json!({"v": "kept"})).await?;
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();

    let database = s.database();
    let status = s.terminate().await?;

    assert!(status.success(), "exit status {status:?}");
    let s = TestServer::start_on(
        dir.path(),
        database,
        &["--app-id", "it-app", "--master-key", "it-master"],
    )
    .await?;
    let (code, got) = s.get(&format!("/classes/Keep/{id}")).await?;
    assert_eq!((code, got["v"].clone()), (200, json!("kept")));
    Ok(())
}

#[tokio::test]
async fn bad_configuration_lists_every_problem_and_exits_2() -> anyhow::Result<()> {
    let out = tokio::process::Command::new(binary())
        .args([
            "serve",
            "--max-upload-size",
            "lots",
            "--mount-path",
            "parse",
            "--master-key-ips",
            "nowhere",
        ])
        .output()
        .await?;

    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 problem(s)"), "{err}");
    assert!(
        err.contains("lots") && err.contains("must start with /") && err.contains("nowhere"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn help_documents_parse_environment_names() -> anyhow::Result<()> {
    let out = tokio::process::Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .await?;

    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "PARSE_SERVER_APPLICATION_ID",
        "PARSE_SERVER_MASTER_KEY",
        "PARSE_SERVER_DATABASE_URI",
        "PARSE_SERVER_MOUNT_PATH",
        "PARSE_SERVER_CLOUD",
        "BASALT_DATA_DIR",
    ] {
        assert!(help.contains(name), "--help lacks {name}");
    }
    Ok(())
}

#[tokio::test]
async fn options_for_later_capabilities_are_accepted() -> anyhow::Result<()> {
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--cloud",
        "./cloud/main.js",
    ])
    .await?;

    let (status, body) = s.get("/health").await?;

    assert_eq!((status, body), (200, json!({"status": "ok"})));
    Ok(())
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() -> anyhow::Result<()> {
    // The embedded store, whatever store the suite runs on: that is the one a process owns.
    let dir = tempfile::tempdir()?;
    let first = TestServer::start_on(
        dir.path(),
        None,
        &["--app-id", "it-app", "--master-key", "it-master"],
    )
    .await?;

    let out = tokio::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--app-id", "it-app", "--master-key", "it-master"])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert!(!out.status.success(), "a second server started: {stderr}");
    assert!(
        stderr.contains("in use by another basalt process"),
        "{stderr}"
    );
    // The first one is unharmed.
    let (code, _) = first.create("StillHere", json!({"v": 1})).await?;
    assert_eq!(code, 201);
    Ok(())
}
