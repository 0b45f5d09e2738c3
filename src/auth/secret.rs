//! The JWT signing secret: configured, or in development generated once into the data folder so
//! that tokens survive restarts without anyone having to invent a secret.

use std::io::Write;
use std::path::Path;

use crate::config::{MIN_JWT_SECRET_LEN, Secret, Settings};

#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the development JWT secret at {path}: {source}")]
pub struct SecretError {
    path: String,
    #[source]
    source: std::io::Error,
}

/// The configured secret, or the development one from `<data.dir>/jwt-secret` (created with
/// mode 0600 on first use). Production never gets here without a secret: settings validation
/// refuses to start.
pub fn resolve(settings: &Settings) -> Result<Secret, SecretError> {
    if !settings.jwt.secret.is_empty() {
        return Ok(settings.jwt.secret.clone());
    }
    let path = settings.data.dir.join("jwt-secret");
    let fail = |source| SecretError {
        path: path.display().to_string(),
        source,
    };
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= MIN_JWT_SECRET_LEN {
            return Ok(Secret::new(existing));
        }
    }
    std::fs::create_dir_all(&settings.data.dir).map_err(fail)?;
    let secret = super::tokens::new_refresh_secret();
    write_private(&path, &secret).map_err(fail)?;
    tracing::info!(path = %path.display(), "generated a development JWT secret");
    Ok(Secret::new(secret))
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_secret_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults().unwrap();
        settings.data.dir = dir.path().join("data");
        let first = resolve(&settings).unwrap();
        assert!(first.expose().len() >= MIN_JWT_SECRET_LEN);
        assert_eq!(resolve(&settings).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("data/jwt-secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        settings.jwt.secret = Secret::new("configured-configured-configured-1");
        assert_eq!(
            resolve(&settings).unwrap().expose(),
            "configured-configured-configured-1"
        );
    }
}
