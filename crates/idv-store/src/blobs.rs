//! Sealed blobs on the local filesystem. Writes go to a temporary file that is fsynced and renamed into place, so a
//! crash leaves either the whole blob or none of it, never a torn file under a valid name.

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

    pub fn write(&self, shard: &str, id: &str, sealed: &[u8]) -> Result<()> {
        let path = self.path(shard, id);
        let dir = path.parent().expect("sharded path has a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{id}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(sealed).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(())
    }

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
