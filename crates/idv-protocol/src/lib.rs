//! The device-facing protocol of idv: what the client SDK reports about itself (`MetaInfo`), the products and their
//! capture steps, and the signed client configuration (`Protocol` / `ClientCfg`) that Initialize hands to the app.
//! Pure types and functions: no HTTP, no SQL. The round messages of the device API join this crate with the device
//! protocol issue.

pub mod clientcfg;
pub mod meta;
pub mod product;

pub use clientcfg::{ClientConfig, ClientConfigError};
pub use meta::{Capabilities, DeviceType, MetaInfo, MetaInfoError, SdkVersion};
pub use product::{Product, Step};
