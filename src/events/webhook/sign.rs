//! Standard Webhooks signatures (symmetric scheme, spec 1.0.0 "Signature
//! scheme"): `webhook-signature: v1,<base64(HMAC-SHA256(key,
//! "{webhook-id}.{webhook-timestamp}.{body}"))>`, space-separated when
//! several secrets are active (zero-downtime rotation). Secrets are
//! serialized as `whsec_<base64 of the key>`; the key is 24 to 64 bytes.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::hmac;
use std::fmt;

/// A signing secret. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SigningSecret {
    key: hmac::Key,
}

/// The spec's secret prefix.
pub(crate) const SECRET_PREFIX: &str = "whsec_";

// === impl SigningSecret ===

impl SigningSecret {
    /// Parses `whsec_<base64>`. The error never contains the secret.
    pub fn parse(text: &str) -> Result<SigningSecret, String> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("a webhook secret must start with \"{SECRET_PREFIX}\""))?;
        let raw = STANDARD
            .decode(encoded)
            .map_err(|_| "the webhook secret after \"whsec_\" is not valid base64".to_string())?;
        if !(24..=64).contains(&raw.len()) {
            return Err(format!(
                "the webhook secret key is {} bytes; Standard Webhooks asks for 24 to 64",
                raw.len()
            ));
        }
        Ok(SigningSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, &raw),
        })
    }

    /// `v1,<base64 signature>` of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut out = String::with_capacity(SIGNATURE_LEN);
        self.sign_into(&mut out, id, timestamp, body);
        out
    }

    /// [`SigningSecret::sign`] appended to `out`. The signed content is
    /// fed to the HMAC in its pieces (the key's pads were hashed once,
    /// when the secret was parsed); nothing is concatenated or copied.
    fn sign_into(&self, out: &mut String, id: &str, timestamp: u64, body: &[u8]) {
        let mut ctx = hmac::Context::with_key(&self.key);
        let mut digits = [0u8; 20];
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(decimal(timestamp, &mut digits));
        ctx.update(b".");
        ctx.update(body);
        out.push_str("v1,");
        STANDARD.encode_string(ctx.sign().as_ref(), out);
    }

    /// Whether one of the `v1` signatures in a `webhook-signature` header
    /// is this secret's (compared in constant time).
    pub fn verify(&self, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
        let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
        message.extend_from_slice(id.as_bytes());
        message.push(b'.');
        message.extend_from_slice(timestamp.as_bytes());
        message.push(b'.');
        message.extend_from_slice(body);
        header.split(' ').any(|sig| {
            sig.strip_prefix("v1,")
                .and_then(|b64| STANDARD.decode(b64).ok())
                .is_some_and(|tag| hmac::verify(&self.key, &message, &tag).is_ok())
        })
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// The length of one `v1,<base64 of 32 bytes>`.
const SIGNATURE_LEN: usize = 3 + 44;

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

/// The `webhook-signature` header: one `v1,...` per secret, space-separated.
pub(crate) fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(secrets.len() * (SIGNATURE_LEN + 1));
    for (i, secret) in secrets.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        secret.sign_into(&mut out, id, timestamp, body);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    // The test vector of the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: u64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_reference_vector() {
        let s = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(s.sign(ID, TS, BODY), SIG);
        assert!(s.verify(ID, "1614265330", BODY, SIG));
        assert!(!s.verify(ID, "1614265331", BODY, SIG));
        assert!(!s.verify(ID, "1614265330", b"{}", SIG));
    }

    #[test]
    fn rotation_sends_one_signature_per_secret() {
        let old = SigningSecret::parse(SECRET).unwrap();
        let new = SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 32]))).unwrap();
        let header = signature_header(&[new.clone(), old.clone()], ID, TS, BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], SIG);
        assert!(new.verify(ID, "1614265330", BODY, &header));
        assert!(old.verify(ID, "1614265330", BODY, &header));
    }

    /// The signature as it was first computed: the signed content
    /// concatenated, signed in one call, formatted.
    fn signed_the_first_way(secret: &SigningSecret, id: &str, ts: u64, body: &[u8]) -> String {
        let content = [id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body].concat();
        format!(
            "v1,{}",
            STANDARD.encode(hmac::sign(&secret.key, &content).as_ref())
        )
    }

    #[test]
    fn signatures_are_byte_for_byte_the_first_way() {
        let keys = [
            SigningSecret::parse(SECRET).unwrap(),
            SigningSecret::parse(&format!("whsec_{}", STANDARD.encode([7u8; 64]))).unwrap(),
        ];
        let long: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        for ts in [0, 9, 10, 1_614_265_330, u64::MAX] {
            for body in [&b""[..], BODY, &long[..63], &long[..64], &long[..65], &long] {
                for key in &keys {
                    let first = signed_the_first_way(key, ID, ts, body);
                    assert_eq!(key.sign(ID, ts, body), first);
                    assert_eq!(first.len(), SIGNATURE_LEN);
                }
                let both: Vec<String> = keys
                    .iter()
                    .map(|k| signed_the_first_way(k, "batch_evt_1_2", ts, body))
                    .collect();
                assert_eq!(
                    signature_header(&keys, "batch_evt_1_2", ts, body),
                    both.join(" ")
                );
            }
        }
        assert_eq!(signature_header(&[], ID, TS, BODY), "");
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***notbase64***",
            "whsec_c2hvcnQ=",
        ] {
            let e = SigningSecret::parse(bad).unwrap_err();
            assert!(
                !e.contains("MfKQ9") && !e.contains("notbase64") && !e.contains("c2hvcnQ"),
                "{e}"
            );
        }
        let s = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(format!("{s:?}"), "SigningSecret(<redacted>)");
    }
}
