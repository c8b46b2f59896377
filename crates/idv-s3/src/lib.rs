//! Sealed blobs and key epochs in an S3-compatible bucket: [`idv_store::ObjectBackend`] over `object_store`'s
//! S3 client. The store seals everything before it gets here, so the bucket only ever holds ciphertext; this crate
//! moves bytes and maps the object store's errors to the store's.
//!
//! Configuration comes from the environment, as the AWS tools read it: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and for other S3-compatible stores `AWS_ENDPOINT` (with
//! `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint on a trusted network).

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use idv_store::{ObjectBackend, StoreError};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub struct S3Backend {
    store: Arc<dyn ObjectStore>,
    /// For error messages: `s3://bucket`.
    name: String,
}

/// The backend and key prefix of `s3://bucket/prefix`.
pub fn open(url: &str) -> Result<(S3Backend, String), StoreError> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| StoreError::Config(format!("not an s3:// URL: {url}")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(StoreError::Config(format!("no bucket in the blob URL {url}")));
    }
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| StoreError::Config(format!("blob store {url}: {e}")))?;
    Ok((S3Backend { store: Arc::new(s3), name: format!("s3://{bucket}") }, prefix.trim_matches('/').to_owned()))
}

impl S3Backend {
    fn error(&self, e: object_store::Error) -> StoreError {
        // The error's text names the bucket and key, never the credentials.
        StoreError::Blob(format!("{}: {e}", self.name))
    }
}

#[async_trait]
impl ObjectBackend for S3Backend {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.store.get(&Path::from(key)).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(|e| self.error(e))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let metas: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&Path::from(prefix))).try_collect().await.map_err(|e| self.error(e))?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A HEAD of a key that need not exist: any answer but a transport or authorisation failure is reachable.
        match self.store.head(&Path::from("healthz")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}
