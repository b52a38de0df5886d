//! Where kyso keeps its files, per user (`directories`; honours `XDG_CONFIG_HOME` and
//! `XDG_DATA_HOME` on Linux so tests and several users never share state).

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("vn", "kyso", "kyso")
}

/// Data folder: local TLS files, audit log, demo token (`~/.local/share/kyso` on Linux).
pub fn data_dir() -> Option<PathBuf> {
    project().map(|d| d.data_dir().to_path_buf())
}

/// Configuration folder: `config.toml`, remembered site consent, local API token
/// (`~/.config/kyso` on Linux).
pub fn config_dir() -> Option<PathBuf> {
    project().map(|d| d.config_dir().to_path_buf())
}

/// Creates `path` (and parents) readable only by the user where the OS supports it.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `data` to `path` atomically with mode 0600 (secrets, keys, tokens).
pub fn write_private_file(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    create_private_dir(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    // NamedTempFile is created 0600 on Unix.
    temp.write_all(data)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
