//! Key epochs: what makes a deletion hold in backups of the database.
//!
//! Every transaction's data key is wrapped by the key of a *key epoch*, the span of time its evidence must be
//! deleted in (expiry plus retention, rounded to [`KeyEpochs::length_s`]). Epoch keys are not in the database: each
//! is a file `DIR/keys/<start>-<length>.key` holding 32 random bytes sealed under the master key. Once an epoch
//! has ended and no transaction still holds a data key wrapped by it, the sweep destroys its file (overwritten,
//! synced, removed). From then on no copy of the database, however old, can open any data key of that epoch, so
//! neither the text nor the images of those transactions: the backup case of a deletion. Backups must therefore
//! not keep `keys/` longer than the data they protect (`docs/data-protection.md`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use idv_crypto::Key;

use crate::{Result, StoreError};

/// Epoch keys in a directory, sealed under a key derived from the master key.
pub struct KeyEpochs {
    dir: PathBuf,
    wrap: Key,
    length_s: i64,
    cache: Mutex<HashMap<String, Key>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// An epoch's name: its start and length in seconds, as in its file name.
fn name(start: i64, length: i64) -> String {
    format!("{start}-{length}")
}

/// The end of the epoch named `epoch`, or `None` for a name that is not one.
pub fn epoch_end(epoch: &str) -> Option<i64> {
    let (start, length) = epoch.split_once('-')?;
    let (start, length) = (start.parse::<i64>().ok()?, length.parse::<i64>().ok()?);
    (length > 0).then(|| start.saturating_add(length))
}

impl KeyEpochs {
    /// Epoch keys under `dir` (created 0700), epochs of `length_s` seconds for new keys (existing epochs keep
    /// their own length, which is in their name).
    pub fn open(dir: PathBuf, master: &Key, length_s: i64) -> Result<KeyEpochs> {
        if length_s < 1 {
            return Err(StoreError::Config(format!("key epochs must last at least 1 s, not {length_s}")));
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
        }
        Ok(KeyEpochs { dir, wrap: master.derive("epoch-key"), length_s, cache: Mutex::new(HashMap::new()) })
    }

    pub fn length_s(&self) -> i64 {
        self.length_s
    }

    fn path(&self, epoch: &str) -> PathBuf {
        self.dir.join(format!("{epoch}.key"))
    }

    /// The epoch a data key to be deleted by `deadline` belongs to, and its key (created on first use).
    pub fn for_deadline(&self, deadline: i64) -> Result<(String, Key)> {
        let start = deadline.div_euclid(self.length_s) * self.length_s;
        let epoch = name(start, self.length_s);
        if let Some(k) = self.key(&epoch)? {
            return Ok((epoch, k));
        }
        let key = Key::random();
        let path = self.path(&epoch);
        let sealed = self.wrap.seal(key.as_bytes(), epoch.as_bytes());
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(&sealed).and_then(|()| f.sync_all()).map_err(io(&path))?;
                sync_dir(&self.dir)?;
            }
            // Another writer created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return self.key(&epoch)?.map(|k| (epoch, k)).ok_or_else(|| StoreError::Corrupt("epoch key".into()));
            }
            Err(e) => return Err(io(&path)(e)),
        }
        self.cache.lock().expect("epoch cache").insert(epoch.clone(), key.clone());
        Ok((epoch, key))
    }

    /// The key of `epoch`, `None` once it was destroyed.
    pub fn key(&self, epoch: &str) -> Result<Option<Key>> {
        if epoch_end(epoch).is_none() {
            return Err(StoreError::Corrupt(format!("not a key epoch: {epoch:.40}")));
        }
        if let Some(k) = self.cache.lock().expect("epoch cache").get(epoch) {
            return Ok(Some(k.clone()));
        }
        let path = self.path(epoch);
        let sealed = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let key = Key::from_bytes(&self.wrap.open(&sealed, epoch.as_bytes())?)?;
        self.cache.lock().expect("epoch cache").insert(epoch.to_owned(), key.clone());
        Ok(Some(key))
    }

    /// Epochs whose key still exists.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let file = entry.file_name();
            if let Some(epoch) = file.to_str().and_then(|f| f.strip_suffix(".key"))
                && epoch_end(epoch).is_some()
            {
                out.push(epoch.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Destroys the key of `epoch`: overwritten with zeros and synced before it is removed, so the bytes do not
    /// linger in the file's blocks on a file system that updates in place.
    pub fn destroy(&self, epoch: &str) -> Result<()> {
        self.cache.lock().expect("epoch cache").remove(epoch);
        let path = self.path(epoch);
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                let len = f.metadata().map_err(io(&path))?.len() as usize;
                f.write_all(&vec![0u8; len]).and_then(|()| f.sync_all()).map_err(io(&path))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&path)(e)),
        }
        std::fs::remove_file(&path).map_err(io(&path))?;
        sync_dir(&self.dir)
    }
}

