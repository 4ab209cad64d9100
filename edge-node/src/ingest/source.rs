//! Where a camera's frames come from (`url` and `rtsp_transport` of a `[[cameras]]` entry), and
//! which decoder decodes them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{ConfigError, Scope};

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Rtsp { url: String, tcp: bool },
    V4l2(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderChoice {
    /// Hardware decoder when its GStreamer element exists, software otherwise.
    Auto,
    Software,
    Nvidia,
    Vaapi,
    /// H.264 in software through Cisco's OpenH264 (`openh264dec`, gst-plugins-bad) instead of
    /// libav: about 40 MiB less resident memory per process (libav's GStreamer plugin links
    /// libavfilter and everything it needs), about twice the CPU a frame. For boxes short of
    /// memory with few H.264 cameras; other codecs still go through libav.
    Openh264,
}

/// Parses a camera's `url`; errors name `url` or `rtsp_transport` under the camera's key.
pub fn source(s: &Scope, url: &str, transport: Option<&str>) -> Result<Source, ConfigError> {
    let tcp = match transport {
        None | Some("tcp") => true,
        Some("udp") => false,
        Some(t) => {
            return Err(s.err("rtsp_transport", format!("{t:?} is not tcp or udp")));
        }
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        s.err(
            "url",
            format!("{url:?} is not a URL; expected file://, rtsp:// or v4l2://"),
        )
    })?;
    if transport.is_some() && scheme != "rtsp" && scheme != "rtsps" {
        return Err(s.err("rtsp_transport", "only applies to rtsp:// sources"));
    }
    match scheme {
        "file" => {
            let p = s.path(Path::new(rest));
            if !p.is_file() {
                return Err(s.err("url", format!("video file {} does not exist", p.display())));
            }
            Ok(Source::File(p))
        }
        "rtsp" | "rtsps" => {
            rtsp_host(s, url, rest)?;
            Ok(Source::Rtsp {
                url: url.to_string(),
                tcp,
            })
        }
        "v4l2" => {
            if !rest.starts_with("/dev/") {
                return Err(s.err(
                    "url",
                    format!("{url:?} must name a device, e.g. v4l2:///dev/video0"),
                ));
            }
            Ok(Source::V4l2(PathBuf::from(rest)))
        }
        other => Err(s.err(
            "url",
            format!("unsupported scheme {other:?}; expected file, rtsp or v4l2"),
        )),
    }
}

/// The authority of an RTSP URL must name a host (and a valid port, if any).
fn rtsp_host(s: &Scope, url: &str, rest: &str) -> Result<(), ConfigError> {
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !host.ends_with(']') => (n, Some(p)),
        _ => (host, None),
    };
    if name.is_empty() {
        return Err(s.err("url", format!("{:?} has no host", redact(url))));
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(s.err(
            "url",
            format!("{:?} has an invalid port {port:?}", redact(url)),
        ));
    }
    Ok(())
}

/// `text` with the user and password of every URL in it replaced by `***`
/// (`rtsp://admin:pw@cam/1` → `rtsp://***@cam/1`): camera credentials never reach a log line,
/// a status event or an error, whatever GStreamer puts in its messages.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact;

    #[test]
    fn credentials_are_hidden_wherever_they_appear() {
        for (text, want) in [
            (
                "rtsp://admin:pw@10.0.0.5:554/s1",
                "rtsp://***@10.0.0.5:554/s1",
            ),
            (
                "Could not open \"rtsp://u:p@ss@cam/x\" (401)",
                "Could not open \"rtsp://***@cam/x\" (401)",
            ),
            (
                "rtsp://cam/x and rtsp://a:b@c",
                "rtsp://cam/x and rtsp://***@c",
            ),
            ("no url here", "no url here"),
            ("file:///tmp/a.mp4", "file:///tmp/a.mp4"),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
    }
}
