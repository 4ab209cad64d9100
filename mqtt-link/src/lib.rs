//! How edge-node and central-hub reach the broker securely: TLS (the broker's CA, optionally a
//! client certificate) and an account (username + a password file). Both configs carry these
//! settings; this crate validates them once at load and applies them to `rumqttc` options.

use std::path::{Path, PathBuf};

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use serde::Deserialize;

/// The `[mqtt]` section, the same for edge boxes and hubs: where the broker is and how to log in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    #[serde(default = "d_host")]
    pub host: String,
    #[serde(default = "d_port")]
    pub port: u16,
    /// MQTT client id; each program has its own default (`edge-{edge_id}`, `central-hub`).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default = "d_keep_alive")]
    pub keep_alive_s: u64,
    /// Broker account; the password is read from `password_file`, which no other user may read.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the broker's certificate; setting it turns TLS on.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for brokers that require one; the key must be private.
    #[serde(default)]
    pub tls_client_cert: Option<PathBuf>,
    #[serde(default)]
    pub tls_client_key: Option<PathBuf>,
}

fn d_host() -> String {
    "127.0.0.1".into()
}
fn d_port() -> u16 {
    1883
}
fn d_keep_alive() -> u64 {
    10
}

/// A validated `[mqtt]` section: what connects.
#[derive(Debug, Clone, PartialEq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub client_id: Option<String>,
    pub keep_alive_s: u64,
    pub security: Security,
}

impl Broker {
    /// `host:port`, for logs and status.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl BrokerConfig {
    /// Checks every setting (relative paths resolved with `resolve`); errors name the key.
    pub fn validate(self, resolve: impl Fn(&Path) -> PathBuf) -> Result<Broker, Invalid> {
        let bad = |key, reason: &str| Invalid {
            key,
            reason: reason.into(),
        };
        if self.host.trim().is_empty() {
            return Err(bad("mqtt.host", "must not be empty"));
        }
        if self.port == 0 {
            return Err(bad("mqtt.port", "must be 1..=65535"));
        }
        if !(5..=3600).contains(&self.keep_alive_s) {
            return Err(bad("mqtt.keep_alive_s", "must be 5..=3600 seconds"));
        }
        if self
            .client_id
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(bad("mqtt.client_id", "must not be empty"));
        }
        let security = Security {
            tls_ca: self.tls_ca,
            tls_client_cert: self.tls_client_cert,
            tls_client_key: self.tls_client_key,
            username: self.username,
            password_file: self.password_file,
        }
        .validate(resolve)?;
        Ok(Broker {
            host: self.host,
            port: self.port,
            client_id: self.client_id,
            keep_alive_s: self.keep_alive_s,
            security,
        })
    }
}

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
