//! The device-facing protocol of idv: what the client SDK reports about itself (`MetaInfo`) and whether it can run
//! a product, the signed client configuration (`Protocol` / `ClientCfg`) that Initialize hands to the app, and the
//! device API's wire messages. Pure types and functions: no HTTP, no SQL. Products and their steps are the flow's
//! (`idv-flow`), re-exported here because the wire carries them.

pub mod clientcfg;
pub mod device;
pub mod meta;

pub use clientcfg::{ClientConfig, ClientConfigError};
pub use idv_flow::{Product, Step};
pub use meta::{Capabilities, DeviceType, MetaInfo, MetaInfoError, SdkVersion};