/// Epoch keys in an object store, for instances that share no file system: `PREFIX/keys/<epoch>.key`, sealed
/// exactly as the files are. The bucket (or at least this prefix) must not keep old versions of deleted objects,
/// or a destroyed key would live on as a version (`docs/deployment.md`). Creation is not atomic here; the caller
/// serialises it across instances (the PostgreSQL backend holds an advisory lock around
/// [`ObjectKeyEpochs::for_deadline`]).
#[cfg(feature = "postgres")]
pub struct ObjectKeyEpochs {
    backend: std::sync::Arc<dyn crate::blobs::ObjectBackend>,
    prefix: String,
    wrap: Key,
    length_s: i64,
    cache: Mutex<HashMap<String, Key>>,
}

#[cfg(feature = "postgres")]
impl ObjectKeyEpochs {
    pub fn new(
        backend: std::sync::Arc<dyn crate::blobs::ObjectBackend>,
        prefix: &str,
        master: &Key,
        length_s: i64,
    ) -> Result<ObjectKeyEpochs> {
        if length_s < 1 {
            return Err(StoreError::Config(format!("key epochs must last at least 1 s, not {length_s}")));
        }
        Ok(ObjectKeyEpochs {
            backend,
            prefix: crate::blobs::object_key(prefix, "keys"),
            wrap: master.derive("epoch-key"),
            length_s,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn length_s(&self) -> i64 {
        self.length_s
    }

    fn key_of(&self, epoch: &str) -> String {
        format!("{}/{epoch}.key", self.prefix)
    }

    /// The epoch of `deadline` and its key, created when missing. Callers on several instances must hold a lock
    /// common to all of them around this call, or two could create different keys for one epoch.
    pub async fn for_deadline(&self, deadline: i64) -> Result<(String, Key)> {
        let start = deadline.div_euclid(self.length_s) * self.length_s;
        let epoch = name(start, self.length_s);
        if let Some(k) = self.key(&epoch).await? {
            return Ok((epoch, k));
        }
        let key = Key::random();
        self.backend.put(&self.key_of(&epoch), self.wrap.seal(key.as_bytes(), epoch.as_bytes())).await?;
        self.cache.lock().expect("epoch cache").insert(epoch.clone(), key.clone());
        Ok((epoch, key))
    }

    pub fn cached(&self, epoch: &str) -> Option<Key> {
        self.cache.lock().expect("epoch cache").get(epoch).cloned()
    }

    pub async fn key(&self, epoch: &str) -> Result<Option<Key>> {
        if epoch_end(epoch).is_none() {
            return Err(StoreError::Corrupt(format!("not a key epoch: {epoch:.40}")));
        }
        if let Some(k) = self.cached(epoch) {
            return Ok(Some(k));
        }
        let Some(sealed) = self.backend.get(&self.key_of(epoch)).await? else { return Ok(None) };
        let key = Key::from_bytes(&self.wrap.open(&sealed, epoch.as_bytes())?)?;
        self.cache.lock().expect("epoch cache").insert(epoch.to_owned(), key.clone());
        Ok(Some(key))
    }

    pub async fn list(&self) -> Result<Vec<String>> {
        let mut out: Vec<String> = self
            .backend
            .list(&self.prefix)
            .await?
            .iter()
            .filter_map(|k| k.rsplit('/').next()?.strip_suffix(".key").map(str::to_owned))
            .filter(|e| epoch_end(e).is_some())
            .collect();
        out.sort();
        Ok(out)
    }

    /// Destroys the key of `epoch`: the object is deleted (an object store has no blocks to overwrite; that is
    /// why the prefix must not keep versions).
    pub async fn destroy(&self, epoch: &str) -> Result<()> {
        self.cache.lock().expect("epoch cache").remove(epoch);
        self.backend.delete(&self.key_of(epoch)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_created_once_found_again_and_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let master = Key::random();
        let e = KeyEpochs::open(dir.path().join("keys"), &master, 100).unwrap();
        let (a, ka) = e.for_deadline(250).unwrap();
        assert_eq!(a, "200-100");
        assert_eq!(epoch_end(&a), Some(300));
        let (b, kb) = e.for_deadline(299).unwrap();
        assert_eq!((a.as_str(), ka.as_bytes()), (b.as_str(), kb.as_bytes()));
        // Another process (a fresh handle) reads the same key from the file.
        let other = KeyEpochs::open(dir.path().join("keys"), &master, 100).unwrap();
        assert_eq!(other.key(&a).unwrap().unwrap().as_bytes(), ka.as_bytes());
        assert_eq!(other.list().unwrap(), vec![a.clone()]);
        e.destroy(&a).unwrap();
        assert!(e.key(&a).unwrap().is_none());
        assert!(other.list().unwrap().is_empty());
        let wrong = KeyEpochs::open(dir.path().join("keys"), &Key::random(), 100).unwrap();
        let (c, _) = e.for_deadline(5000).unwrap();
        assert!(wrong.key(&c).is_err(), "an epoch key opens only under its master key");
        assert!(e.key("../etc").is_err());
    }
}
