//! Provider keys at rest: sealed with ChaCha20-Poly1305 under a key derived from the server
//! secret (`MNEME_SECRET_KEY`, or the file generated into the data directory on first start).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

/// The version tag of the sealed form, so a later scheme can tell old values apart.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Seals and opens secrets under the server secret. `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

/// A sealed value that cannot be opened: another server secret sealed it, or it was altered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored secret cannot be decrypted with this server's secret key")]
pub struct OpenError;

impl SecretBox {
    /// A box keyed by SHA-256 of `secret`, so any passphrase makes a full-length key.
    pub fn new(secret: &str) -> SecretBox {
        let digest = Sha256::digest(secret.trim().as_bytes());
        SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&digest)),
        }
    }

    /// `v1:` + base64 of a fresh random nonce and the ciphertext with its tag.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption into a Vec fails only when the buffer cannot grow: not for these sizes.
        let sealed = self
            .cipher
            .encrypt(nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce_bytes.to_vec();
        out.extend(sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(OpenError)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

/// What a response shows of a key: never the key itself; the last four characters of a long
/// one, so an operator can tell keys apart, as provider dashboards do.
pub(crate) fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() >= 20 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("****{tail}")
    } else {
        "****".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_under_their_secret() {
        let a = SecretBox::new("server secret A");
        let sealed = a.seal("sk-live-0123456789");
        assert!(sealed.starts_with("v1:") && !sealed.contains("sk-live"));
        assert_ne!(sealed, a.seal("sk-live-0123456789"), "nonces differ");
        assert_eq!(a.open(&sealed).unwrap(), "sk-live-0123456789");
        assert_eq!(SecretBox::new("B").open(&sealed), Err(OpenError));
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(bytes));
        assert_eq!(a.open(&tampered), Err(OpenError));
        assert_eq!(a.open("plain"), Err(OpenError));
        assert!(!format!("{a:?}").contains("secret"));
    }

    #[test]
    fn masks_never_show_the_key() {
        assert_eq!(mask("sk-proj-abcdefghijklmnopqrstuvwxyz"), "****wxyz");
        assert_eq!(mask("short-key"), "****");
    }
}
