//! Sealing session tokens: AES-256-GCM under a key kept outside the database, so a leaked
//! database yields neither usable tokens (they are looked up by hash) nor readable ones, while
//! the server can still show a user its own sessions' tokens as Parse does.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// A sealing key.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

impl SealingKey {
    /// Derives the session-token key from a server secret (the master key): SHA-256 of a
    /// label and the secret.
    pub fn derive(secret: &str) -> Option<SealingKey> {
        Self::derive_labelled("basalt session token sealing v1:", secret)
    }

    /// Derives a key for one purpose (`label`) from a server secret, so keys sealing different
    /// things never coincide.
    pub fn derive_labelled(label: &str, secret: &str) -> Option<SealingKey> {
        let digest = Sha256::new()
            .chain_update(label.as_bytes())
            .chain_update(secret)
            .finalize();
        UnboundKey::new(&AES_256_GCM, &digest)
            .ok()
            .map(|k| SealingKey(LessSafeKey::new(k)))
    }

    /// Encrypts `text`: hex of nonce, ciphertext and tag.
    pub fn seal(&self, text: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut buf = text.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .ok()?;
        let mut out = hex(&nonce);
        out.push_str(&hex(&buf));
        Some(out)
    }

    /// Decrypts what `seal` produced; None if it was not sealed with this key.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = unhex(sealed)?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_the_same_key() {
        let key = SealingKey::derive("master").unwrap();
        let sealed = key.seal("r:abc").unwrap();
        assert_ne!(sealed, "r:abc");
        assert_eq!(key.open(&sealed).as_deref(), Some("r:abc"));
        assert_ne!(
            key.seal("r:abc").unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        let other = SealingKey::derive("other").unwrap();
        assert_eq!(other.open(&sealed), None);
        assert_eq!(key.open("zz"), None);
    }
}
