//! The SMS gateway over https: a local TLS server (a private CA and a server certificate
//! made here with the `openssl` command, which the test machines have) in front of the
//! SMSC simulator. With the CA in `[sms] ca_file` the SMS goes through once; without it
//! the certificate is refused, the failure is a retryable one that names the cause, and
//! nothing reaches the SMSC.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use contactd::config::{Secret, SmsConfig};
use contactd::service::messages::SmsGateway;
use contactd::sim::smsc::Smsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const TOKEN: &str = "tls-sms-token";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for localhost / 127.0.0.1 it signed: `ca.pem`, `leaf.pem`,
/// `leaf.key` (PKCS#8).
fn make_certificates(dir: &Path) {
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=contactd test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
        ],
    );
}

/// The DER blocks of a PEM file.
fn pem_blocks(path: &Path) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut b64 = None::<String>;
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            b64 = Some(String::new());
        } else if line.starts_with("-----END") {
            let s = b64.take().unwrap();
            out.push(base64::engine::general_purpose::STANDARD.decode(s).unwrap());
        } else if let Some(s) = b64.as_mut() {
            s.push_str(line.trim());
        }
    }
    out
}

/// A TLS server on 127.0.0.1 passing each connection's bytes to `backend`; its port.
async fn tls_front(dir: &Path, backend: std::net::SocketAddr) -> u16 {
    let certs: Vec<CertificateDer<'static>> = pem_blocks(&dir.join("leaf.pem"))
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        pem_blocks(&dir.join("leaf.key")).remove(0),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // a client refusing the certificate ends the handshake here
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    port
}

fn gateway(url: String, ca_file: Option<&Path>) -> SmsGateway {
    SmsGateway::new(&SmsConfig {
        url,
        token: Secret(TOKEN.into()),
        ca_file: ca_file.map(Path::to_path_buf),
        ..SmsConfig::default()
    })
    .expect("a gateway")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_goes_through_an_https_gateway_whose_ca_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let smsc = Smsc::start(TOKEN).await.unwrap();
    let backend: std::net::SocketAddr = smsc
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/send")
        .parse()
        .unwrap();
    let port = tls_front(dir.path(), backend).await;
    let url = format!("https://localhost:{port}/send");

    // not trusted: the bundled roots do not know the private CA
    let err = gateway(url.clone(), None)
        .send("+79161234567", "проверка", "ref-untrusted")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let text = err.to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains(&url), "{text}");
    assert!(smsc.received().is_empty());

    // trusted through [sms] ca_file: delivered once, over TLS
    let id = gateway(url, Some(&dir.path().join("ca.pem")))
        .send("+79161234567", "Водоканал: проверка", "ref-tls-1")
        .await
        .unwrap();
    let got = smsc.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (
            got[0].to.as_str(),
            got[0].text.as_str(),
            got[0].client_ref.as_str()
        ),
        ("+79161234567", "Водоканал: проверка", "ref-tls-1")
    );
    assert_eq!(id.as_deref(), Some(got[0].id.as_str()));
}
