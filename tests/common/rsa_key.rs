//! RSA key pairs for the identity-provider tests, generated once per test binary (2048-bit
//! generation takes a moment even optimised).

use std::sync::OnceLock;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
    /// The public key's JWK members (base64url).
    pub jwk_n: String,
    pub jwk_e: String,
}

/// Key `n` of two.
pub fn key(n: usize) -> &'static KeyPair {
    static KEYS: OnceLock<Vec<KeyPair>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..2)
            .map(|_| {
                let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
                let public = rsa::RsaPublicKey::from(&private);
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                KeyPair {
                    private_pem: private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                    public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
                    jwk_n: b64.encode(public.n().to_bytes_be()),
                    jwk_e: b64.encode(public.e().to_bytes_be()),
                }
            })
            .collect()
    })[n]
}

/// `claims` as an RS256 JWT signed with `key`, with `kid` in the header when given.
pub fn sign(key: &KeyPair, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}
