//! The device-facing protocol of idv: what the client SDK reports about itself (`MetaInfo`), the products and their
//! capture steps, and the signed client configuration (`Protocol` / `ClientCfg`) that Initialize hands to the app.
//! Pure types and functions: no HTTP, no SQL.

pub mod clientcfg;
pub mod device;
pub mod meta;
pub mod product;

pub use clientcfg::{ClientConfig, ClientConfigError};
pub use meta::{Capabilities, DeviceType, MetaInfo, MetaInfoError, SdkVersion};
pub use product::{Product, Step};
