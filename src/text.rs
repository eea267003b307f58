//! Byte-text helpers for the small files drinit reads (/proc, cgroup files) and the sd_notify
//! datagrams it receives. Every parse is made of these few functions (size budget).

/// A cursor over `sep`-separated fields of a text.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    /// The text up to the next `sep` (all of it when there is none); the cursor moves past it.
    #[inline(never)]
    pub fn next(&mut self, sep: u8) -> &'a [u8] {
        let text = self.0;
        let at = text.iter().position(|&c| c == sep).unwrap_or(text.len());
        self.0 = text.get(at + 1..).unwrap_or(&[]);
        text.get(..at).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether the comma-separated `list` has `item`.
pub fn has_item(list: &[u8], item: &[u8]) -> bool {
    let mut items = Fields(list);
    while !items.is_empty() {
        if items.next(b',') == item {
            return true;
        }
    }
    false
}

/// `parts` one after the other in `buf`, NUL-terminated; cut to fit. Returns the length
/// before the NUL.
#[inline(never)]
pub fn join(buf: &mut [u8], parts: &[&[u8]]) -> usize {
    let mut len = 0;
    for &b in parts.iter().flat_map(|part| part.iter()) {
        if len + 1 < buf.len() {
            if let Some(slot) = buf.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    }
    if let Some(end) = buf.get_mut(len) {
        *end = 0;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_like_split() {
        for text in [&b""[..], b"a", b"a b", b" a  b ", b"abc def\n"] {
            let mut fields = Fields(text);
            let mut got = Vec::new();
            while !fields.is_empty() {
                got.push(fields.next(b' ').to_vec());
            }
            let mut want: Vec<Vec<u8>> = text.split(|&c| c == b' ').map(<[u8]>::to_vec).collect();
            // A trailing separator leaves nothing more to read, not one empty field.
            if text.last() == Some(&b' ') || text.is_empty() {
                want.pop();
            }
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(text));
        }
        assert!(has_item(b"rw,memory", b"memory"));
        assert!(!has_item(b"rw,memoryx", b"memory"));
        assert!(!has_item(b"", b"memory"));
    }

    #[test]
    fn join_cuts_to_fit_and_terminates() {
        let mut buf = [0xffu8; 8];
        join(&mut buf, &[b"abc", b"defgh"]);
        assert_eq!(&buf, b"abcdefg\0");
        join(&mut buf, &[b"", b"x"]);
        assert_eq!(&buf[..2], b"x\0");
    }
}
