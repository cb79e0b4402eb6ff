//! `POST /speke/v1` and `POST /speke/v2`: a SPEKE key provider. Packagers (AWS Elemental
//! MediaConvert, MediaPackage, any CPIX client) ask for the keys to encrypt HLS AES-128
//! with; the answer carries the derived keys and key URIs on this server's key routes, so
//! players then fetch the same keys with a viewer token (and a lease, if leases are on).
//!
//! - The CPIX `id` (v1) or `contentId` (v2) is the content id; a `ContentKeyPeriod`'s
//!   `index` is the epoch (MediaPackage's live key rotation); a key in no period is the
//!   content key.
//! - SPEKE v1 answers the HLS AES-128 system id [`HLS_AES_128_SYSTEM_ID`]; SPEKE v2
//!   (`X-Speke-Version: 2.0`, CPIX 2.3) the Clear Key AES-128 system id
//!   [`CLEAR_KEY_AES_128_SYSTEM_ID`]. Every other DRM system is refused.
//! - Keys travel as `pskc:PlainValue` over TLS; encrypted key delivery (a
//!   `DeliveryDataList`) is refused with its own error code.
//! - The XML parser is roxmltree, which refuses any DTD (and so every entity
//!   declaration, internal or external) before reading further.
//!
//! Off unless a [`SpekeConfig`] is given to [`KeyServer::speke`](crate::KeyServer::speke)
//! (or `SPEKE_KEY_URL_BASE` is set: see [`crate::settings`]).

mod auth;
mod config;
mod cpix;
mod response;
pub(crate) mod route;

pub use auth::{MIN_TOKEN_LEN, PACKAGER_TOKEN_ID, SpekeTokenAuthenticator};
pub use config::{DEFAULT_MAX_BODY_BYTES, SpekeConfig, SpekeConfigError};
pub use cpix::{
    CLEAR_KEY_AES_128_SYSTEM_ID, CpixRequest, HLS_AES_128_SYSTEM_ID, MAX_CONTENT_KEYS,
    RequestedKey, SpekeRefusal, SpekeVersion, parse_request,
};
pub use response::write_response;
