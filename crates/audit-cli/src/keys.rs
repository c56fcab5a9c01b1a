//! `auditctl keygen` and `auditctl pubkey`.

use std::io::Write;
use std::path::Path;

use audit_export::{Ed25519Signer, KeyFileError, Signer};

use crate::exit::Exit;

pub(crate) fn key_exit(e: &KeyFileError) -> Exit {
    match e {
        KeyFileError::Io { .. } | KeyFileError::Random(_) => Exit::Io,
        KeyFileError::Exists { .. } => Exit::Usage,
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
    let r = if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"kid": key.kid(), "public_key": key.public_key().to_hex()})
        )
    } else {
        writeln!(out, "kid {}\npublic_key {}", key.kid(), key.public_key().to_hex())
    };
    if r.is_err() { Exit::Io } else { Exit::Ok }
}

/// `pubkey KEY.pem`.
pub(crate) fn pubkey(path: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    match Ed25519Signer::load(path) {
        Ok(k) => print_key(&k, json, out),
        Err(e) => crate::fail(err, key_exit(&e), format_args!("{e}")),
    }
}
