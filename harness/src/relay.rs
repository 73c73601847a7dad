//! Values carried over a console line: how a bootmatrix running inside an
//! emulated host tells the bootmatrix outside what happens, as it happens.
//!
//! The console of an emulated host is a serial line shared with that host's
//! kernel, which may cut into any line. Each value therefore travels as one
//! framed line, `BOOTMATRIX-RELAY <length> <checksum> <json>`: the length
//! and the first 16 hex digits of the SHA-256 of the JSON. A line that
//! does not check out is reported as damaged, never guessed at.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The word that starts every relayed line.
pub const TAG: &str = "BOOTMATRIX-RELAY";

/// The plain line that closes a relayed stream from outside the relaying
/// program (an emulated host's init prints it once its run is over, even
/// when the run died before saying so itself).
pub const CLOSED: &str = "BOOTMATRIX-L1-DONE";

/// What a console line holds, for the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed<T> {
    /// A value, intact.
    Value(T),
    /// A relay line whose length, checksum or JSON is wrong.
    Damaged(String),
}

fn checksum(json: &str) -> String {
    Sha256::digest(json.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The line that carries `value` (without a newline).
pub fn encode<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("relayed values serialize");
    format!("{TAG} {} {} {json}", json.len(), checksum(&json))
}

/// What `line` carries, if it is a relay line at all. The tag may follow
/// other output on the same line (a kernel message without its newline).
pub fn decode<T: DeserializeOwned>(line: &str) -> Option<Relayed<T>> {
    let at = line.find(TAG)?;
    let rest = line[at + TAG.len()..].trim_start();
    let damaged = || Some(Relayed::Damaged(line.trim_end().to_string()));
    let Some((len, rest)) = rest.split_once(' ') else {
        return damaged();
    };
    let Some((sum, rest)) = rest.split_once(' ') else {
        return damaged();
    };
    let json = rest.trim_end_matches(['\r', '\n']);
    let Ok(len) = len.parse::<usize>() else {
        return damaged();
    };
    if json.len() != len || checksum(json) != sum {
        return damaged();
    }
    match serde_json::from_str(json) {
        Ok(v) => Some(Relayed::Value(v)),
        Err(_) => damaged(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
    struct Msg {
        cell: String,
        lines: Vec<String>,
    }

    fn msg() -> Msg {
        Msg {
            cell: "hpt-4k-host/kvm-hv/hpt-guest/4k".into(),
            lines: vec!["a line with spaces, \"quotes\" and BOOTMATRIX-RELAY inside".into()],
        }
    }

    #[test]
    fn a_value_survives_the_trip_even_after_other_output() {
        let line = encode(&msg());
        assert_eq!(decode::<Msg>(&line), Some(Relayed::Value(msg())));
        let noisy = format!("[   12.5] kvm: something{line}\r");
        assert_eq!(decode::<Msg>(&noisy), Some(Relayed::Value(msg())));
        assert_eq!(decode::<Msg>("an ordinary console line"), None);
    }

    #[test]
    fn a_cut_or_changed_line_is_damaged_not_guessed() {
        let line = encode(&msg());
        let cut = &line[..line.len() - 5];
        assert!(matches!(decode::<Msg>(cut), Some(Relayed::Damaged(_))));
        let changed = line.replace("hpt-guest", "hpt-gu3st");
        assert!(matches!(decode::<Msg>(&changed), Some(Relayed::Damaged(_))));
        let mid = line.len() / 2;
        let interleaved = format!("{}[  3.1] printk{}", &line[..mid], &line[mid..]);
        assert!(matches!(
            decode::<Msg>(&interleaved),
            Some(Relayed::Damaged(_))
        ));
        assert!(matches!(
            decode::<Msg>(&format!("{TAG} x y {{}}")),
            Some(Relayed::Damaged(_))
        ));
    }
}
