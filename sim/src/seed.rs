//! The run's seed and the independent random streams derived from it.
//!
//! Each stream is named by its purpose and an id (a connection, a link), so adding a
//! connection or a fault kind does not perturb the others. The derivation is our own
//! (FNV-1a over the purpose, splitmix64 to expand), so it never changes with a library upgrade.
//!
//! In files a seed is a TOML integer up to `i64::MAX` (TOML integers are signed 64-bit) and
//! a string of decimal digits above it; either form is read back, so every `u64` round-trips.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One run's seed.
///
/// ```
/// use rand::RngCore;
/// use tcpnotify_sim::seed::Seed;
/// let seed = Seed(7);
/// // Same purpose and id, same numbers; another id, another stream.
/// assert_eq!(seed.stream("read-chunking", 1).next_u64(), seed.stream("read-chunking", 1).next_u64());
/// assert_ne!(seed.stream("read-chunking", 1).next_u64(), seed.stream("read-chunking", 2).next_u64());
///
/// // Seeds above i64::MAX are written as strings, so TOML can hold them.
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct File { seed: Seed }
/// let text = toml::to_string(&File { seed: Seed(u64::MAX) }).unwrap();
/// assert_eq!(text.trim(), "seed = \"18446744073709551615\"");
/// assert_eq!(toml_edit::de::from_str::<File>(&text).unwrap().seed, Seed(u64::MAX));
/// assert_eq!(toml_edit::de::from_str::<File>("seed = 7").unwrap().seed, Seed(7));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seed(pub u64);

/// What a seed may be, for error messages.
const SEED_FORM: &str = "a seed: a whole number from 0 to 18446744073709551615 (above \
     9223372036854775807, written as a string of digits, e.g. \"18446744073709551615\")";

impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if i64::try_from(self.0).is_ok() {
            serializer.serialize_u64(self.0)
        } else {
            serializer.serialize_str(&self.0.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeedVisitor;
        impl Visitor<'_> for SeedVisitor {
            type Value = Seed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SEED_FORM)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seed, E> {
                Ok(Seed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seed, E> {
                u64::try_from(v)
                    .map(Seed)
                    .map_err(|_| E::custom(format!("{v} is not {SEED_FORM}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seed, E> {
                // Digits only: `u64::from_str` would also take a leading `+`.
                match v.bytes().all(|b| b.is_ascii_digit()) {
                    true => v.parse().map(Seed).ok(),
                    false => None,
                }
                .ok_or_else(|| E::custom(format!("{v:?} is not {SEED_FORM}")))
            }
        }
        deserializer.deserialize_any(SeedVisitor)
    }
}

impl Seed {
    /// A 64-bit value derived from the seed for `purpose` (e.g. turmoil's own seed).
    pub fn derive(&self, purpose: &str) -> u64 {
        splitmix64(self.0 ^ splitmix64(fnv1a(purpose.as_bytes())))
    }

    /// The random stream for `purpose` and `id`.
    pub fn stream(&self, purpose: &str, id: u64) -> ChaCha8Rng {
        let mut state = self.derive(purpose) ^ splitmix64(id.wrapping_add(0x9e37_79b9_7f4a_7c15));
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            state = splitmix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        ChaCha8Rng::from_seed(key)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// FNV-1a, 64 bit: a stable hash for stream names.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// splitmix64's output function: spreads the bits of `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    const PINNED_PLAN_STREAM_FIRST: u64 = 6_424_750_430_035_330_842;

    #[test]
    fn every_seed_round_trips_through_toml_and_json() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct File {
            seed: Seed,
        }
        let max_int = i64::MAX as u64;
        for seed in [0, 1, max_int, max_int + 1, 1 << 63, u64::MAX] {
            let file = File { seed: Seed(seed) };
            let text = toml::to_string(&file).expect("serialises");
            assert_eq!(
                toml_edit::de::from_str::<File>(&text).expect("parses"),
                file,
                "{text}"
            );
            let json = serde_json::to_string(&file).expect("serialises");
            assert_eq!(serde_json::from_str::<File>(&json).expect("parses"), file);
        }
        for bad in [
            "seed = -1",
            "seed = \"-1\"",
            "seed = \"+1\"",
            "seed = \"\"",
            "seed = 1.5",
        ] {
            let err = toml_edit::de::from_str::<File>(bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("a whole number from 0"), "{bad}: {err}");
        }
    }

    #[test]
    fn streams_are_pinned_across_versions() {
        // If this changes, every recorded seed would replay differently.
        assert_eq!(fnv1a(b"plan"), 0xa5e8_4c0d_b713_a4b2);
        assert_eq!(
            Seed(1).stream("plan", 0).next_u64(),
            PINNED_PLAN_STREAM_FIRST
        );
        assert_ne!(
            Seed(1).stream("plan", 0).next_u64(),
            Seed(2).stream("plan", 0).next_u64()
        );
        assert_ne!(
            Seed(1).stream("plan", 0).next_u64(),
            Seed(1).stream("chunks", 0).next_u64()
        );
    }
}
