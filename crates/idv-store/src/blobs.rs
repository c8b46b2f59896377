//! Sealed blobs on the local filesystem. Writes go to a temporary file that is fsynced and renamed into place, so a
//! crash leaves either the whole blob or none of it, never a torn file under a valid name. The directory is fsynced
//! after the rename too: the rename is a change to the directory, and until the directory is on disk a power cut
//! can undo it, leaving the database row (committed after `write` returns) pointing at a file that is not there.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

pub struct BlobDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

impl BlobDir {
    pub fn open(root: PathBuf) -> Result<BlobDir> {
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(BlobDir { root })
    }

    fn path(&self, shard: &str, id: &str) -> PathBuf {
        self.root.join(&shard[..2]).join(id)
    }

    /// Writes a blob durably: when this returns `Ok`, the file's bytes and its name survive a power cut.
    pub fn write(&self, shard: &str, id: &str, sealed: &[u8]) -> Result<()> {
        self.write_with(shard, id, sealed, sync_dir)
    }

    /// [`BlobDir::write`] with the directory sync given, so the tests can see which directories are synced when.
    fn write_with(
        &self,
        shard: &str,
        id: &str,
        sealed: &[u8],
        sync_dir: impl Fn(&Path) -> std::io::Result<()>,
    ) -> Result<()> {
        let path = self.path(shard, id);
        let dir = path.parent().expect("sharded path has a parent");
        let new_shard = !dir.is_dir();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if new_shard {
            // The new shard directory's own name lives in the root, which must reach the disk as well.
            sync_dir(&self.root).map_err(io(&self.root))?;
        }
        let tmp = dir.join(format!(".{id}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(sealed).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(dir).map_err(io(dir))?;
        Ok(())
    }

    /// The sealed bytes of a blob; a file that is not there is [`StoreError::Io`] of kind `NotFound`.
    pub fn read(&self, shard: &str, id: &str) -> Result<Vec<u8>> {
        let path = self.path(shard, id);
        std::fs::read(&path).map_err(io(&path))
    }

    pub fn delete(&self, shard: &str, id: &str) -> Result<()> {
        let path = self.path(shard, id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }
}

/// Where the PostgreSQL backend keeps its sealed blobs: a local directory (one host, or a shared file system) or
/// an object store bucket every instance reaches. Blobs are named by their transaction's shard and their random
/// id, exactly as in the directory, so a bucket can be filled from a directory by copying.
pub enum Blobs {
    Dir(BlobDir),
    #[cfg(feature = "postgres")]
    Object(ObjectBlobs),
}

impl Blobs {
    pub async fn write(&self, shard: &str, id: &str, sealed: &[u8]) -> Result<()> {
        match self {
            Blobs::Dir(d) => d.write(shard, id, sealed),
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.write(shard, id, sealed).await,
        }
    }

    pub async fn read(&self, shard: &str, id: &str) -> Result<Vec<u8>> {
        match self {
            Blobs::Dir(d) => d.read(shard, id),
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.read(shard, id).await,
        }
    }

    pub async fn delete(&self, shard: &str, id: &str) -> Result<()> {
        match self {
            Blobs::Dir(d) => d.delete(shard, id),
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.delete(shard, id).await,
        }
    }

    /// The identity of this blob store (`.store-id` beside the blobs), which the database records, so an
    /// instance whose directory or bucket is not the one the others use is refused at start instead of sealing
    /// data under key epochs the others cannot see.
    pub async fn identity(&self) -> Result<Option<String>> {
        let bytes = match self {
            Blobs::Dir(d) => match std::fs::read(d.root.join(".store-id")) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(&d.root)(e)),
            },
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.backend.get(&object_key(&o.prefix, "store-id")).await?,
        };
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).trim().to_owned()))
    }

    pub async fn set_identity(&self, id: &str) -> Result<()> {
        match self {
            Blobs::Dir(d) => d.write_file(".store-id", id.as_bytes()),
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.backend.put(&object_key(&o.prefix, "store-id"), id.as_bytes().to_vec()).await,
        }
    }

    /// Whether the blobs can be reached now (the health check).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Blobs::Dir(d) => d.ping(),
            #[cfg(feature = "postgres")]
            Blobs::Object(o) => o.ping().await,
        }
    }
}

