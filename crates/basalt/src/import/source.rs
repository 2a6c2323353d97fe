//! Reading a database Parse Server's PostgreSQL adapter wrote: the `_SCHEMA` table (one row per
//! class, its schema JSON with permissions and indexes), a table per class (rows read in
//! `objectId` order, each as `row_to_json`), and the `_Join:<field>:<class>` tables holding
//! Relation links. Read-only: nothing here writes to the source.

use anyhow::Context as _;
use serde_json::{Map, Value};
use tokio_postgres::Client;

/// A connection to Parse Server's database.
pub struct ParseDatabase {
    client: Client,
}

/// A class as `_SCHEMA` holds it.
pub struct SourceClass {
    /// The class name.
    pub name: String,
    /// Its schema JSON (`fields`, `classLevelPermissions`, `indexes`).
    pub entry: Value,
}

/// `"name"` with inner quotes doubled: any class or join table name is a safe identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The relation join table Parse keeps for `field` of `class`.
fn join_table(class: &str, field: &str) -> String {
    format!("_Join:{field}:{class}")
}

impl ParseDatabase {
    /// Connects, encrypted as the URL's `sslmode` asks (libpq's meanings, as for
    /// `--database-uri`), and checks the database holds Parse's `_SCHEMA` table.
    pub async fn connect(url: &str) -> anyhow::Result<ParseDatabase> {
        let client = basalt_store::postgres::connect_single(url)
            .await
            .context("cannot connect to the Parse Server database")?;
        let db = ParseDatabase { client };
        // Timestamps read as UTC ISO strings; one repeatable snapshot would need one long
        // transaction, which an import of millions of rows should not hold open.
        db.client
            .batch_execute("SET TIME ZONE 'UTC'; SET extra_float_digits = 1")
            .await?;
        anyhow::ensure!(
            db.table_exists("_SCHEMA").await?,
            "the database has no _SCHEMA table: it is not one Parse Server's PostgreSQL adapter wrote"
        );
        Ok(db)
    }

    /// Every class in `_SCHEMA`, by name.
    pub async fn classes(&self) -> anyhow::Result<Vec<SourceClass>> {
        let rows = self
            .client
            .query(
                r#"SELECT "className", "schema"::text FROM "_SCHEMA" ORDER BY "className""#,
                &[],
            )
            .await
            .context("reading _SCHEMA")?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let text: Option<String> = r.try_get(1)?;
                let entry = match text {
                    Some(t) => serde_json::from_str(&t)
                        .with_context(|| format!("_SCHEMA entry of {name} is not JSON"))?,
                    None => Value::Null,
                };
                Ok(SourceClass { name, entry })
            })
            .collect()
    }

    /// Whether a table exists (in the connection's search path).
    pub async fn table_exists(&self, name: &str) -> anyhow::Result<bool> {
        let row = self
            .client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ident(name)])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Rows in a table.
    pub async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", ident(table));
        let n: i64 = self.client.query_one(&sql, &[]).await?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` rows of `class` with an objectId after `after`, in objectId order (the
    /// primary key's order, so each batch is an index range scan).
    pub async fn rows_after(
        &self,
        class: &str,
        after: Option<&str>,
        limit: usize,
    ) -> anyhow::Result<Vec<Map<String, Value>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let table = ident(class);
        let rows = match after {
            Some(after) => {
                let sql = format!(
                    r#"SELECT row_to_json(t)::text FROM {table} t WHERE "objectId" > $1 ORDER BY "objectId" LIMIT $2"#
                );
                self.client.query(&sql, &[&after, &limit]).await
            }
            None => {
                let sql = format!(
                    r#"SELECT row_to_json(t)::text FROM {table} t ORDER BY "objectId" LIMIT $1"#
                );
                self.client.query(&sql, &[&limit]).await
            }
        }
        .with_context(|| format!("reading {class}"))?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(0)?;
                match serde_json::from_str(&text)? {
                    Value::Object(o) => Ok(o),
                    other => anyhow::bail!("row_to_json gave {other}"),
                }
            })
            .collect()
    }

    /// The Relation links of `field` of `class` owned by `owners`: (owner id, related id).
    pub async fn links(
        &self,
        class: &str,
        field: &str,
        owners: &[String],
    ) -> anyhow::Result<Vec<(String, String)>> {
        let table = join_table(class, field);
        if !self.table_exists(&table).await? {
            return Ok(vec![]);
        }
        let sql = format!(
            r#"SELECT "owningId", "relatedId" FROM {} WHERE "owningId" = ANY($1) ORDER BY "owningId", "relatedId""#,
            ident(&table)
        );
        let rows = self
            .client
            .query(&sql, &[&owners])
            .await
            .with_context(|| format!("reading {table}"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Closes the connection (its task ends once the client is gone).
    pub fn close(self) {
        drop(self.client);
    }
}
