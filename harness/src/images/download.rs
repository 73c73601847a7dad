//! HTTP downloads that survive flaky networks without ever passing off a
//! partial file as a whole one.
//!
//! Bytes go to a `.part` file inside the cache. A dropped connection, a
//! stalled server or a 5xx is retried with exponential backoff, and when the
//! `.part` already holds bytes the next request asks only for the rest
//! (`Range: bytes=N-`). A 4xx other than 408/429 is final: retrying a 404 only
//! delays the message the user needs. Verification is the caller's job.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;

use super::StoreOptions;
use crate::{Error, Result};

/// What a finished download went through, for the caller's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// Some bytes came from an earlier attempt or run (a `Range` request
    /// succeeded), so a checksum mismatch may be the old prefix's fault.
    pub resumed: bool,
}

/// A blocking HTTP client configured from [`StoreOptions`].
pub(crate) struct Downloader {
    client: Client,
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    progress: bool,
}

/// Why one attempt did not finish.
enum Attempt {
    /// Worth trying again (network trouble, 5xx, a stall, a short body).
    Retry(String),
    /// Not worth trying again; the message is final.
    Fatal(Error),
}

impl Downloader {
    /// Builds the client; timeouts come from the options so tests can be quick.
    pub fn new(options: &StoreOptions) -> Result<Downloader> {
        let client = Client::builder()
            .connect_timeout(options.connect_timeout)
            // For the blocking client this bounds each wait: for the response
            // head and for every read of the body, i.e. a stall, not the
            // whole transfer (a kernel .deb may take minutes).
            .timeout(options.read_timeout)
            .user_agent(concat!("bootmatrix/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::infra(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Downloader {
            client,
            attempts: options.attempts.max(1),
            backoff: options.backoff,
            max_backoff: options.max_backoff,
            progress: options.progress,
        })
    }

    /// Downloads `url` into `part`, continuing whatever `part` already holds.
    ///
    /// On success `part` holds the whole body (not yet verified). When the
    /// attempts run out, `part` keeps what arrived, so the next run resumes.
    /// `expected_size` (the length, and who says so, e.g. "the description
    /// says size = 1000") refuses a file of the wrong length early,
    /// deleting `part`.
    pub fn fetch(
        &self,
        url: &str,
        part: &Path,
        expected_size: Option<(u64, &str)>,
        label: &str,
        fix_hint: &str,
    ) -> Result<Fetched> {
        let bar = self.progress_bar(label);
        let mut resumed = false;
        let mut failures = 0u32;
        let last_error = loop {
            let before = file_len(part);
            match self.attempt(url, part, expected_size, &bar, &mut resumed, fix_hint) {
                Ok(()) => {
                    bar.finish_and_clear();
                    return Ok(Fetched { resumed });
                }
                Err(Attempt::Fatal(err)) => {
                    bar.abandon();
                    return Err(err);
                }
                Err(Attempt::Retry(why)) => {
                    // Progress (more bytes kept than before) earns a fresh
                    // set of attempts: a slow but moving link finishes.
                    if file_len(part) > before {
                        failures = 0;
                    }
                    failures += 1;
                    if failures >= self.attempts {
                        break why;
                    }
                    let wait = self
                        .backoff
                        .saturating_mul(1u32 << (failures - 1).min(16))
                        .min(self.max_backoff);
                    bar.set_message(format!("{label}: retrying after {why}"));
                    std::thread::sleep(wait);
                }
            }
        };
        bar.abandon();
        let kept = file_len(part);
        Err(Error::infra(format!(
            "download of {url} failed after {} attempts in a row: {last_error}; {}check the \
             network or the server and run again",
            self.attempts,
            if kept > 0 {
                format!("{kept} bytes are kept in the cache and the next run resumes from there; ")
            } else {
                String::new()
            }
        )))
    }

    fn progress_bar(&self, label: &str) -> ProgressBar {
        let target = if self.progress && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(label.to_owned());
        bar
    }

