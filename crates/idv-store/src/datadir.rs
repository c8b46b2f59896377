use std::io::Write;
use std::path::Path;

use idv_crypto::Key;

use crate::{Result, StoreError};

/// Where the master key came from, for the start-up log line (never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    File,
    Generated,
}

/// The master key: from `env_value` (IDV_MASTER_KEY) when given, else from `DIR/master.key`, else a new one is
/// generated there with mode 0600. Creating the file with `create_new` means two processes starting at once on an
/// empty directory cannot end up with different keys: the loser reads the winner's file.
pub fn load_master_key(dir: &Path, env_value: Option<&str>) -> Result<(Key, MasterKeySource)> {
    if let Some(v) = env_value {
        let key = Key::from_hex(v).map_err(|e| StoreError::Config(format!("IDV_MASTER_KEY: {e}")))?;
        return Ok((key, MasterKeySource::Environment));
    }
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
    let path = dir.join("master.key");
    let io = |source| StoreError::Io { path: path.display().to_string(), source };
    match read_key_file(&path) {
        Ok(key) => return Ok((key, MasterKeySource::File)),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let key = Key::random();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(format!("{}\n", &*key.to_hex()).as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok((key, MasterKeySource::Generated))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((read_key_file(&path)?, MasterKeySource::File)),
        Err(e) => Err(io(e)),
    }
}

fn read_key_file(path: &Path) -> Result<Key> {
    let text =
        std::fs::read_to_string(path).map_err(|source| StoreError::Io { path: path.display().to_string(), source })?;
    Key::from_hex(&text).map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
}
