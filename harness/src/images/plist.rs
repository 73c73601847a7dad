//! XML property lists, as xbps writes them (`props.plist`, `index.plist`).
//!
//! Void's package manager keeps every piece of metadata in Apple-style XML
//! property lists (through its `proplib`): a package's `props.plist`, a
//! repository's `index.plist` and `index-meta.plist`. The harness reads
//! those itself, so this is a small reader for exactly that dialect: the
//! `<?xml?>` declaration, the Apple `<!DOCTYPE>`, comments, a `<plist>`
//! root, and `dict`/`key`/`string`/`integer`/`real`/`true`/`false`/
//! `array`/`data` (base64)/`date`, with the five predefined XML entities
//! and numeric character references. Anything else is an error that says
//! where it is (line and column), because a half-understood index could
//! pick the wrong package.
//!
//! Pure: bytes in, a [`Value`] or a [`PlistError`] out.

use std::collections::BTreeMap;
use std::fmt;

/// One property-list value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<dict>`: keys in sorted order (proplib does not keep order either).
    Dict(BTreeMap<String, Value>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<string>`, with entities resolved.
    String(String),
    /// `<integer>`: decimal, or hexadecimal with `0x` (proplib writes
    /// unsigned 64-bit numbers that way), so wide enough for both.
    Integer(i128),
    /// `<real>`.
    Real(f64),
    /// `<true/>` or `<false/>`.
    Bool(bool),
    /// `<data>`: base64-decoded bytes (a repository's public key).
    Data(Vec<u8>),
    /// `<date>`, as written (ISO 8601); nothing here computes with dates.
    Date(String),
}

impl Value {
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The entry `key` of a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?.get(key)
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an integer.
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The bytes, if this is data.
    pub fn as_data(&self) -> Option<&[u8]> {
        match self {
            Value::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The flag, if this is `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Why a property list could not be read, and where (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlistError {
    /// Line of the offending byte.
    pub line: usize,
    /// Column (in bytes) of the offending byte.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for PlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for PlistError {}

/// Parses a whole property list: optional declaration, DOCTYPE and
/// comments, then either `<plist>` holding one value, or one bare value.
pub fn parse(text: &[u8]) -> Result<Value, PlistError> {
    let mut p = Parser { text, pos: 0 };
    p.skip_misc()?;
    let value = if p.text[p.pos..].starts_with(b"<plist") {
        let start = p.pos;
        let tag = p.tag()?;
        if tag.name != "plist" || tag.kind != TagKind::Open {
            return Err(p.error_at(start, "expected `<plist ...>`"));
        }
        p.skip_misc()?;
        let v = p.value()?;
        p.skip_misc()?;
        p.close("plist")?;
        v
    } else {
        p.value()?
    };
    p.skip_misc()?;
    if p.pos < p.text.len() {
        return Err(p.error("unexpected content after the property list"));
    }
    Ok(value)
}

#[derive(Debug, PartialEq, Eq)]
enum TagKind {
    /// `<name ...>`
    Open,
    /// `</name>`
    Close,
    /// `<name ... />`
    Empty,
}

struct Tag {
    name: String,
    kind: TagKind,
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> PlistError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> PlistError {
        let before = &self.text[..pos.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        PlistError {
            line,
            column,
            message: message.into(),
        }
    }

    fn rest(&self) -> &[u8] {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    /// Skips whitespace, the XML declaration, DOCTYPE and comments.
    fn skip_misc(&mut self) -> Result<(), PlistError> {
        loop {
            self.skip_space();
            let (open, close): (&[u8], &[u8]) = if self.rest().starts_with(b"<?") {
                (b"<?", b"?>")
            } else if self.rest().starts_with(b"<!--") {
                (b"<!--", b"-->")
            } else if self.rest().starts_with(b"<!DOCTYPE") {
                (b"<!DOCTYPE", b">")
            } else {
                return Ok(());
            };
            let start = self.pos;
            let body = &self.text[start + open.len()..];
            let Some(end) = find(body, close) else {
                return Err(self.error_at(
                    start,
                    format!(
                        "`{}` is never closed with `{}`",
                        String::from_utf8_lossy(open),
                        String::from_utf8_lossy(close)
                    ),
                ));
            };
            self.pos = start + open.len() + end + close.len();
        }
    }

    /// Reads one tag at the current position (after whitespace).
    fn tag(&mut self) -> Result<Tag, PlistError> {
        self.skip_space();
        let start = self.pos;
        if !self.rest().starts_with(b"<") {
            return Err(self.error("expected a tag"));
        }
        if self.rest().starts_with(b"<![CDATA[") {
            return Err(self.error("CDATA sections are not used by property lists"));
        }
        let Some(end) = self.rest().iter().position(|&b| b == b'>') else {
            return Err(self.error("a tag is never closed with `>`"));
        };
        let inner = &self.text[start + 1..start + end];
        self.pos = start + end + 1;
        let (kind, inner) = if let Some(i) = inner.strip_prefix(b"/") {
            (TagKind::Close, i)
        } else if let Some(i) = inner.strip_suffix(b"/") {
            (TagKind::Empty, i)
        } else {
            (TagKind::Open, inner)
        };
        let name_len = inner
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(inner.len());
        let name = std::str::from_utf8(&inner[..name_len])
            .ok()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| self.error_at(start, "malformed tag"))?;
        if kind == TagKind::Close && name_len != inner.len() {
            return Err(self.error_at(start, format!("malformed closing tag `</{name}>`")));
        }
        Ok(Tag {
            name: name.to_owned(),
            kind,
        })
    }

    /// Expects `</name>` (whitespace and comments before it allowed).
    fn close(&mut self, name: &str) -> Result<(), PlistError> {
        self.skip_misc()?;
        let start = self.pos;
        let tag = self.tag()?;
        if tag.kind == TagKind::Close && tag.name == name {
            Ok(())
        } else {
            Err(self.error_at(start, format!("expected `</{name}>`")))
        }
    }

    /// The text up to the next `<`, entities resolved.
    fn text_content(&mut self) -> Result<String, PlistError> {
        let start = self.pos;
        let len = self
            .rest()
            .iter()
            .position(|&b| b == b'<')
            .unwrap_or(self.rest().len());
        self.pos += len;
        let raw = &self.text[start..start + len];
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] != b'&' {
                out.push(raw[i]);
                i += 1;
                continue;
            }
            let Some(semi) = raw[i..].iter().position(|&b| b == b';') else {
                return Err(self.error_at(start + i, "`&` without a closing `;`"));
            };
            let name = &raw[i + 1..i + semi];
            let ch = match name {
                b"amp" => Some('&'),
                b"lt" => Some('<'),
                b"gt" => Some('>'),
                b"quot" => Some('"'),
                b"apos" => Some('\''),
                _ => {
                    let num = std::str::from_utf8(name).ok();
                    let code = match num {
                        Some(n) if n.starts_with("#x") || n.starts_with("#X") => {
                            u32::from_str_radix(&n[2..], 16).ok()
                        }
                        Some(n) if n.starts_with('#') => n[1..].parse().ok(),
                        _ => None,
                    };
                    code.and_then(char::from_u32)
                }
            };
            let Some(ch) = ch else {
                return Err(self.error_at(
                    start + i,
                    format!("unknown entity `&{};`", String::from_utf8_lossy(name)),
                ));
            };
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            i += semi + 1;
        }
        String::from_utf8(out).map_err(|_| self.error_at(start, "text is not UTF-8"))
    }

    /// `<name>text</name>` after the opening tag, or "" for `<name/>`.
    fn leaf_text(&mut self, tag: &Tag) -> Result<String, PlistError> {
        if tag.kind == TagKind::Empty {
            return Ok(String::new());
        }
        let text = self.text_content()?;
        let start = self.pos;
        let close = self.tag()?;
        if close.kind != TagKind::Close || close.name != tag.name {
            return Err(self.error_at(start, format!("expected `</{}>`", tag.name)));
        }
        Ok(text)
    }

    fn value(&mut self) -> Result<Value, PlistError> {
        self.skip_misc()?;
        let start = self.pos;
        let tag = self.tag()?;
        if tag.kind == TagKind::Close {
            return Err(self.error_at(start, format!("unexpected `</{}>`", tag.name)));
        }
        match tag.name.as_str() {
            "dict" => self.dict(&tag),
            "array" => {
                let mut items = Vec::new();
                if tag.kind == TagKind::Open {
                    while !self.at_close()? {
                        items.push(self.value()?);
                    }
                    self.close("array")?;
                }
                Ok(Value::Array(items))
            }
            "true" | "false" => {
                let b = tag.name == "true";
                if tag.kind == TagKind::Open {
                    self.close(&tag.name)?;
                }
                Ok(Value::Bool(b))
            }
            "string" => self.leaf_text(&tag).map(Value::String),
            "date" => self
                .leaf_text(&tag)
                .map(|t| Value::Date(t.trim().to_owned())),
            "integer" => {
                let text = self.leaf_text(&tag)?;
                parse_integer(text.trim())
                    .map(Value::Integer)
                    .ok_or_else(|| {
                        self.error_at(start, format!("`{}` is not an integer", text.trim()))
                    })
            }
            "real" => {
                let text = self.leaf_text(&tag)?;
                text.trim().parse().map(Value::Real).map_err(|_| {
                    self.error_at(start, format!("`{}` is not a real number", text.trim()))
                })
            }
            "data" => {
                let text = self.leaf_text(&tag)?;
                base64_decode(&text)
                    .map(Value::Data)
                    .ok_or_else(|| self.error_at(start, "`data` is not valid base64"))
            }
            other => Err(self.error_at(start, format!("unknown element `<{other}>`"))),
        }
    }

    fn dict(&mut self, tag: &Tag) -> Result<Value, PlistError> {
        let mut map = BTreeMap::new();
        if tag.kind == TagKind::Empty {
            return Ok(Value::Dict(map));
        }
        while !self.at_close()? {
            let start = self.pos;
            let key_tag = self.tag()?;
            if key_tag.name != "key" || key_tag.kind == TagKind::Close {
                return Err(self.error_at(
                    start,
                    format!("expected `<key>` in a dict, found `<{}>`", key_tag.name),
                ));
            }
            let key = self.leaf_text(&key_tag)?;
            let value = self.value()?;
            if map.insert(key.clone(), value).is_some() {
                return Err(self.error_at(start, format!("key `{key}` appears twice in one dict")));
            }
        }
        self.close("dict")?;
        Ok(Value::Dict(map))
    }

    /// True when the next tag is a closing one (not consumed).
    fn at_close(&mut self) -> Result<bool, PlistError> {
        self.skip_misc()?;
        if self.pos >= self.text.len() {
            return Err(self.error("unexpected end of the property list"));
        }
        Ok(self.rest().starts_with(b"</"))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decimal (optionally signed) or `0x` hexadecimal.
fn parse_integer(t: &str) -> Option<i128> {
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).ok()
    } else {
        t.parse().ok()
    }
}

/// Standard base64 with padding; whitespace anywhere is ignored (proplib
/// wraps long data in lines).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    let mut padding = 0;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return None,
        };
        if padding > 0 {
            return None; // data after padding
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits must be padding zeros of a whole 4-character group.
    (padding <= 2 && bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple Computer//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>architecture</key>
	<string>ppc64le</string>
	<key>installed_size</key>
	<integer>123456789</integer>
	<key>pkgver</key>
	<string>linux6.1-6.1.99_1</string>
	<key>preserve</key>
	<true/>
	<key>run_depends</key>
	<array>
		<string>kmod&gt;=27_1</string>
		<string>mkinitcpio</string>
	</array>
	<key>short_desc</key>
	<string>Linux kernel &amp; modules (6.1 series) &#8212; &#x41;&apos;&quot;&lt;</string>
	<!-- a comment -->
	<key>public-key</key>
	<data>LS0tLS1CRUdJTiBQVUJMSUMg
S0VZLS0tLS0K</data>
	<key>empty</key>
	<string/>
	<key>nested</key>
	<dict>
		<key>hex</key>
		<integer>0x1f</integer>
		<key>neg</key>
		<integer>-3</integer>
		<key>r</key>
		<real>1.5</real>
		<key>when</key>
		<date>2024-07-01T12:00:00Z</date>
		<key>off</key>
		<false/>
	</dict>
	<key>none</key>
	<array/>
</dict>
</plist>
"#;

    #[test]
    fn reads_what_xbps_writes() {
        let v = parse(PROPS.as_bytes()).unwrap();
        assert_eq!(
            v.get("architecture").and_then(Value::as_str),
            Some("ppc64le")
        );
        assert_eq!(
            v.get("installed_size").and_then(Value::as_integer),
            Some(123456789)
        );
        assert_eq!(v.get("preserve").and_then(Value::as_bool), Some(true));
        let deps: Vec<&str> = v
            .get("run_depends")
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(deps, ["kmod>=27_1", "mkinitcpio"]);
        assert_eq!(
            v.get("short_desc").and_then(Value::as_str),
            Some("Linux kernel & modules (6.1 series) \u{2014} A'\"<")
        );
        assert_eq!(
            v.get("public-key").and_then(Value::as_data),
            Some(&b"-----BEGIN PUBLIC KEY-----\n"[..])
        );
        assert_eq!(v.get("empty").and_then(Value::as_str), Some(""));
        let n = v.get("nested").unwrap();
        assert_eq!(n.get("hex"), Some(&Value::Integer(31)));
        assert_eq!(n.get("neg"), Some(&Value::Integer(-3)));
        assert_eq!(n.get("r"), Some(&Value::Real(1.5)));
        assert_eq!(
            n.get("when"),
            Some(&Value::Date("2024-07-01T12:00:00Z".into()))
        );
        assert_eq!(n.get("off"), Some(&Value::Bool(false)));
        assert_eq!(v.get("none"), Some(&Value::Array(vec![])));
    }

    #[test]
    fn an_empty_dict_and_a_bare_value() {
        assert_eq!(
            parse(b"<plist version=\"1.0\"><dict/></plist>").unwrap(),
            Value::Dict(BTreeMap::new())
        );
        assert_eq!(
            parse(b"  <string>x</string>\n").unwrap(),
            Value::String("x".into())
        );
    }

    fn err(text: &str) -> PlistError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_say_where() {
        let e = err("<plist>\n<dict>\n  <key>a</key>\n  <strin>x</strin>\n</dict></plist>");
        assert_eq!((e.line, e.column), (4, 3), "{e}");
        assert!(e.message.contains("unknown element `<strin>`"), "{e}");

        let e = err("<dict>\n<key>a</key><string>x &bogus; y</string></dict>");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("&bogus;"), "{e}");

        let e = err("<dict><key>a</key><integer>12x</integer></dict>");
        assert!(e.message.contains("`12x` is not an integer"), "{e}");

        let e = err("<dict><key>a</key><string>x</string>");
        assert!(e.message.contains("unexpected end"), "{e}");

        let e = err("<dict><string>x</string></dict>");
        assert!(e.message.contains("expected `<key>`"), "{e}");

        let e = err("<dict><key>a</key><true/><key>a</key><false/></dict>");
        assert!(e.message.contains("appears twice"), "{e}");

        let e = err("<data>@@@@</data>");
        assert!(e.message.contains("base64"), "{e}");

        let e = err("<string>x</string><string>y</string>");
        assert!(e.message.contains("after the property list"), "{e}");

        let e = err("<!-- never closed");
        assert!(e.message.contains("never closed"), "{e}");

        let e = err("<string>x</data>");
        assert!(e.message.contains("expected `</string>`"), "{e}");
    }

    #[test]
    fn base64_forms() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode(" Zm9v\n YmFy ").unwrap(), b"foobar");
        assert_eq!(base64_decode("Zm9v=Zg"), None);
        assert_eq!(base64_decode("Zh=="), None, "non-zero leftover bits");
    }
}