impl BlobDir {
    /// A small file directly under the root, written durably like a blob.
    fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.root.join(name);
        let tmp = self.root.join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.root).map_err(io(&self.root))
    }

    pub fn ping(&self) -> Result<()> {
        std::fs::read_dir(&self.root).map(|_| ()).map_err(io(&self.root))
    }
}

/// An object store the PostgreSQL backend keeps sealed blobs and key epochs in (an S3-compatible bucket: the
/// `idv-s3` crate). It only moves bytes: everything is sealed before it is handed over. A `put` must be atomic
/// (whole object or nothing) and acknowledged only once stored.
#[async_trait::async_trait]
pub trait ObjectBackend: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()>;
    /// `None` for a key that is not there.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Deleting a key that is not there succeeds.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every key under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Whether the store can be reached with these credentials now.
    async fn ping(&self) -> Result<()>;
}

/// Sealed blobs in an [`ObjectBackend`], under `PREFIX/blobs/`.
#[cfg(feature = "postgres")]
pub struct ObjectBlobs {
    backend: std::sync::Arc<dyn ObjectBackend>,
    prefix: String,
}

/// `prefix/rest`, or `rest` for an empty prefix.
#[cfg(feature = "postgres")]
pub(crate) fn object_key(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() { rest.to_owned() } else { format!("{prefix}/{rest}") }
}

#[cfg(feature = "postgres")]
impl ObjectBlobs {
    pub fn new(backend: std::sync::Arc<dyn ObjectBackend>, prefix: &str) -> ObjectBlobs {
        ObjectBlobs { backend, prefix: prefix.to_owned() }
    }

    fn key(&self, shard: &str, id: &str) -> String {
        object_key(&self.prefix, &format!("blobs/{}/{id}", &shard[..2]))
    }

    async fn write(&self, shard: &str, id: &str, sealed: &[u8]) -> Result<()> {
        self.backend.put(&self.key(shard, id), sealed.to_vec()).await
    }

    async fn read(&self, shard: &str, id: &str) -> Result<Vec<u8>> {
        let key = self.key(shard, id);
        // As from the directory: a blob that is not there is an I/O error of kind NotFound (gone for good).
        self.backend.get(&key).await?.ok_or_else(|| StoreError::Io {
            path: key.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, key),
        })
    }

    async fn delete(&self, shard: &str, id: &str) -> Result<()> {
        self.backend.delete(&self.key(shard, id)).await
    }

    async fn ping(&self) -> Result<()> {
        self.backend.ping().await
    }
}

/// Makes a directory's entries (renames, new files) durable: fsync on the directory itself, the POSIX way.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Elsewhere a directory cannot be opened for syncing; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// What the sync hook saw: the directory, and whether the blob was already there under its final name.
    type Synced = RefCell<Vec<(PathBuf, bool)>>;

    #[test]
    fn the_directory_is_synced_after_the_rename() {
        let root = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(root.path().to_path_buf()).unwrap();
        let shard = root.path().join("ab");
        let final_path = shard.join("blob1");
        let synced: Synced = RefCell::new(Vec::new());
        let record = |d: &Path| {
            synced.borrow_mut().push((d.to_path_buf(), final_path.exists()));
            sync_dir(d)
        };
        blobs.write_with("abcdef", "blob1", b"sealed", record).unwrap();
        // A new shard: the root (for the shard's name), then the shard after the rename (for the blob's name).
        assert_eq!(*synced.borrow(), [(root.path().to_path_buf(), false), (shard.clone(), true)]);

        synced.borrow_mut().clear();
        let second = shard.join("blob2");
        let record = |d: &Path| {
            synced.borrow_mut().push((d.to_path_buf(), second.exists()));
            sync_dir(d)
        };
        blobs.write_with("abcdef", "blob2", b"sealed", record).unwrap();
        assert_eq!(*synced.borrow(), [(shard.clone(), true)], "an existing shard: only the rename to make durable");
        assert_eq!(blobs.read("abcdef", "blob2").unwrap(), b"sealed");
    }

    #[test]
    fn a_failed_directory_sync_fails_the_write() {
        // The caller commits the row only after `write` succeeded: a sync that failed must not look like success.
        let root = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(root.path().to_path_buf()).unwrap();
        let fail = |_: &Path| Err(std::io::Error::other("disk gone"));
        assert!(matches!(blobs.write_with("cdef", "blob", b"sealed", fail), Err(StoreError::Io { .. })));
        // The real sync works on a real directory.
        sync_dir(root.path()).unwrap();
    }
}
