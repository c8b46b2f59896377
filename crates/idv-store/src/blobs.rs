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
