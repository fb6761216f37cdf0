//! X25519MLKEM768, the hybrid key exchange Chromium offers first in every
//! TLS 1.3 ClientHello: ML-KEM-768 (FIPS 203) and X25519 together, so that
//! a recorded session stays secret even against a future quantum computer.
//!
//! rustls's `ring` provider has no ML-KEM, so the group is put together
//! here from libcrux's ML-KEM-768 and ring's X25519, following
//! draft-ietf-tls-ecdhe-mlkem: the client's share is the ML-KEM
//! encapsulation key followed by its X25519 public key (1216 bytes), the
//! server's the ML-KEM ciphertext followed by its X25519 public key
//! (1120 bytes), and the secret the ML-KEM shared key followed by the
//! X25519 one. Like Chromium, a client also sends a plain X25519 share (the
//! same key), so a server without ML-KEM answers at once, without a
//! HelloRetryRequest.

use libcrux_ml_kem::mlkem768::{self, MlKem768Ciphertext, MlKem768PrivateKey, MlKem768PublicKey};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::crypto::{ActiveKeyExchange, CompletedKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};

/// Bytes of an ML-KEM-768 encapsulation key.
const ENCAPSULATION_KEY: usize = 1184;
/// Bytes of an ML-KEM-768 ciphertext.
const CIPHERTEXT: usize = 1088;
/// Bytes of an X25519 public key.
const X25519_KEY: usize = 32;
/// Bytes of an ML-KEM-768 decapsulation key (expanded form).
const DECAPSULATION_KEY: usize = 2400;

/// The X25519MLKEM768 group (code point `0x11ec`), for clients and
/// servers. sesh's TLS configurations offer it first, as Chromium does.
#[derive(Debug, Clone, Copy, Default)]
pub struct X25519MlKem768;

/// The group as rustls takes it in a provider's `kx_groups`.
pub static X25519MLKEM768: &dyn SupportedKxGroup = &X25519MlKem768;

fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    rng.fill(&mut bytes)
        .map_err(|_| Error::FailedToGetRandomBytes)?;
    Ok(bytes)
}

fn x25519_key(rng: &SystemRandom) -> Result<(EphemeralPrivateKey, agreement::PublicKey), Error> {
    let private = EphemeralPrivateKey::generate(&agreement::X25519, rng)
        .map_err(|_| Error::FailedToGetRandomBytes)?;
    let public = private
        .compute_public_key()
        .map_err(|_| Error::General("X25519 public key".into()))?;
    Ok((private, public))
}

fn x25519_agree(private: EphemeralPrivateKey, peer: &[u8]) -> Result<Vec<u8>, Error> {
    agreement::agree_ephemeral(
        private,
        &UnparsedPublicKey::new(&agreement::X25519, peer),
        <[u8]>::to_vec,
    )
    .map_err(|_| PeerMisbehaved::InvalidKeyShare.into())
}

