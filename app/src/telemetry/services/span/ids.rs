//! Trace and span ids, checked where they enter: from OTLP's bytes (the
//! right length, not all zeros, as the specification requires) or from text
//! in a URL or query (the right number of hex digits). Kept as lower-case
//! hex, the form they are stored and shown in.

use std::fmt;

/// Why bytes or text are not an id; the field they came in says the rest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be {expected} bytes, got {got}")]
    WrongLength { expected: usize, got: usize },
    #[error("must not be all zeros")]
    AllZeros,
    #[error("is {digits} hex digits")]
    NotHex { digits: usize },
}

fn from_bytes(bytes: &[u8], expected: usize) -> Result<String, IdError> {
    if bytes.len() != expected {
        return Err(IdError::WrongLength {
            expected,
            got: bytes.len(),
        });
    }
    if bytes.iter().all(|byte| *byte == 0) {
        return Err(IdError::AllZeros);
    }
    Ok(hex::encode(bytes))
}

fn from_text(text: &str, bytes: usize) -> Result<String, IdError> {
    let digits = bytes * 2;
    if text.len() != digits || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(IdError::NotHex { digits });
    }
    Ok(text.to_ascii_lowercase())
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $bytes:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = IdError;

            fn try_from(bytes: &[u8]) -> Result<Self, IdError> {
                from_bytes(bytes, $bytes).map(Self)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;

            fn try_from(text: &str) -> Result<Self, IdError> {
                from_text(text, $bytes).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_id!(
    /// 16 bytes: 32 lower-case hex digits.
    TraceId,
    16
);
hex_id!(
    /// 8 bytes: 16 lower-case hex digits.
    SpanId,
    8
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_bytes_are_checked_and_hex_encoded() {
        let id = TraceId::try_from(&[0xab; 16][..]).unwrap();
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(
            SpanId::try_from(&[1, 2, 3][..]),
            Err(IdError::WrongLength { expected: 8, got: 3 })
        );
        assert_eq!(SpanId::try_from(&[0; 8][..]), Err(IdError::AllZeros));
    }

    #[test]
    fn ids_from_text_are_hex_of_the_right_length() {
        let id = TraceId::try_from("0AF7651916CD43DD8448EB211C80319C").unwrap();
        assert_eq!(id.to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(TraceId::try_from("xyz"), Err(IdError::NotHex { digits: 32 }));
        assert!(SpanId::try_from("00f067aa0ba902b7").is_ok());
        assert!(SpanId::try_from("00f067aa0ba902b7ff").is_err());
    }
}
