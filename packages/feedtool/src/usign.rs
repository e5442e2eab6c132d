//! usign (OpenWrt) / signify (OpenBSD) Ed25519 keys and signatures.
//!
//! Every file is two lines: `untrusted comment: <text>` and the base64 of a binary record:
//!
//! * secret key, 104 bytes: "Ed", kdfalg "BK", kdfrounds (u32, 0 = not encrypted), `salt[16]`,
//!   `checksum[8]` = `SHA-512(seckey)[..8]`, `key_id[8]`, `seckey[64]` = `seed[32] || public_key[32]`;
//! * public key, 42 bytes: "Ed", `key_id[8]`, `public_key[32]`;
//! * signature, 74 bytes: "Ed", `key_id[8]`, Ed25519 `signature[64]` over the message bytes.
//!
//! `usign -G` draws the key id and the seed from /dev/urandom (the seed clamped like an
//! X25519 scalar) and comments the files "private key `<id>`" / "public key `<id>`" (or with `-c`
//! text); `usign -S` comments "signed by key `<id>`". The id is printed as `%PRIx64` of the 8
//! bytes read big-endian: lower-case hex *without* zero padding. That string is the file name
//! opkg looks for under /etc/opkg/keys/.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature as EdSig, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha512};

pub const COMMENT_PREFIX: &str = "untrusted comment: ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub kdfrounds: u32,
    pub salt: [u8; 16],
    pub checksum: [u8; 8],
    pub keyid: [u8; 8],
    pub seckey: [u8; 64],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub keyid: [u8; 8],
    pub pubkey: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub keyid: [u8; 8],
    pub sig: [u8; 64],
}

/// usign's key id text.
pub fn keyid_hex(id: &[u8; 8]) -> String {
    format!("{:x}", u64::from_be_bytes(*id))
}

fn checksum(seckey: &[u8; 64]) -> [u8; 8] {
    let d = Sha512::digest(seckey);
    let mut c = [0u8; 8];
    c.copy_from_slice(&d[..8]);
    c
}

impl SecretKey {
    /// Key from a 32-byte seed, the way `usign -G` builds it.
    pub fn from_parts(mut seed: [u8; 32], keyid: [u8; 8], salt: [u8; 16]) -> SecretKey {
        seed[0] &= 248;
        seed[31] &= 127;
        seed[31] |= 64;
        let sk = SigningKey::from_bytes(&seed);
        let mut seckey = [0u8; 64];
        seckey[..32].copy_from_slice(&seed);
        seckey[32..].copy_from_slice(sk.verifying_key().as_bytes());
        SecretKey {
            kdfrounds: 0,
            salt,
            checksum: checksum(&seckey),
            keyid,
            seckey,
        }
    }

    pub fn generate() -> Result<SecretKey, String> {
        let mut buf = [0u8; 8 + 32 + 16];
        getrandom::fill(&mut buf).map_err(|e| format!("cannot get random bytes: {e}"))?;
        let mut keyid = [0u8; 8];
        let mut seed = [0u8; 32];
        let mut salt = [0u8; 16];
        keyid.copy_from_slice(&buf[..8]);
        seed.copy_from_slice(&buf[8..40]);
        salt.copy_from_slice(&buf[40..]);
        Ok(SecretKey::from_parts(seed, keyid, salt))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(104);
        b.extend_from_slice(b"EdBK");
        // usign stores the field in host order, signify big-endian; 0 reads the same in both.
        b.extend_from_slice(&self.kdfrounds.to_be_bytes());
        b.extend_from_slice(&self.salt);
        b.extend_from_slice(&self.checksum);
        b.extend_from_slice(&self.keyid);
        b.extend_from_slice(&self.seckey);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Result<SecretKey, String> {
        if b.len() != 104 || &b[..2] != b"Ed" {
            return Err("not an Ed25519 usign secret key".into());
        }
        if &b[2..4] != b"BK" {
            return Err("unknown key derivation in secret key".into());
        }
        let kdfrounds = u32::from_be_bytes(b[4..8].try_into().unwrap());
        let k = SecretKey {
            kdfrounds,
            salt: b[8..24].try_into().unwrap(),
            checksum: b[24..32].try_into().unwrap(),
            keyid: b[32..40].try_into().unwrap(),
            seckey: b[40..104].try_into().unwrap(),
        };
        if k.kdfrounds != 0 {
            return Err("password protected secret keys are not supported".into());
        }
        if checksum(&k.seckey) != k.checksum {
            return Err("secret key checksum does not match".into());
        }
        if k.signing_key().verifying_key().as_bytes() != &k.seckey[32..] {
            return Err("secret key halves do not match".into());
        }
        Ok(k)
    }

    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from_bytes(&self.seckey[..32].try_into().unwrap())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            keyid: self.keyid,
            pubkey: self.seckey[32..].try_into().unwrap(),
        }
    }

    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature {
            keyid: self.keyid,
            sig: self.signing_key().sign(msg).to_bytes(),
        }
    }
}

