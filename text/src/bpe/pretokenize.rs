//! Byte-level building blocks: GPT-2's printable byte alphabet and its
//! pre-tokenizer (how text is cut into chunks that merges never cross).

/// GPT-2's `bytes_to_unicode`: byte `b` as a printable character. The 188
/// printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for
/// themselves; the others (control bytes, space, ...) map to U+0100 and up,
/// in byte order, so space is `Ġ` and newline `Ċ`, as in GPT-2's files.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let code = if printable(b) {
            b
        } else {
            next += 1;
            next - 1
        };
        table[b as usize] = char::from_u32(code).expect("U+0000..U+0143 are scalar values");
    }
    table
}

/// The character class the pre-tokenizer groups runs of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Number
    } else {
        Class::Other
    }
}

/// Cuts `text` into the chunks BPE works within, following GPT-2's pattern
/// `` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`` (without its
/// English contraction rules): a run of letters, of digits or of other
/// symbols, each with at most one leading space, and runs of white space,
/// of which the last space before a word joins the word. The chunks
/// partition the text: concatenated, they give it back exactly.
pub(crate) fn pre_tokenize(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |k: usize| chars.get(k).map_or(text.len(), |&(i, _)| i);
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let (start, c) = chars[k];
        let mut j = k;
        let run_class = if c == ' '
            && chars
                .get(k + 1)
                .is_some_and(|&(_, n)| class(n) != Class::Space)
        {
            j += 1; // the space leads the word that follows it
            class(chars[j].1)
        } else {
            class(c)
        };
        while j < chars.len() && class(chars[j].1) == run_class {
            j += 1;
        }
        if run_class == Class::Space && j < chars.len() && j - k >= 2 {
            j -= 1; // `\s+(?!\S)`: leave the last white space to the word
        }
        out.push(&text[start..end_of(j)]);
        k = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_gpt2s() {
        let t = byte_to_char_table();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[0xad], 'Ń'); // soft hyphen, the last non-printable
        let distinct: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert!(t.iter().all(|c| !c.is_whitespace()));
    }

    #[test]
    fn chunks_follow_gpt2() {
        assert_eq!(
            pre_tokenize("Hello world, it's 2024!!  ok\n\nbye "),
            [
                "Hello", " world", ",", " it", "'", "s", " 2024", "!!", " ", " ok", "\n", "\n",
                "bye", " "
            ]
        );
        assert_eq!(pre_tokenize("a \n b"), ["a", " \n", " b"]);
        assert_eq!(pre_tokenize("\tx"), ["\t", "x"]);
        assert_eq!(pre_tokenize("東京 café"), ["東京", " café"]);
        assert!(pre_tokenize("").is_empty());
    }
}
