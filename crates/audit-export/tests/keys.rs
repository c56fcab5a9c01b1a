//! Keys: openssl's PKCS#8 secret keys load, their signatures verify with
//! openssl's SPKI public keys (and the other way round), key files are
//! 0600 and never overwritten, and key material is never printed.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use audit_export::{Ed25519Signer, KeyFileError, Signer};
use audit_verify::PublicKey;

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is needed by this test (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn an_openssl_key_signs_what_openssl_verifies_and_kids_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let public = dir.path().join("pub.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        key.to_str().expect("path"),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().expect("path"),
        "-pubout",
        "-out",
        public.to_str().expect("path"),
    ]);
    let signer = Ed25519Signer::load(&key).expect("openssl's PKCS#8 PEM loads");
    let from_openssl =
        PublicKey::parse(&std::fs::read_to_string(&public).expect("pub")).expect("SPKI PEM parses");
    // The secret key given where a public key belongs is named as such.
    let secret = std::fs::read_to_string(&key).expect("key");
    assert_eq!(PublicKey::parse(&secret), Err(audit_verify::KeyError::SecretKey));
    assert_eq!(from_openssl.kid(), signer.kid());
    assert_eq!(
        signer.public_key_pem().trim(),
        std::fs::read_to_string(&public).expect("pub").trim()
    );

    let msg = b"ron-audit checkpoint v1\n{\"v\":1}";
    let sig = signer.sign(msg).expect("sign");
    assert!(from_openssl.verify(msg, &sig));
    std::fs::write(dir.path().join("msg"), msg).expect("msg");
    std::fs::write(dir.path().join("sig"), &sig).expect("sig");
    let out = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        public.to_str().expect("path"),
        "-rawin",
        "-in",
        dir.path().join("msg").to_str().expect("path"),
        "-sigfile",
        dir.path().join("sig").to_str().expect("path"),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"));
    let mut tampered = sig.clone();
    tampered[10] ^= 1;
    assert!(!from_openssl.verify(msg, &tampered));
}

#[test]
fn new_key_files_are_0600_never_overwritten_and_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.pem");
    let k = Ed25519Signer::generate().expect("generate");
    k.save_new(&path).expect("save");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = Ed25519Signer::load(&path).expect("load");
    assert_eq!(again.kid(), k.kid());
    let other = Ed25519Signer::generate().expect("generate");
    assert_ne!(other.kid(), k.kid());
    let err = other.save_new(&path).expect_err("exists");
    assert!(matches!(err, KeyFileError::Exists { .. }), "{err}");
    assert_eq!(
        Ed25519Signer::load(&path).expect("load").kid(),
        k.kid(),
        "the file changed"
    );
    // Openssl reads what we wrote.
    let out = openssl(&["pkey", "-in", path.to_str().expect("path"), "-pubout"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        k.public_key_pem().trim()
    );
}

#[test]
fn key_material_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.pem");
    let k = Ed25519Signer::generate().expect("generate");
    k.save_new(&path).expect("save");
    let pem = std::fs::read_to_string(&path).expect("pem");
    let secret_b64 = pem.lines().nth(1).expect("body line");
    let shown = format!("{k:?}");
    assert!(shown.contains(k.kid()));
    assert!(!shown.contains(secret_b64), "{shown}");
    std::fs::write(&path, pem.replace(&secret_b64[5..15], "AAAAAAAAAA")).expect("corrupt");
    let err = Ed25519Signer::load(&path).expect_err("corrupt");
    assert!(!err.to_string().contains(&secret_b64[..20]), "{err}");
}
