//! The connection settings a `postgres://` URI names, and the TLS connector its `sslmode` asks
//! for. libpq's meanings are kept: `disable` never encrypts, `prefer` (the default) encrypts
//! when the server offers it, `require` insists on encryption without checking the server's
//! certificate, and `verify-ca` / `verify-full` insist on encryption with a certificate the
//! platform's trust store accepts for the host.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked when the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CertCheck {
    /// Encrypt, but accept any certificate (libpq's `prefer` and `require`).
    None,
    /// Accept only certificates the platform trusts for this host (`verify-ca`, `verify-full`).
    Platform,
}

/// Parses the URI into driver settings; `sslmode=verify-*` (which the driver does not parse) is
/// taken out and turned into `require` plus a certificate check.
pub(super) fn parse(uri: &str) -> anyhow::Result<(tokio_postgres::Config, CertCheck)> {
    let mut url = url::Url::parse(uri).context("the database URI is not a valid URI")?;
    let mut check = CertCheck::None;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs
        .iter()
        .any(|(k, v)| k == "sslmode" && v.starts_with("verify-"))
    {
        check = CertCheck::Platform;
        let kept: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| {
                if k == "sslmode" {
                    (k, "require".to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let config: tokio_postgres::Config = url
        .as_str()
        .parse()
        .context("the database URI has settings PostgreSQL does not accept")?;
    if config.get_dbname().is_none() {
        anyhow::bail!("the database URI names no database (postgres://HOST/DATABASE)");
    }
    Ok((config, check))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The TLS connector for the settings; unused when `sslmode=disable`.
pub(super) fn connector(
    config: &tokio_postgres::Config,
    check: CertCheck,
) -> anyhow::Result<MakeRustlsConnect> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let client = match (config.get_ssl_mode(), check) {
        (SslMode::Disable, _) | (_, CertCheck::None) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        (_, CertCheck::Platform) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(
                rustls_platform_verifier::Verifier::new(provider)
                    .context("loading the platform's trusted certificates")?,
            ))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(client))
}

/// libpq's `require`: the channel is encrypted and the handshake signatures are checked, but
/// the certificate itself is not (that is what `verify-full` is for).
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require_with_a_certificate_check() {
        let (config, check) =
            parse("postgres://u@db.example:5433/app?sslmode=verify-full").unwrap();

        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(check, CertCheck::Platform);
        assert_eq!(config.get_dbname(), Some("app"));
    }

    #[test]
    fn plain_modes_pass_through() {
        for (mode, want) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
        ] {
            let (config, check) = parse(&format!("postgres://u@h/app?sslmode={mode}")).unwrap();
            assert_eq!((config.get_ssl_mode(), check), (want, CertCheck::None));
        }
    }

    #[test]
    fn a_uri_without_a_database_is_refused() {
        assert!(parse("postgres://u@h").is_err());
        assert!(parse("postgres://u@h/app?sslmode=sometimes").is_err());
    }
}