impl SupportedKxGroup for X25519MlKem768 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let rng = SystemRandom::new();
        let seed = zeroize::Zeroizing::new(random::<64>(&rng)?);
        let pair = mlkem768::generate_key_pair(*seed);
        let decapsulation = zeroize::Zeroizing::new(*pair.sk());
        let (x25519, x25519_public) = x25519_key(&rng)?;
        let mut share = Vec::with_capacity(ENCAPSULATION_KEY + X25519_KEY);
        share.extend_from_slice(pair.pk());
        share.extend_from_slice(x25519_public.as_ref());
        Ok(Box::new(Active {
            decapsulation,
            x25519,
            share,
        }))
    }

    /// The server's side: encapsulates to the client's key and agrees on
    /// X25519 with its key.
    fn start_and_complete(&self, client_share: &[u8]) -> Result<CompletedKeyExchange, Error> {
        if client_share.len() != ENCAPSULATION_KEY + X25519_KEY {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        let (key, client_x25519) = client_share.split_at(ENCAPSULATION_KEY);
        let key: [u8; ENCAPSULATION_KEY] = key
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let encapsulation = MlKem768PublicKey::from(key);
        // FIPS 203's input check: every coefficient reduced mod q.
        if !mlkem768::validate_public_key(&encapsulation) {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        let rng = SystemRandom::new();
        let m = zeroize::Zeroizing::new(random::<32>(&rng)?);
        let (ciphertext, mlkem_secret) = mlkem768::encapsulate(&encapsulation, *m);
        let mlkem_secret = zeroize::Zeroizing::new(mlkem_secret);
        let (x25519, x25519_public) = x25519_key(&rng)?;
        let x25519_secret = x25519_agree(x25519, client_x25519)?;
        let mut pub_key = Vec::with_capacity(CIPHERTEXT + X25519_KEY);
        pub_key.extend_from_slice(ciphertext.as_slice());
        pub_key.extend_from_slice(x25519_public.as_ref());
        let mut secret = Vec::with_capacity(64);
        secret.extend_from_slice(&mlkem_secret[..]);
        secret.extend_from_slice(&x25519_secret);
        Ok(CompletedKeyExchange {
            group: NamedGroup::X25519MLKEM768,
            pub_key,
            secret: SharedSecret::from(secret),
        })
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

/// A client's exchange in progress.
struct Active {
    /// The ML-KEM decapsulation key, wiped when the exchange ends.
    decapsulation: zeroize::Zeroizing<[u8; DECAPSULATION_KEY]>,
    x25519: EphemeralPrivateKey,
    /// Encapsulation key, then X25519 public key.
    share: Vec<u8>,
}

impl ActiveKeyExchange for Active {
    fn complete(self: Box<Self>, server_share: &[u8]) -> Result<SharedSecret, Error> {
        if server_share.len() != CIPHERTEXT + X25519_KEY {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        let (ciphertext, server_x25519) = server_share.split_at(CIPHERTEXT);
        let ciphertext: [u8; CIPHERTEXT] = ciphertext
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let key = MlKem768PrivateKey::from(*self.decapsulation);
        let mlkem_secret = zeroize::Zeroizing::new(mlkem768::decapsulate(
            &key,
            &MlKem768Ciphertext::from(ciphertext),
        ));
        let x25519_secret = x25519_agree(self.x25519, server_x25519)?;
        let mut secret = Vec::with_capacity(64);
        secret.extend_from_slice(&mlkem_secret[..]);
        secret.extend_from_slice(&x25519_secret);
        Ok(SharedSecret::from(secret))
    }

    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        Some((NamedGroup::X25519, &self.share[ENCAPSULATION_KEY..]))
    }

    fn complete_hybrid_component(
        self: Box<Self>,
        server_share: &[u8],
    ) -> Result<SharedSecret, Error> {
        x25519_agree(self.x25519, server_share).map(SharedSecret::from)
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_server_agree_and_bad_shares_are_refused() {
        let client = X25519MlKem768.start().unwrap();
        assert_eq!(client.pub_key().len(), 1216);
        let (group, classical) = client.hybrid_component().unwrap();
        assert_eq!(group, NamedGroup::X25519);
        assert_eq!(classical, &client.pub_key()[1184..]);
        let server = X25519MlKem768.start_and_complete(client.pub_key()).unwrap();
        assert_eq!(server.pub_key.len(), 1120);
        let client_secret = client.complete(&server.pub_key).unwrap();
        assert_eq!(client_secret.secret_bytes(), server.secret.secret_bytes());
        assert_eq!(client_secret.secret_bytes().len(), 64);

        // A share of the wrong size, or a flipped ciphertext byte (ML-KEM
        // then yields another secret: the handshake would fail).
        let client = X25519MlKem768.start().unwrap();
        assert!(
            X25519MlKem768
                .start_and_complete(&client.pub_key()[1..])
                .is_err()
        );
        let server = X25519MlKem768.start_and_complete(client.pub_key()).unwrap();
        let mut tampered = server.pub_key.clone();
        tampered[7] ^= 1;
        let secret = client.complete(&tampered).unwrap();
        assert_ne!(secret.secret_bytes(), server.secret.secret_bytes());
        let client = X25519MlKem768.start().unwrap();
        assert!(client.complete(&[0u8; 1119]).is_err());
    }

    /// libcrux's ML-KEM against RustCrypto's, an implementation written
    /// apart from it: each side's share is the other's, byte for byte.
    #[test]
    fn the_ml_kem_half_agrees_with_another_implementation() {
        use ml_kem::ml_kem_768::{DecapsulationKey, EncapsulationKey};
        use ml_kem::{Decapsulate, KeyExport, Seed};

        // sesh as the client, RustCrypto encapsulating to its key.
        let client = X25519MlKem768.start().unwrap();
        let key: [u8; ENCAPSULATION_KEY] =
            client.pub_key()[..ENCAPSULATION_KEY].try_into().unwrap();
        let theirs = EncapsulationKey::new(&key.into()).unwrap();
        let (ciphertext, their_secret) = theirs.encapsulate_deterministic(&[7u8; 32].into());
        let classical = client.hybrid_component().unwrap().1.to_vec();
        let x25519 = rustls::crypto::ring::kx_group::X25519
            .start_and_complete(&classical)
            .unwrap();
        let mut share = ciphertext.as_slice().to_vec();
        share.extend_from_slice(&x25519.pub_key);
        let secret = client.complete(&share).unwrap();
        assert_eq!(&secret.secret_bytes()[..32], their_secret.as_slice());
        assert_eq!(&secret.secret_bytes()[32..], x25519.secret.secret_bytes());

        // sesh as the server, encapsulating to RustCrypto's key.
        let decapsulation = DecapsulationKey::from_seed(Seed::from([9u8; 64]));
        let mut share = decapsulation.encapsulation_key().to_bytes().to_vec();
        share.extend_from_slice(&classical);
        let server = X25519MlKem768.start_and_complete(&share).unwrap();
        let their_secret = decapsulation
            .decapsulate_slice(&server.pub_key[..CIPHERTEXT])
            .unwrap();
        assert_eq!(&server.secret.secret_bytes()[..32], their_secret.as_slice());
    }

    #[test]
    fn a_key_share_with_unreduced_coefficients_is_refused() {
        // FIPS 203's check: 0xFFF is no coefficient mod 3329.
        let client = X25519MlKem768.start().unwrap();
        let mut share = client.pub_key().to_vec();
        share[0] = 0xFF;
        share[1] |= 0x0F;
        assert!(X25519MlKem768.start_and_complete(&share).is_err());
    }

    #[test]
    fn the_classical_half_alone_agrees_with_a_plain_x25519_server() {
        let client = X25519MlKem768.start().unwrap();
        let (_, classical) = client.hybrid_component().unwrap();
        let server = rustls::crypto::ring::kx_group::X25519
            .start_and_complete(classical)
            .unwrap();
        let secret = client.complete_hybrid_component(&server.pub_key).unwrap();
        assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
    }
}
