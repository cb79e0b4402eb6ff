//! [`Source`]: where one secret setting's value is kept, as `*_SECRET_ARN` and
//! `*_PARAMETER` settings name it.

/// Where one setting's value is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A Secrets Manager secret (ARN or name), optionally a field of its JSON value.
    Secret { id: String, field: Option<String> },
    /// A Parameter Store parameter (name or ARN), decrypted.
    Parameter { name: String, field: Option<String> },
}
