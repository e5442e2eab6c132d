//! EC P-256 keys for apk v3 signatures, as OpenWrt 25.12 makes them: the private key is
//! `openssl ecparam -name prime256v1 -genkey -noout` PEM ("EC PRIVATE KEY", SEC1; PKCS#8
//! "PRIVATE KEY" is read too), the public key SPKI PEM ("PUBLIC KEY") for /etc/apk/keys/.
//! apk names a key by the first 16 bytes of SHA-512 over the uncompressed point, and signs
//! with ECDSA over SHA-512 of the signed message. Signing here is deterministic (RFC 6979),
//! so rebuilding an index gives the same bytes.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha512};

/// The PEM block with this label (openssl may put an "EC PARAMETERS" block first).
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let s = text.find(&begin)?;
    let e = text[s..].find(&end)? + s + end.len();
    Some(&text[s..e])
}

pub fn secret_from_pem(text: &str) -> Result<SecretKey, String> {
    if let Some(b) = pem_block(text, "EC PRIVATE KEY") {
        return SecretKey::from_sec1_pem(b).map_err(|e| format!("EC PRIVATE KEY: {e}"));
    }
    if let Some(b) = pem_block(text, "PRIVATE KEY") {
        return SecretKey::from_pkcs8_pem(b)
            .map_err(|e| format!("PRIVATE KEY (PKCS#8, expected EC prime256v1): {e}"));
    }
    Err("no EC PRIVATE KEY or PRIVATE KEY PEM block (expected an EC prime256v1 key)".into())
}

pub fn public_from_pem(text: &str) -> Result<PublicKey, String> {
    let b = pem_block(text, "PUBLIC KEY").ok_or("no PUBLIC KEY PEM block")?;
    PublicKey::from_public_key_pem(b).map_err(|e| format!("PUBLIC KEY (EC prime256v1): {e}"))
}

/// A new key from the OS random source.
pub fn generate() -> Result<SecretKey, String> {
    loop {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("random: {e}"))?;
        // Out-of-range scalars (probability ~2^-32) are simply drawn again.
        if let Ok(k) = SecretKey::from_slice(&seed) {
            return Ok(k);
        }
    }
}

/// SEC1 "EC PRIVATE KEY" PEM with the named-curve parameters and the public key, the layout
/// `openssl ecparam -name prime256v1 -genkey -noout` writes (openssl refuses a SEC1 key
/// without the curve).
pub fn secret_to_pem(k: &SecretKey) -> Result<String, String> {
    use base64::Engine;
    let point = k.public_key().to_encoded_point(false);
    let mut der = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    der.extend_from_slice(&k.to_bytes());
    // [0] namedCurve prime256v1 (1.2.840.10045.3.1.7)
    der.extend_from_slice(&[
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    // [1] BIT STRING with the uncompressed point
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    der.extend_from_slice(point.as_bytes());
    if der.len() != 0x79 {
        return Err("unexpected P-256 key encoding length".into());
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut pem = String::from("-----BEGIN EC PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END EC PRIVATE KEY-----\n");
    Ok(pem)
}

pub fn public_to_pem(k: &PublicKey) -> Result<String, String> {
    k.to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("encoding the public key: {e}"))
}

/// apk's key id: SHA-512 of the uncompressed point (0x04 || X || Y), first 16 bytes.
pub fn key_id(k: &PublicKey) -> [u8; 16] {
    let h = Sha512::digest(k.to_encoded_point(false).as_bytes());
    h[..16].try_into().expect("16 bytes")
}

/// DER ECDSA signature over SHA-512(msg) (the digest truncated to the curve size, as ECDSA
/// does); the nonce is RFC 6979's.
pub fn sign(k: &SecretKey, msg: &[u8]) -> Result<Vec<u8>, String> {
    let sk = SigningKey::from(k);
    let sig: Signature = sk
        .sign_prehash(&Sha512::digest(msg))
        .map_err(|e| format!("ECDSA: {e}"))?;
    Ok(sig.to_der().as_bytes().to_vec())
}

pub fn verify(k: &PublicKey, msg: &[u8], der: &[u8]) -> bool {
    let Ok(sig) = Signature::from_der(der) else {
        return false;
    };
    VerifyingKey::from(k)
        .verify_prehash(&Sha512::digest(msg), &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_KEY: &str = include_str!("../tests/fixtures/test-key.pem");
    const FIXTURE_PUB: &str = include_str!("../tests/fixtures/test-key.pub.pem");

    #[test]
    fn openssl_keys_load_and_agree() {
        let sk = secret_from_pem(FIXTURE_KEY).unwrap();
        let pk = public_from_pem(FIXTURE_PUB).unwrap();
        assert_eq!(sk.public_key(), pk);
        // openssl's SPKI PEM and SEC1 private key PEM, byte for byte.
        assert_eq!(public_to_pem(&pk).unwrap(), FIXTURE_PUB);
        assert_eq!(secret_to_pem(&sk).unwrap(), FIXTURE_KEY);
    }

    #[test]
    fn pkcs8_and_parameters_blocks_are_accepted() {
        let sk = secret_from_pem(FIXTURE_KEY).unwrap();
        let p8 = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&sk, LineEnding::LF).unwrap();
        assert_eq!(secret_from_pem(&p8).unwrap(), sk);
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{FIXTURE_KEY}"
        );
        assert_eq!(secret_from_pem(&with_params).unwrap(), sk);
        assert!(secret_from_pem("-----BEGIN RSA PRIVATE KEY-----\n").is_err());
    }

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let sk = generate().unwrap();
        let pk = sk.public_key();
        let a = sign(&sk, b"message").unwrap();
        assert_eq!(a, sign(&sk, b"message").unwrap());
        assert!(verify(&pk, b"message", &a));
        assert!(!verify(&pk, b"messagf", &a));
        let pem = secret_to_pem(&sk).unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        assert_eq!(secret_from_pem(&pem).unwrap(), sk);
    }
}