    /// One request: ask for what `part` lacks and append what arrives.
    fn attempt(
        &self,
        url: &str,
        part: &Path,
        expected_size: Option<(u64, &str)>,
        bar: &ProgressBar,
        resumed: &mut bool,
        fix_hint: &str,
    ) -> std::result::Result<(), Attempt> {
        let have = file_len(part);
        let mut request = self.client.get(url);
        if have > 0 {
            request = request.header(RANGE, format!("bytes={have}-"));
        }
        let response = request.send().map_err(|e| {
            if e.is_builder() {
                Attempt::Fatal(Error::bad_input(format!(
                    "cannot request {url}: {e}; {fix_hint}"
                )))
            } else {
                Attempt::Retry(describe(&e))
            }
        })?;
        let status = response.status();
        let start = match status {
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                match content_range(&response) {
                    Some((first, _, _)) if first == have => {
                        *resumed = true;
                        have
                    }
                    // The server answered some other range: start over.
                    _ => {
                        truncate(part)?;
                        return Err(Attempt::Retry(format!(
                            "server answered a different range than bytes={have}-"
                        )));
                    }
                }
            }
            StatusCode::OK => 0,
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                // Either the part is already complete or the file shrank.
                let total = content_range_total(&response);
                if total == Some(have) {
                    return Ok(());
                }
                truncate(part)?;
                return Err(Attempt::Retry(format!(
                    "server refused to resume at byte {have}; starting over"
                )));
            }
            s if s.is_server_error()
                || s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::TOO_MANY_REQUESTS =>
            {
                return Err(Attempt::Retry(format!("HTTP {s}")));
            }
            s => {
                let what = match s.as_u16() {
                    404 | 410 => "the server does not have the file",
                    401 | 403 => "the server refuses access to the file",
                    _ => "the server rejects the request",
                };
                return Err(Attempt::Fatal(Error::infra(format!(
                    "download of {url} failed: HTTP {s}: {what} (not retried); {fix_hint}"
                ))));
            }
        };

        let total = response.content_length().map(|n| n + start);
        if let (Some(total), Some((want, why))) = (total, expected_size) {
            if total != want {
                let _ = std::fs::remove_file(part);
                return Err(Attempt::Fatal(Error::infra(format!(
                    "{url} is {total} bytes but {why}; nothing was kept; {fix_hint}"
                ))));
            }
        }
        bar.set_length(total.or(expected_size.map(|(n, _)| n)).unwrap_or(0));
        bar.set_position(start);

        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(part)
            .map_err(|e| Attempt::Fatal(Error::io(part, "cannot write download to", e)))?;
        file.set_len(start)
            .and_then(|_| file.seek(SeekFrom::Start(start)).map(drop))
            .map_err(|e| Attempt::Fatal(Error::io(part, "cannot write download to", e)))?;
        let received = copy_body(response, &mut file, bar, part)?;
        file.sync_all()
            .map_err(|e| Attempt::Fatal(Error::io(part, "cannot write download to", e)))?;
        let end = start + received;
        if let Some((want, why)) = expected_size {
            if end > want {
                let _ = std::fs::remove_file(part);
                return Err(Attempt::Fatal(Error::infra(format!(
                    "{url} sent more than {want} bytes, but {why}; nothing was kept; {fix_hint}"
                ))));
            }
        }
        match total {
            Some(total) if end < total => Err(Attempt::Retry(format!(
                "connection closed after {end} of {total} bytes"
            ))),
            _ => Ok(()),
        }
    }
}

/// Appends the body to `file`; a read error keeps what was written and asks
/// for a retry, which will resume after it.
fn copy_body(
    mut response: Response,
    file: &mut File,
    bar: &ProgressBar,
    part: &Path,
) -> std::result::Result<u64, Attempt> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0u64;
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = file.flush();
                return Err(Attempt::Retry(format!(
                    "transfer broke off after {received} more bytes: {}",
                    io_reason(&e)
                )));
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| Attempt::Fatal(Error::io(part, "cannot write download to", e)))?;
        received += n as u64;
        bar.inc(n as u64);
    }
}

fn io_reason(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
        format!("timed out waiting for data ({e})")
    } else {
        e.to_string()
    }
}

/// A short reason for a failed request, with the underlying cause.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// `Content-Range: bytes first-last/total` → (first, last, total).
fn content_range(response: &Response) -> Option<(u64, u64, Option<u64>)> {
    parse_content_range(response.headers().get(CONTENT_RANGE)?.to_str().ok()?)
}

fn content_range_total(response: &Response) -> Option<u64> {
    let v = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    v.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?, total))
}

fn truncate(part: &Path) -> std::result::Result<(), Attempt> {
    match std::fs::remove_file(part) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Attempt::Fatal(Error::io(
            part,
            "cannot remove partial download",
            e,
        ))),
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// What a download must be, and what to tell the user when it is not.
pub(crate) struct Expected<'a> {
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: &'a str,
    /// Its length, and who says so (for the message when it differs).
    pub size: Option<(u64, &'a str)>,
    /// What to do when the server does not deliver (a 404, say).
    pub fix_hint: &'a str,
    /// What to do when the bytes do not match the hash.
    pub mismatch_hint: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, 199, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, 9, None)));
        assert_eq!(parse_content_range("items 0-9/10"), None);
        assert_eq!(parse_content_range("bytes x-9/10"), None);
    }
}
