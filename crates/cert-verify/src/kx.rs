//! X25519MLKEM768, the hybrid key exchange Chromium offers first in every
//! TLS 1.3 ClientHello: ML-KEM-768 (FIPS 203) and X25519 together, so that
//! a recorded session stays secret even against a future quantum computer.
//!
//! The group is rustls's own on its aws-lc-rs provider (draft-ietf-tls-
//! ecdhe-mlkem): the client's share is the ML-KEM encapsulation key
//! followed by its X25519 public key (1216 bytes), the server's the ML-KEM
//! ciphertext followed by its X25519 public key (1120 bytes), and the
//! secret the ML-KEM shared key followed by the X25519 one. Like Chromium,
//! a client also sends a plain X25519 share (the same key), so a server
//! without ML-KEM answers at once, without a HelloRetryRequest.
//!
//! aws-lc is what sesh's TLS runs on because a fresh connection spends
//! most of its client time here: on the machines sesh is measured on it
//! makes an X25519 key pair in ≈ 6 µs where ring takes ≈ 20, and an
//! ML-KEM-768 one in ≈ 14 µs where libcrux takes ≈ 19 and RustCrypto's
//! ml-kem ≈ 60 (`cargo bench -p sesh-cert-verify -- key_share`).
//!
//! ```
//! use sesh_cert_verify::kx::X25519MLKEM768;
//!
//! let client = X25519MLKEM768.start().unwrap();
//! assert_eq!(client.pub_key().len(), 1216);
//! let server = X25519MLKEM768.start_and_complete(client.pub_key()).unwrap();
//! let secret = client.complete(&server.pub_key).unwrap();
//! assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
//! ```

use rustls::crypto::SupportedKxGroup;

/// Bytes of an ML-KEM-768 encapsulation key.
#[cfg(test)]
const ENCAPSULATION_KEY: usize = 1184;
/// Bytes of an ML-KEM-768 ciphertext.
#[cfg(test)]
const CIPHERTEXT: usize = 1088;

/// The X25519MLKEM768 group (code point `0x11ec`), for clients and
/// servers, as rustls takes it in a provider's `kx_groups`. sesh's TLS
/// configurations offer it first, as Chromium does.
pub static X25519MLKEM768: &dyn SupportedKxGroup =
    rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768;

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::NamedGroup;

    /// The server's side of X25519 in ring, an implementation apart from
    /// aws-lc's: its public key and the secret it agrees on with `peer`.
    fn ring_x25519(peer: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use ring::agreement::{EphemeralPrivateKey, UnparsedPublicKey, X25519, agree_ephemeral};
        let rng = ring::rand::SystemRandom::new();
        let private = EphemeralPrivateKey::generate(&X25519, &rng).unwrap();
        let public = private.compute_public_key().unwrap().as_ref().to_vec();
        let secret = agree_ephemeral(
            private,
            &UnparsedPublicKey::new(&X25519, peer),
            <[u8]>::to_vec,
        )
        .unwrap();
        (public, secret)
    }

    #[test]
    fn client_and_server_agree_and_bad_shares_are_refused() {
        let client = X25519MLKEM768.start().unwrap();
        assert_eq!(client.pub_key().len(), 1216);
        let (group, classical) = client.hybrid_component().unwrap();
        assert_eq!(group, NamedGroup::X25519);
        assert_eq!(classical, &client.pub_key()[1184..]);
        let server = X25519MLKEM768.start_and_complete(client.pub_key()).unwrap();
        assert_eq!(server.pub_key.len(), 1120);
        let client_secret = client.complete(&server.pub_key).unwrap();
        assert_eq!(client_secret.secret_bytes(), server.secret.secret_bytes());
        assert_eq!(client_secret.secret_bytes().len(), 64);

        // A share of the wrong size, or a flipped ciphertext byte (ML-KEM
        // then yields another secret: the handshake would fail).
        let client = X25519MLKEM768.start().unwrap();
        assert!(
            X25519MLKEM768
                .start_and_complete(&client.pub_key()[1..])
                .is_err()
        );
        let server = X25519MLKEM768.start_and_complete(client.pub_key()).unwrap();
        let mut tampered = server.pub_key.clone();
        tampered[7] ^= 1;
        let secret = client.complete(&tampered).unwrap();
        assert_ne!(secret.secret_bytes(), server.secret.secret_bytes());
        let client = X25519MLKEM768.start().unwrap();
        assert!(client.complete(&[0u8; 1119]).is_err());
    }

    /// aws-lc's ML-KEM against RustCrypto's, an implementation written
    /// apart from it: each side's share is the other's, byte for byte.
    #[test]
    fn the_ml_kem_half_agrees_with_another_implementation() {
        use ml_kem::ml_kem_768::{DecapsulationKey, EncapsulationKey};
        use ml_kem::{Decapsulate, KeyExport, Seed};

        // sesh as the client, RustCrypto encapsulating to its key.
        let client = X25519MLKEM768.start().unwrap();
        let key: [u8; ENCAPSULATION_KEY] =
            client.pub_key()[..ENCAPSULATION_KEY].try_into().unwrap();
        let theirs = EncapsulationKey::new(&key.into()).unwrap();
        let (ciphertext, their_secret) = theirs.encapsulate_deterministic(&[7u8; 32].into());
        let classical = client.hybrid_component().unwrap().1.to_vec();
        let (x25519_public, x25519_secret) = ring_x25519(&classical);
        let mut share = ciphertext.as_slice().to_vec();
        share.extend_from_slice(&x25519_public);
        let secret = client.complete(&share).unwrap();
        assert_eq!(&secret.secret_bytes()[..32], their_secret.as_slice());
        assert_eq!(&secret.secret_bytes()[32..], x25519_secret);

        // sesh as the server, encapsulating to RustCrypto's key.
        let decapsulation = DecapsulationKey::from_seed(Seed::from([9u8; 64]));
        let mut share = decapsulation.encapsulation_key().to_bytes().to_vec();
        share.extend_from_slice(&classical);
        let server = X25519MLKEM768.start_and_complete(&share).unwrap();
        let their_secret = decapsulation
            .decapsulate_slice(&server.pub_key[..CIPHERTEXT])
            .unwrap();
        assert_eq!(&server.secret.secret_bytes()[..32], their_secret.as_slice());
    }

    #[test]
    fn a_key_share_with_unreduced_coefficients_is_refused() {
        // FIPS 203's check: 0xFFF is no coefficient mod 3329.
        let client = X25519MLKEM768.start().unwrap();
        let mut share = client.pub_key().to_vec();
        share[0] = 0xFF;
        share[1] |= 0x0F;
        assert!(X25519MLKEM768.start_and_complete(&share).is_err());
    }

    #[test]
    fn the_classical_half_alone_agrees_with_a_plain_x25519_server() {
        let client = X25519MLKEM768.start().unwrap();
        let (_, classical) = client.hybrid_component().unwrap();
        let (public, shared) = ring_x25519(classical);
        let secret = client.complete_hybrid_component(&public).unwrap();
        assert_eq!(secret.secret_bytes(), shared);
    }
}
