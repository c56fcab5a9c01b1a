//! `auditctl keygen` and `auditctl pubkey`.

use std::io::Write;
use std::path::Path;

use audit_export::{Ed25519Signer, KeyFileError, Signer};

use crate::exit::Exit;

pub(crate) fn key_exit(e: &KeyFileError) -> Exit {
    match e {
        KeyFileError::Io { .. } | KeyFileError::Random(_) => Exit::Io,
        KeyFileError::Exists { .. } | KeyFileError::PublicKey { .. } => Exit::Usage,
        _ => Exit::Structure,
    }
}

/// `keygen --out KEY.pem [--pub PUB.pem]`.
pub(crate) fn keygen(
    out_path: &Path,
    pub_path: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Exit {
    let key = match Ed25519Signer::generate() {
        Ok(k) => k,
        Err(e) => return crate::fail(err, key_exit(&e), format_args!("{e}")),
    };
    if let Some(p) = pub_path
        && p.exists()
    {
        return crate::fail(
            err,
            Exit::Usage,
            format_args!("public key file {} exists; refusing to overwrite it", p.display()),
        );
    }
    if let Err(e) = key.save_new(out_path) {
        return crate::fail(err, key_exit(&e), format_args!("{e}"));
    }
    if let Some(p) = pub_path {
        let mut created = false;
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
            .and_then(|mut f| {
                created = true;
                f.write_all(key.public_key_pem().as_bytes())
            });
        if let Err(e) = written {
            // Nothing half done: the files this run made go, so that a
            // rerun is not refused for a key nobody has the public half of.
            if created {
                let _ = std::fs::remove_file(p);
            }
            let _ = std::fs::remove_file(out_path);
            return crate::fail(
                err,
                Exit::Io,
                format_args!("public key file {}: {e}", p.display()),
            );
        }
    }
    print_key(&key, json, out)
}

fn print_key(key: &Ed25519Signer, json: bool, out: &mut dyn Write) -> Exit {
    print_public(key.kid(), &key.public_key().to_hex(), json, out)
}

fn print_public(kid: &str, hex: &str, json: bool, out: &mut dyn Write) -> Exit {
    let r = if json {
        writeln!(out, "{}", serde_json::json!({"kid": kid, "public_key": hex}))
    } else {
        writeln!(out, "kid {kid}\npublic_key {hex}")
    };
    if r.is_err() { Exit::Io } else { Exit::Ok }
}

/// `pubkey KEY.pem`: a secret key's kid and public key; a public key file
/// (SPKI PEM) is read too, so an auditor can see the kid of a key it was
/// given.
pub(crate) fn pubkey(path: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match Ed25519Signer::load(path) {
        Ok(k) => print_public(k.kid(), &k.public_key().to_hex(), json, out),
        Err(KeyFileError::PublicKey { .. }) => {
            let parsed = std::fs::read_to_string(path)
                .map_err(|e| (Exit::Io, e.to_string()))
                .and_then(|t| {
                    audit_verify::PublicKey::parse(&t).map_err(|e| (Exit::Structure, e.to_string()))
                });
            match parsed {
                Ok(k) => print_public(k.kid(), &k.to_hex(), json, out),
                Err((exit, e)) => crate::fail(err, exit, format_args!("key file {}: {e}", path.display())),
            }
        }
        Err(e) => crate::fail(err, key_exit(&e), format_args!("{e}")),
    }
}
