//! The service's TLS certificate (rustls, `ring` provider): loaded from
//! the `tls_cert` / `tls_key` PEM files at start, reloaded on SIGHUP and
//! when the files change (checked every [`POLL_EVERY`]).
//!
//! Rules: a certificate that does not load at start stops the service,
//! naming the file and what is wrong; a bad new one later keeps the one in
//! use and logs an error (so a half-copied renewal never takes the service
//! down); each new connection takes the certificate current at its
//! handshake. Private keys are never logged, nor any part of the files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// How often the files are checked for a change.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// Why a certificate could not be loaded; each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .0.display())]
    NoCertificate(PathBuf),
    /// The key file holds no PEM private key.
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", .0.display())]
    NoKey(PathBuf),
    /// rustls refused the pair (a key that does not match the certificate,
    /// an unsupported key type).
    #[error("the certificate {} and key {} cannot be used together: {reason}", cert.display(), key.display())]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason (it never shows key material).
        reason: String,
    },
}

impl TlsError {
    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "tls_file_unreadable",
            Self::NoCertificate(_) => "tls_no_certificate",
            Self::NoKey(_) => "tls_no_key",
            Self::Refused { .. } => "tls_refused",
        }
    }
}

/// The certificate in use, and where it comes from.
#[derive(Debug)]
pub struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    config: Arc<ServerConfig>,
    /// SHA-256 of both files as loaded: a change is a new digest.
    digest: [u8; 32],
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Unreadable { path: path.to_path_buf(), error })
}

/// Warns when the key file can be read by anyone but its owner (the
/// README asks for `0600`): the certificate is public, the key is not.
fn check_key_mode(key: &Path) {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(key) {
        use std::os::unix::fs::PermissionsExt;
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %key.display(),
                mode = format_args!("{mode:o}"),
                "the TLS key file is readable by other users; make it 0600, owned by the service's user"
            );
        }
    }
}

fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((cert.len() as u64).to_le_bytes());
    h.update(cert);
    h.update(key);
    h.finalize().into()
}

impl Certificate {
    /// Loads the pair.
    ///
    /// # Errors
    /// What is wrong with which file.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        let loaded = Self::build(cert, key, &cert_pem, &key_pem)?;
        check_key_mode(key);
        Ok(Self { cert: cert.to_path_buf(), key: key.to_path_buf(), current: RwLock::new(loaded) })
    }

    fn build(cert: &Path, key: &Path, cert_pem: &[u8], key_pem: &[u8]) -> Result<Loaded, TlsError> {
        // A chain with a damaged certificate is refused whole, never served
        // without it.
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::NoCertificate(cert.to_path_buf()))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_path_buf()));
        }
        // The parser's error could quote a line of the key file: not shown.
        let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey(key.to_path_buf()))?;
        let refused = |e: rustls::Error| TlsError::Refused {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        };
        let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(refused)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Loaded { config: Arc::new(config), digest: digest(cert_pem, key_pem) })
    }

    /// The configuration a new connection's handshake uses.
    #[must_use]
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).config.clone()
    }

    /// Reads the files again and, when they changed, takes the new pair.
    /// Returns whether it did.
    ///
    /// # Errors
    /// What is wrong with the new files; the pair in use stays.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (cert_pem, key_pem) = (read(&self.cert)?, read(&self.key)?);
        let d = digest(&cert_pem, &key_pem);
        if self.current.read().unwrap_or_else(PoisonError::into_inner).digest == d {
            return Ok(false);
        }
        let loaded = Self::build(&self.cert, &self.key, &cert_pem, &key_pem)?;
        check_key_mode(&self.key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(true)
    }

    /// Reloads on every SIGHUP and every [`POLL_EVERY`], logging what
    /// happened; runs until aborted.
    pub fn spawn_reloading(self: &Arc<Self>, mut hup: Option<crate::signals::Reload>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            // A failure is logged once, until the files change again (or a SIGHUP asks).
            let mut failed_on: Option<Option<[u8; 32]>> = None;
            loop {
                let asked = tokio::select! {
                    _ = tick.tick() => false,
                    () = async {
                        match hup.as_mut() {
                            Some(h) => h.next().await,
                            None => std::future::pending().await,
                        }
                    } => true,
                };
                let c = this.clone();
                let outcome = tokio::task::spawn_blocking(move || match c.reload() {
                    Ok(changed) => Ok(changed),
                    Err(e) => Err((e, read(&c.cert).ok().zip(read(&c.key).ok()).map(|(a, b)| digest(&a, &b)))),
                })
                .await;
                match outcome {
                    Ok(Ok(changed)) => {
                        failed_on = None;
                        if changed {
                            tracing::info!(cert = %this.cert.display(), "TLS certificate reloaded; new connections use it");
                        } else if asked {
                            tracing::info!("SIGHUP: the TLS certificate files are unchanged");
                        }
                    }
                    Ok(Err((e, files))) => {
                        if asked || failed_on != Some(files) {
                            tracing::error!(code = e.code(), error = %e, "the new TLS certificate was not loaded; the previous one stays in use");
                        }
                        failed_on = Some(files);
                    }
                    Err(_) => tracing::error!("TLS certificate reload panicked; the previous one stays in use"),
                }
            }
        })
    }
}
