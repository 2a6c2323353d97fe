//! Parse Server's `auth` option (`PARSE_SERVER_AUTH_PROVIDERS`, a JSON object keyed by
//! provider name) read into [`ProviderSpec`]s. Option names are matched without regard to case
//! or underscores, so `clientId`, `client_id` and `clientid` are the same option (TOML files
//! use snake_case, Parse's JSON camelCase).

use std::time::Duration;

use serde_json::{Map, Value};

use super::ProviderSpec;
use crate::access_token::{AccessTokenProvider, FACEBOOK_GRAPH, GITHUB_API};
use crate::oidc::{OidcOptions, OidcProvider};
use crate::totp;

/// Reads the whole `auth` object; returns every problem found.
pub fn parse_auth_options(options: &Value) -> Result<Vec<ProviderSpec>, Vec<String>> {
    let Some(entries) = options.as_object() else {
        return Err(vec![
            "auth providers must be a JSON object keyed by provider name".to_owned(),
        ]);
    };
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for (name, entry) in entries {
        match parse_one(name, entry) {
            Ok(spec) => specs.push(spec),
            Err(problem) => problems.push(format!("auth.{name}: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems)
    }
}

fn parse_one(name: &str, entry: &Value) -> Result<ProviderSpec, String> {
    let o = entry.as_object().ok_or("must be an object of options")?;
    if !is_valid_name(name) {
        return Err("provider names are letters, digits and _".to_owned());
    }
    if option(o, "enabled").and_then(Value::as_bool) == Some(false) {
        return Ok(ProviderSpec::Disabled {
            name: name.to_owned(),
        });
    }
    match name {
        "anonymous" => Ok(ProviderSpec::Anonymous),
        "mfa" => mfa(o),
        "github" => Ok(ProviderSpec::AccessToken(AccessTokenProvider::github(
            &string_option(o, "apiUrl")?.unwrap_or_else(|| GITHUB_API.to_owned()),
        ))),
        "facebook" => facebook(o),
        "google" => oidc(o, OidcProvider::google(client_ids(o)?)),
        "apple" => oidc(o, OidcProvider::apple(client_ids(o)?)),
        "microsoft" => microsoft(o),
        _ if option(o, "issuer").is_some() => generic_oidc(name, o),
        _ => Err(
            "not a provider basalt verifies (anonymous, apple, google, microsoft, github, \
             facebook, mfa, or any OpenID Connect issuer given `issuer` and `clientId`)"
                .to_owned(),
        ),
    }
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The option `wanted` under any of its spellings.
fn option<'a>(o: &'a Map<String, Value>, wanted: &str) -> Option<&'a Value> {
    let wanted = normalized(wanted);
    o.iter()
        .find(|(k, _)| normalized(k) == wanted)
        .map(|(_, v)| v)
}

fn string_option(o: &Map<String, Value>, wanted: &str) -> Result<Option<String>, String> {
    match option(o, wanted) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(format!("{wanted} must be a non-empty string")),
    }
}

fn seconds_option(o: &Map<String, Value>, wanted: &str) -> Result<Option<Duration>, String> {
    match option(o, wanted) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 1e7)
            .map(|s| Some(Duration::from_secs_f64(s)))
            .ok_or_else(|| format!("{wanted} must be a number of seconds")),
    }
}

/// `clientId` (Parse's name; a string or a list), also spelled `clientIds`, `appIds`.
fn client_ids(o: &Map<String, Value>) -> Result<Vec<String>, String> {
    let value = option(o, "clientId")
        .or_else(|| option(o, "clientIds"))
        .or_else(|| option(o, "appIds"));
    let ids: Vec<String> = match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("clientId must be a string or a list of strings")?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("clientId must be a string or a list of strings".to_owned()),
    };
    let ids: Vec<String> = ids.into_iter().filter(|s| !s.is_empty()).collect();
    if ids.is_empty() {
        return Err("clientId is required (the audience id_tokens are issued for)".to_owned());
    }
    Ok(ids)
}

fn oidc(o: &Map<String, Value>, mut provider: OidcProvider) -> Result<ProviderSpec, String> {
    if let Some(uri) = string_option(o, "jwksUri")? {
        provider.jwks_uri = Some(uri);
    }
    let defaults = OidcOptions::default();
    let options = OidcOptions {
        jwks_ttl: seconds_option(o, "jwksCacheSeconds")?.unwrap_or(defaults.jwks_ttl),
        min_refetch_interval: seconds_option(o, "jwksRefetchSeconds")?
            .unwrap_or(defaults.min_refetch_interval),
        leeway: seconds_option(o, "clockToleranceSeconds")?.unwrap_or(defaults.leeway),
    };
    Ok(ProviderSpec::Oidc { provider, options })
}

