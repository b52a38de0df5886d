//! The agent's configuration (`config.toml` in the config folder). Every key has a default;
//! a file that cannot be parsed is reported with its line and the agent runs on defaults.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::prompt::Language;

/// kyso's own API port: none of the vendor plugins' or peers' ports (VNPT 4433-4435, 9201,
/// 9202, 5002, 5003; VGCA 8987; Viettel 14007; BKAV 8443; Fortify 31337; NexU 9795/9895;
/// Autogram 37200).
pub const DEFAULT_PORT: u16 = 47320;

/// Agent settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// TCP port on 127.0.0.1 and ::1.
    pub port: u16,
    /// Origins allowed without asking (exact `scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Origins always refused.
    pub denied_origins: Vec<String>,
    /// Also accept `http://localhost:*` and `http://127.0.0.1:*` pages (development only).
    pub dev_mode: bool,
    /// Keep a token unlocked for the same origin this many minutes (0 = ask every time).
    pub pin_cache_minutes: u32,
    /// How long a dialog waits for the user before `PROMPT_TIMEOUT`.
    pub prompt_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Dialogs one origin may cause per minute before `BUSY`.
    pub prompts_per_minute: u32,
    /// Requests that may wait for a dialog at once before `BUSY`.
    pub max_queued_prompts: usize,
    /// Dialog language; default from the system locale.
    pub language: Option<Language>,
    /// Answer pages written for the VNPT-CA plugin (`wss://localhost:4433/plugin`).
    pub vnpt_compat: bool,
    /// Ports tried in order by the VNPT-CA compatibility listener.
    pub vnpt_compat_ports: Vec<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            allowed_origins: Vec::new(),
            denied_origins: Vec::new(),
            dev_mode: false,
            pin_cache_minutes: 0,
            prompt_timeout_secs: 120,
            max_body_bytes: 64 * 1024 * 1024,
            prompts_per_minute: 120,
            max_queued_prompts: 64,
            language: None,
            vnpt_compat: false,
            vnpt_compat_ports: crate::compat::vnpt::DEFAULT_PORTS.to_vec(),
        }
    }
}

/// Why a configuration file was not used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            line: e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1),
            message: e.message().to_owned(),
        })
    }

    /// Reads `path`, logging a problem and falling back to defaults: a typo in the config
    /// must not keep users from signing.
    pub fn load_or_default(path: &Path) -> Self {
        Self::load(path).unwrap_or_else(|e| {
            tracing::error!(error = %e, "configuration ignored; running on defaults");
            Self::default()
        })
    }

    /// The dialog language.
    pub fn language(&self) -> Language {
        self.language.unwrap_or_else(Language::detect)
    }
}

/// Sets `language` in the config file at `path`, keeping every other line (and comment) as the
/// user wrote it; creates the file when missing.
pub fn save_language(path: &Path, language: Language) -> std::io::Result<()> {
    let value = match language {
        Language::Vi => "\"vi\"",
        Language::En => "\"en\"",
    };
    save_key(path, "language", value)
}

/// Sets the top-level `key` to `value` (TOML text) in the config file at `path`, keeping every
/// other line (and comment) as the user wrote it; creates the file when missing.
pub fn save_key(path: &Path, key: &str, value: &str) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let setting = format!("{key} = {value}");
    let mut replaced = false;
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let name = line.split('=').next().unwrap_or_default().trim();
            if name == key && !replaced {
                replaced = true;
                setting.clone()
            } else {
                line.to_owned()
            }
        })
        .collect();
    if !replaced {
        // Top of the file: a top-level key must come before any [table].
        lines.insert(0, setting);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_the_language_keeps_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "# mine\nport = 47400\n").unwrap_or_else(|e| panic!("{e}"));
        save_language(&path, Language::En).unwrap_or_else(|e| panic!("{e}"));
        save_language(&path, Language::Vi).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text, "language = \"vi\"\n# mine\nport = 47400\n");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((config.port, config.language), (47400, Some(Language::Vi)));
    }

    #[test]
    fn a_bad_key_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "port = 47320\n\nallowed_origin = [\"x\"]\n")
            .unwrap_or_else(|e| panic!("{e}"));
        match Config::load(&path) {
            Err(ConfigError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a parse error, got {other:?}"),
        }
        assert_eq!(Config::load_or_default(&path), Config::default());
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let config =
            Config::load(Path::new("/nonexistent/kyso.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.pin_cache_minutes, 0);
    }
}
