//! The connector for each `sslmode`: plain TCP, or rustls with the aws-lc-rs provider.

use deadpool_postgres::{Manager, ManagerConfig};

use crate::error::PostgresConfigError;
use crate::url::{SslMode, TlsConfig};

/// A pool manager that connects as `tls` says.
pub(crate) fn manager(
    config: tokio_postgres::Config,
    tls: &TlsConfig,
    manager_config: ManagerConfig,
) -> Result<Manager, PostgresConfigError> {
    if tls.mode == SslMode::Disable {
        return Ok(Manager::from_config(
            config,
            tokio_postgres::NoTls,
            manager_config,
        ));
    }
    rustls_manager(config, tls, manager_config)
}

#[cfg(not(feature = "tls"))]
fn rustls_manager(
    _config: tokio_postgres::Config,
    tls: &TlsConfig,
    _manager_config: ManagerConfig,
) -> Result<Manager, PostgresConfigError> {
    Err(PostgresConfigError::TlsDisabled(tls.mode.name()))
}

#[cfg(feature = "tls")]
fn rustls_manager(
    config: tokio_postgres::Config,
    tls: &TlsConfig,
    manager_config: ManagerConfig,
) -> Result<Manager, PostgresConfigError> {
    Ok(Manager::from_config(
        config,
        rustls_connector(tls)?,
        manager_config,
    ))
}

/// The rustls connector for `tls` (also used by the cache's listener connection).
#[cfg(feature = "tls")]
pub(crate) fn rustls_connector(
    tls: &TlsConfig,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PostgresConfigError> {
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
        rustls_impl::client_config(tls)?,
    ))
}

#[cfg(feature = "tls")]
mod rustls_impl {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::WebPkiSupportedAlgorithms;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{
        CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };

    use super::{PostgresConfigError, SslMode, TlsConfig};

    pub(super) fn client_config(tls: &TlsConfig) -> Result<ClientConfig, PostgresConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| PostgresConfigError::RootCerts(e.to_string()))?;
        let verifier: Arc<dyn ServerCertVerifier> = match tls.mode {
            // libpq's `prefer` and `require` encrypt without verifying the server.
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(NoVerification(provider.signature_verification_algorithms))
            }
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let webpki = WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots(tls)?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| PostgresConfigError::RootCerts(e.to_string()))?;
                if tls.mode == SslMode::VerifyCa {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    /// `sslrootcert` alone when given (as libpq does), else the system roots and the
    /// Mozilla roots of webpki-roots.
    fn roots(tls: &TlsConfig) -> Result<RootCertStore, PostgresConfigError> {
        let mut roots = RootCertStore::empty();
        if let Some(path) = &tls.root_cert {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| PostgresConfigError::RootCerts(format!("{}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(PostgresConfigError::RootCerts(format!(
                    "{}: no usable certificate",
                    path.display()
                )));
            }
            return Ok(roots);
        }
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Ok(roots)
    }

    /// `sslmode=require`: any certificate, but the handshake signatures are still checked.
    #[derive(Debug)]
    struct NoVerification(WebPkiSupportedAlgorithms);

    impl ServerCertVerifier for NoVerification {
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
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_schemes()
        }
    }

    /// `sslmode=verify-ca`: the chain must be trusted; the host name is not checked.
    #[derive(Debug)]
    struct ChainOnly(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}
