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
/// generated there with mode 0600. The new key is written in full to a temporary file and only then linked to
/// `master.key`, which fails if the name exists: two processes starting at once on an empty directory cannot end
/// up with different keys (the loser reads the winner's file), and neither can read a half-written one, nor can a
/// crash leave an empty `master.key` behind.
pub fn load_master_key(dir: &Path, env_value: Option<&str>) -> Result<(Key, MasterKeySource)> {
    if let Some(v) = env_value {
        let key = Key::from_hex(v).map_err(|e| StoreError::Config(format!("IDV_MASTER_KEY: {e}")))?;
        return Ok((key, MasterKeySource::Environment));
    }
    let dir_io = |source| StoreError::Io { path: dir.display().to_string(), source };
    std::fs::create_dir_all(dir).map_err(dir_io)?;
    let path = dir.join("master.key");
    match read_key_file(&path) {
        Ok(key) => return Ok((key, MasterKeySource::File)),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let key = Key::random();
    let tmp = dir.join(format!(".master.key.{}.tmp", idv_crypto::random_hex(8)));
    let written = write_private(&tmp, format!("{}\n", &*key.to_hex()).as_bytes());
    let linked = written.and_then(|()| {
        std::fs::hard_link(&tmp, &path).map_err(|source| StoreError::Io { path: path.display().to_string(), source })
    });
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // The new name must survive a power loss as well as the bytes behind it.
            #[cfg(unix)]
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(dir_io)?;
            Ok((key, MasterKeySource::Generated))
        }
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_key_file(&path)?, MasterKeySource::File))
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| StoreError::Io { path: path.display().to_string(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads a master key file (`DIR/master.key`, or `idv serve --master-key-file`), refusing one that other users can
/// access.
pub fn read_key_file(path: &Path) -> Result<Key> {
    let io = |source| StoreError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The key unlocks every secret and image at rest: a copy other local users can read (a restored backup, a
    // key file written by hand under umask 022) is refused rather than used. Checked on the opened file, so the
    // file read is the file checked.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::Config(format!(
                "{p} is accessible to other users (mode {mode:03o}); restrict it with `chmod 600 {p}`",
                p = path.display()
            )));
        }
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(io)?;
    Key::from_hex(&text).map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_master_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (key, source) = load_master_key(dir.path(), None).unwrap();
        assert_eq!(source, MasterKeySource::Generated);
        let path = dir.path().join("master.key");
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_master_key(dir.path(), None).unwrap_err().to_string();
            assert!(err.contains("chmod 600") && err.contains("master.key"), "{mode:o}: {err}");
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let (again, source) = load_master_key(dir.path(), None).unwrap();
            assert_eq!((again.to_hex(), source), (key.to_hex(), MasterKeySource::File));
        }
    }
}