impl PublicKey {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = b"Ed".to_vec();
        b.extend_from_slice(&self.keyid);
        b.extend_from_slice(&self.pubkey);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Result<PublicKey, String> {
        if b.len() != 42 || &b[..2] != b"Ed" {
            return Err("not an Ed25519 usign public key".into());
        }
        Ok(PublicKey {
            keyid: b[2..10].try_into().unwrap(),
            pubkey: b[10..42].try_into().unwrap(),
        })
    }

    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), String> {
        if sig.keyid != self.keyid {
            return Err(format!(
                "signature is by key {}, not {}",
                keyid_hex(&sig.keyid),
                keyid_hex(&self.keyid)
            ));
        }
        let vk =
            VerifyingKey::from_bytes(&self.pubkey).map_err(|e| format!("bad public key: {e}"))?;
        vk.verify(msg, &EdSig::from_bytes(&sig.sig))
            .map_err(|_| "verification failed".to_string())
    }
}

impl Signature {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = b"Ed".to_vec();
        b.extend_from_slice(&self.keyid);
        b.extend_from_slice(&self.sig);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Result<Signature, String> {
        if b.len() != 74 || &b[..2] != b"Ed" {
            return Err("not an Ed25519 usign signature".into());
        }
        Ok(Signature {
            keyid: b[2..10].try_into().unwrap(),
            sig: b[10..74].try_into().unwrap(),
        })
    }
}

/// Two-line file text.
pub fn encode_file(comment: &str, record: &[u8]) -> Result<String, String> {
    if comment.contains('\n') || comment.contains('\r') {
        return Err("comment must be one line".into());
    }
    Ok(format!(
        "{COMMENT_PREFIX}{comment}\n{}\n",
        B64.encode(record)
    ))
}

/// (comment, record) from a two-line file.
pub fn decode_file(text: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = text.splitn(2, '\n');
    let first = lines.next().unwrap_or("");
    let comment = first
        .strip_prefix(COMMENT_PREFIX)
        .ok_or("first line is not 'untrusted comment: ...'")?
        .to_string();
    let rest = lines.next().ok_or("no data line")?;
    let data = rest.lines().next().unwrap_or("").trim();
    let record = B64.decode(data).map_err(|e| format!("bad base64: {e}"))?;
    Ok((comment, record))
}

/// Key id of any of the three kinds of file.
pub fn keyid_of_file(text: &str) -> Result<[u8; 8], String> {
    let (_, rec) = decode_file(text)?;
    match rec.len() {
        104 => Ok(SecretKey::from_bytes(&rec)?.keyid),
        42 => Ok(PublicKey::from_bytes(&rec)?.keyid),
        74 => Ok(Signature::from_bytes(&rec)?.keyid),
        n => Err(format!("{n}-byte record is no usign key or signature")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_parts(
            [7; 32],
            [0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde],
            [1; 16],
        )
    }

    #[test]
    fn record_sizes_and_magic() {
        let k = key();
        let b = k.to_bytes();
        assert_eq!(b.len(), 104);
        assert_eq!(&b[..8], b"EdBK\0\0\0\0");
        assert_eq!(k.public().to_bytes().len(), 42);
        assert_eq!(k.sign(b"m").to_bytes().len(), 74);
        assert_eq!(SecretKey::from_bytes(&b).unwrap(), k);
    }

    #[test]
    fn seed_is_clamped_and_checksum_is_sha512_prefix() {
        let k = key();
        assert_eq!(k.seckey[0] & 7, 0);
        assert_eq!(k.seckey[31] & 0xc0, 0x40);
        assert_eq!(&Sha512::digest(k.seckey)[..8], &k.checksum);
    }

    #[test]
    fn keyid_is_unpadded_hex_like_usign() {
        assert_eq!(
            keyid_hex(&[0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
            "123456789abcde"
        );
        assert_eq!(keyid_hex(&[0xb5, 0, 0, 0, 0, 0, 0, 1]), "b500000000000001");
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = key();
        let s = k.sign(b"Packages");
        k.public().verify(b"Packages", &s).unwrap();
        assert!(k.public().verify(b"Packages!", &s).is_err());
        let other = SecretKey::from_parts([9; 32], [1; 8], [0; 16]);
        assert!(other
            .public()
            .verify(b"Packages", &s)
            .unwrap_err()
            .contains("signature is by key"));
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 section 7.1, TEST 1: the empty message.
        let seed: [u8; 32] =
            hex32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let sk = SigningKey::from_bytes(&seed);
        assert_eq!(
            crate::index::hex(sk.verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert!(crate::index::hex(&sk.sign(b"").to_bytes())
            .starts_with("e5564300c360ac729086e2cc806e828a"));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut o = [0u8; 32];
        for i in 0..32 {
            o[i] = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        o
    }

    #[test]
    fn file_round_trip() {
        let k = key();
        let t = encode_file("public key 123456789abcde", &k.public().to_bytes()).unwrap();
        assert!(t.starts_with("untrusted comment: public key 123456789abcde\n"));
        assert!(t.ends_with('\n') && t.lines().count() == 2);
        let (c, r) = decode_file(&t).unwrap();
        assert_eq!(c, "public key 123456789abcde");
        assert_eq!(PublicKey::from_bytes(&r).unwrap(), k.public());
        assert_eq!(keyid_of_file(&t).unwrap(), k.keyid);
        assert!(decode_file("comment\nAAAA\n").is_err());
        assert!(encode_file("a\nb", b"x").is_err());
    }

    #[test]
    fn corrupted_secret_is_refused() {
        let mut b = key().to_bytes();
        b[50] ^= 1;
        assert!(SecretKey::from_bytes(&b).is_err());
        let mut b = key().to_bytes();
        b[7] = 1;
        assert!(SecretKey::from_bytes(&b).unwrap_err().contains("password"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a.seckey, b.seckey);
        assert_ne!(a.keyid, b.keyid);
    }
}
