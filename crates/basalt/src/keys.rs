//! First-start keys: when no application id or master key is configured, generate them once,
//! keep them in the data directory (mode 0600) and print them with a ready-to-paste curl line.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};

const KEYS_FILE: &str = "keys.toml";

#[derive(Debug, Serialize, Deserialize)]
struct StoredKeys {
    app_id: String,
    master_key: String,
}

fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// The application id and master key to use, and whether they were just generated.
pub struct Keys {
    /// Application id.
    pub app_id: String,
    /// Master key.
    pub master_key: String,
    /// True on the start that generated them.
    pub generated: bool,
}

/// Fills in whichever of the two keys the configuration lacks, from the data dir or new.
pub fn resolve(
    data_dir: &Path,
    app_id: Option<String>,
    master_key: Option<String>,
) -> anyhow::Result<Keys> {
    if let (Some(app_id), Some(master_key)) = (&app_id, &master_key) {
        return Ok(Keys {
            app_id: app_id.clone(),
            master_key: master_key.clone(),
            generated: false,
        });
    }
    let path = data_dir.join(KEYS_FILE);
    let (stored, generated) = if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        (
            toml::from_str::<StoredKeys>(&text)
                .with_context(|| format!("reading {}", path.display()))?,
            false,
        )
    } else {
        let keys = StoredKeys {
            app_id: format!("app{}", random(12)),
            master_key: random(40),
        };
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        write_private(&path, &toml::to_string(&keys)?)?;
        (keys, true)
    };
    Ok(Keys {
        app_id: app_id.unwrap_or(stored.app_id),
        master_key: master_key.unwrap_or(stored.master_key),
        generated,
    })
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("creating {}", path.display()))
}

/// Prints newly generated keys once, with a curl line that creates an object.
pub fn announce(keys: &Keys, data_dir: &Path, base_url: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "basalt generated keys for this data directory (saved in {}, mode 0600):\n  \
         application id: {}\n  master key:     {}\nTry it:\n  \
         curl -X POST -H 'X-Parse-Application-Id: {}' -H 'Content-Type: application/json' \
         -d '{{\"score\":1337,\"playerName\":\"Sean Plott\"}}' {}/classes/GameScore",
        data_dir.join(KEYS_FILE).display(),
        keys.app_id,
        keys.master_key,
        keys.app_id,
        base_url
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(dir.path(), None, None).unwrap();
        assert!(first.generated);
        let second = resolve(dir.path(), None, None).unwrap();
        assert!(!second.generated);
        assert_eq!(first.app_id, second.app_id);
        assert_eq!(first.master_key, second.master_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEYS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let given = resolve(dir.path(), Some("mine".into()), None).unwrap();
        assert_eq!(given.app_id, "mine");
        assert_eq!(given.master_key, first.master_key);
    }
}