fn generic_oidc(name: &str, o: &Map<String, Value>) -> Result<ProviderSpec, String> {
    let issuer = string_option(o, "issuer")?.ok_or("issuer must be a non-empty string")?;
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
        return Err(format!("issuer {issuer:?} must be an http(s) URL"));
    }
    let provider = OidcProvider {
        name: name.to_owned(),
        issuer,
        client_ids: client_ids(o)?,
        jwks_uri: None,
        extra_issuers: Vec::new(),
    };
    oidc(o, provider)
}

fn microsoft(o: &Map<String, Value>) -> Result<ProviderSpec, String> {
    let tenant = string_option(o, "tenantId")?
        .ok_or("tenantId is required (the directory id; id_tokens name it in their issuer)")?;
    let provider = OidcProvider {
        name: "microsoft".to_owned(),
        issuer: format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        client_ids: client_ids(o)?,
        jwks_uri: Some(format!(
            "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys"
        )),
        extra_issuers: Vec::new(),
    };
    oidc(o, provider)
}

fn facebook(o: &Map<String, Value>) -> Result<ProviderSpec, String> {
    let app_ids = match option(o, "appIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => client_ids(o)?,
    };
    let graph = string_option(o, "graphUrl")?
        .or(string_option(o, "apiUrl")?)
        .unwrap_or_else(|| FACEBOOK_GRAPH.to_owned());
    Ok(ProviderSpec::AccessToken(AccessTokenProvider::facebook(
        &graph,
        string_option(o, "appSecret")?,
        app_ids,
    )))
}

fn mfa(o: &Map<String, Value>) -> Result<ProviderSpec, String> {
    let methods: Vec<&str> = option(o, "options")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .ok_or("options must be a list, e.g. [\"TOTP\"]")?;
    if methods.contains(&"SMS") {
        return Err("SMS one-time codes are not supported; use [\"TOTP\"]".to_owned());
    }
    if !methods.contains(&"TOTP") {
        return Err("options must include \"TOTP\"".to_owned());
    }
    let fixed = [
        ("digits", Value::from(totp::DIGITS)),
        ("period", Value::from(totp::STEP_SECONDS)),
        ("algorithm", Value::from("SHA1")),
    ];
    for (key, only) in fixed {
        if let Some(v) = option(o, key).filter(|v| !v.is_null())
            && *v != only
        {
            return Err(format!("{key} can only be {only} (RFC 6238 defaults)"));
        }
    }
    Ok(ProviderSpec::Mfa)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_parse_and_snake_case_spellings() {
        let specs = parse_auth_options(&json!({
            "google": {"clientId": "g-app"},
            "mycorp": {"issuer": "https://id.example.com", "client_id": ["a", "b"], "jwks_refetch_seconds": 0},
            "github": {"api_url": "http://127.0.0.1:9"},
            "facebook": {"appIds": ["123"], "appSecret": "s"},
            "mfa": {"enabled": true, "options": ["TOTP"]},
            "anonymous": {"enabled": false},
        }))
        .unwrap();

        assert_eq!(specs.len(), 6);
        let corp = specs
            .iter()
            .find_map(|s| match s {
                ProviderSpec::Oidc { provider, options } if provider.name == "mycorp" => {
                    Some((provider, options))
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(corp.0.client_ids, ["a", "b"]);
        assert_eq!(corp.0.jwks_uri, None, "discovered from the issuer");
        assert_eq!(corp.1.min_refetch_interval, Duration::ZERO);
        assert!(
            specs
                .iter()
                .any(|s| matches!(s, ProviderSpec::AccessToken(p)
            if p.name == "github" && p.me_url == "http://127.0.0.1:9/user"))
        );
        assert!(
            specs
                .iter()
                .any(|s| matches!(s, ProviderSpec::Disabled { name } if name == "anonymous"))
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_provider() {
        let problems = parse_auth_options(&json!({
            "google": {},
            "twitter": {"consumerKey": "x"},
            "microsoft": {"clientId": "m"},
            "mfa": {"options": ["SMS"]},
            "oidc": {"issuer": "ftp://x", "clientId": "c"},
        }))
        .unwrap_err();

        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("auth.google: clientId is required"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("auth.twitter: not a provider"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("auth.microsoft: tenantId"))
        );
        assert!(problems.iter().any(|p| p.starts_with("auth.mfa: SMS")));
        assert!(parse_auth_options(&json!([1])).is_err());
    }

    #[test]
    fn mfa_accepts_only_rfc_defaults() {
        assert!(parse_auth_options(&json!({"mfa": {"options": ["TOTP"], "digits": 6}})).is_ok());
        let problems =
            parse_auth_options(&json!({"mfa": {"options": ["TOTP"], "digits": 8}})).unwrap_err();
        assert!(problems[0].contains("digits can only be 6"), "{problems:?}");
    }
}
