//! How edge-node and central-hub reach the broker securely: TLS (the broker's CA, optionally a
//! client certificate) and an account (username + a password file). Both configs carry these
//! settings; this crate validates them once at load and applies them to `rumqttc` options.

use std::path::{Path, PathBuf};

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

/// The security settings of an `[mqtt]` section; all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Security {
    /// CA certificate (PEM) that signed the broker's certificate; setting it turns TLS on.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for brokers that require one.
    pub tls_client_cert: Option<PathBuf>,
    pub tls_client_key: Option<PathBuf>,
    pub username: Option<String>,
    /// File holding the password; no other user may read it.
    pub password_file: Option<PathBuf>,
}

/// A problem with one setting: the key under `[mqtt]` and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub key: &'static str,
    pub reason: String,
}

impl Security {
    /// Resolves relative paths with `resolve` and checks what can be checked before connecting:
    /// files exist, settings come in pairs, key and password files are private.
    pub fn validate(mut self, resolve: impl Fn(&Path) -> PathBuf) -> Result<Self, Invalid> {
        let bad = |key, reason: String| Invalid { key, reason };
        for (key, f) in [
            ("mqtt.tls_ca", &mut self.tls_ca),
            ("mqtt.tls_client_cert", &mut self.tls_client_cert),
            ("mqtt.tls_client_key", &mut self.tls_client_key),
            ("mqtt.password_file", &mut self.password_file),
        ] {
            if let Some(p) = f.take() {
                let p = resolve(&p);
                if !p.is_file() {
                    return Err(bad(key, format!("{} does not exist", p.display())));
                }
                *f = Some(p);
            }
        }
        if self.tls_client_cert.is_some() != self.tls_client_key.is_some() {
            return Err(bad(
                "mqtt.tls_client_cert",
                "set both tls_client_cert and tls_client_key, or neither".into(),
            ));
        }
        if self.tls_client_cert.is_some() && self.tls_ca.is_none() {
            return Err(bad(
                "mqtt.tls_ca",
                "client certificates need TLS: set mqtt.tls_ca".into(),
            ));
        }
        if self.username.is_some() != self.password_file.is_some() {
            return Err(bad(
                "mqtt.username",
                "set both mqtt.username and mqtt.password_file, or neither".into(),
            ));
        }
        if let Some(k) = &self.tls_client_key {
            check_private(k).map_err(|r| bad("mqtt.tls_client_key", r))?;
        }
        if let Some(p) = &self.password_file {
            read_secret(p).map_err(|r| bad("mqtt.password_file", r))?;
        }
        Ok(self)
    }

    /// Sets TLS and credentials on `opts`, reading the files now.
    pub fn apply(&self, opts: &mut MqttOptions) -> Result<(), String> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        if let Some(ca) = &self.tls_ca {
            let client_auth = match (&self.tls_client_cert, &self.tls_client_key) {
                (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
                _ => None,
            };
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca: read(ca)?,
                alpn: None,
                client_auth,
            }));
        }
        if let (Some(user), Some(file)) = (&self.username, &self.password_file) {
            opts.set_credentials(user.clone(), read_secret(file)?);
        }
        Ok(())
    }
}

/// A key or password file must not be readable by other users.
pub fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

/// Reads a private secret file (trailing newline dropped); errors never quote the content.
pub fn read_secret(path: &Path) -> Result<String, String> {
    check_private(path)?;
    let s = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = s.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pairs_existence_and_privacy_are_checked() {
        let dir = std::env::temp_dir().join(format!("matthan-mqtt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o640)).unwrap();
        let s = Security {
            username: Some("u".into()),
            password_file: Some(pw.clone()),
            ..Security::default()
        };
        let e = s.clone().validate(|p| p.to_path_buf()).unwrap_err();
        assert_eq!(e.key, "mqtt.password_file");
        assert!(!e.reason.contains("secret\n") && e.reason.contains("chmod 600"));
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        s.clone().validate(|p| p.to_path_buf()).unwrap();
        let e = Security {
            username: Some("u".into()),
            ..Security::default()
        }
        .validate(|p| p.to_path_buf())
        .unwrap_err();
        assert_eq!(e.key, "mqtt.username");
        let e = Security {
            tls_client_cert: Some(pw.clone()),
            tls_client_key: Some(pw.clone()),
            ..Security::default()
        }
        .validate(|p| p.to_path_buf())
        .unwrap_err();
        assert_eq!(e.key, "mqtt.tls_ca");
        let e = Security {
            tls_ca: Some(dir.join("nope.crt")),
            ..Security::default()
        }
        .validate(|p| p.to_path_buf())
        .unwrap_err();
        assert_eq!(e.key, "mqtt.tls_ca");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
