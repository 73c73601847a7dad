//! A small HTTP/1.1 file server for tests, with scripted faults.
//!
//! The fetcher's promises (resume after a drop, retry 5xx and stalls, never
//! retry 404) can only be checked against a server that misbehaves on cue and
//! records what it was asked. Each path serves fixed bytes; a per-path script
//! of [`Fault`]s decides how the next requests go, after which it serves
//! honestly (honouring `Range: bytes=N-`). One connection carries one request.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer properly: 200, or 206 for a `Range` request.
    Serve,
    /// Announce the full length, send only this many body bytes, hang up.
    DropAfter(usize),
    /// Answer with this status and a short body.
    Status(u16),
    /// Read the request, then say nothing for this long, then hang up.
    StallBeforeHead(Duration),
    /// Send the head and this many body bytes, then go silent for the duration.
    StallMidBody(usize, Duration),
    /// Send the whole file with one byte changed.
    Corrupt,
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request path, e.g. `/busybox.deb`.
    pub path: String,
    /// The `Range` header, if the client sent one.
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    scripts: HashMap<String, VecDeque<Fault>>,
    log: Vec<Request>,
}

/// A running server on 127.0.0.1 (an ephemeral port); it lives until the
/// test process ends.
pub struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    /// Starts listening on an ephemeral port of 127.0.0.1.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                thread::spawn(move || handle(stream, &state));
            }
        });
        Server { port, state }
    }

    /// Serves `bytes` at `path`.
    pub fn serve(&self, path: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_owned(), bytes);
    }

    /// Makes the next requests for `path` go as `faults` say, in order.
    pub fn script(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_owned(), faults.into_iter().collect());
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests received so far for `path`, oldest first.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_owned());
            }
        }
    }
    let (file, fault) = {
        let mut st = state.lock().unwrap();
        st.log.push(Request {
            path: path.clone(),
            range: range.clone(),
        });
        let fault = st
            .scripts
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Fault::Serve);
        (st.files.get(&path).cloned(), fault)
    };
    let mut out = stream;
    let _ = respond(&mut out, file, range.as_deref(), fault);
    let _ = out.flush();
    let _ = out.shutdown(Shutdown::Both);
}

fn respond(
    out: &mut TcpStream,
    file: Option<Vec<u8>>,
    range: Option<&str>,
    fault: Fault,
) -> std::io::Result<()> {
    if let Fault::Status(code) = fault {
        return status(out, code);
    }
    if let Fault::StallBeforeHead(d) = fault {
        thread::sleep(d);
        return Ok(());
    }
    let Some(mut data) = file else {
        return status(out, 404);
    };
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let len = data.len();
    let head = match start {
        Some(s) if s >= len => {
            return write!(
                out,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        Some(s) => format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{len}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            len - 1,
            len - s
        ),
        None => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
    };
    let body_start = start.unwrap_or(0);
    if let Fault::Corrupt = fault {
        let i = len / 2;
        data[i] ^= 0xff;
    }
    let body = &data[body_start..];
    out.write_all(head.as_bytes())?;
    match fault {
        Fault::DropAfter(n) => out.write_all(&body[..n.min(body.len())]),
        Fault::StallMidBody(n, d) => {
            out.write_all(&body[..n.min(body.len())])?;
            out.flush()?;
            thread::sleep(d);
            Ok(())
        }
        _ => out.write_all(body),
    }
}

fn status(out: &mut TcpStream, code: u16) -> std::io::Result<()> {
    let body = format!("status {code}\n");
    write!(
        out,
        "HTTP/1.1 {code} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
