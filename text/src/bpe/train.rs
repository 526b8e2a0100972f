//! Learning the merges of a byte-level BPE from a corpus.

use std::collections::{BTreeSet, HashMap};

use super::pretokenize::pre_tokenize;

type Pair = (usize, usize);

/// What training produced: the merges in order and each token's bytes
/// (ids 0..256 are the bytes themselves).
pub(crate) struct Learned {
    pub(crate) merges: Vec<Pair>,
    pub(crate) tokens: Vec<Vec<u8>>,
}

/// Learns merges until the vocabulary holds `vocab_size` tokens or no
/// adjacent pair occurs `min_frequency` times.
///
/// Each step merges the most frequent adjacent pair (counted over the
/// distinct pre-tokenized chunks, weighted by how often each chunk occurs);
/// ties go to the pair whose left token's bytes, then right token's bytes,
/// sort first. A merge whose result already exists as a token (`a`+`bc`
/// after `ab`+`c`) reuses that token's id, so ids and byte strings stay
/// one-to-one.
pub(crate) fn learn<S: AsRef<str>>(
    texts: impl IntoIterator<Item = S>,
    vocab_size: usize,
    min_frequency: u64,
) -> Learned {
    let mut chunk_counts: HashMap<String, u64> = HashMap::new();
    for text in texts {
        for chunk in pre_tokenize(text.as_ref()) {
            if let Some(c) = chunk_counts.get_mut(chunk) {
                *c += 1;
            } else {
                chunk_counts.insert(chunk.to_string(), 1);
            }
        }
    }
    // Sorted, so that nothing below depends on hash order.
    let mut chunks: Vec<(String, u64)> = chunk_counts.into_iter().collect();
    chunks.sort_unstable();
    let mut words: Vec<(Vec<usize>, u64)> = chunks
        .into_iter()
        .map(|(s, n)| (s.bytes().map(usize::from).collect(), n))
        .collect();

    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let mut by_bytes: HashMap<Vec<u8>, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i))
        .collect();
    let mut merges = Vec::new();

    let mut counts: HashMap<Pair, u64> = HashMap::new();
    let mut places: HashMap<Pair, BTreeSet<usize>> = HashMap::new();
    for (w, (symbols, n)) in words.iter().enumerate() {
        for pair in symbols.windows(2) {
            *counts.entry((pair[0], pair[1])).or_default() += n;
            places.entry((pair[0], pair[1])).or_default().insert(w);
        }
    }

    while tokens.len() < vocab_size {
        let best = counts
            .iter()
            .filter(|(_, &n)| n >= min_frequency.max(1))
            .max_by(|(a, na), (b, nb)| {
                na.cmp(nb)
                    .then_with(|| tokens[b.0].cmp(&tokens[a.0]))
                    .then_with(|| tokens[b.1].cmp(&tokens[a.1]))
            })
            .map(|(&pair, _)| pair);
        let Some(pair) = best else { break };
        let bytes = [tokens[pair.0].as_slice(), tokens[pair.1].as_slice()].concat();
        let new_id = *by_bytes.entry(bytes.clone()).or_insert_with(|| {
            tokens.push(bytes);
            tokens.len() - 1
        });
        merges.push(pair);
        for w in places.remove(&pair).unwrap_or_default() {
            let (symbols, n) = &mut words[w];
            if !symbols.windows(2).any(|p| (p[0], p[1]) == pair) {
                continue; // a stale entry: an earlier merge consumed the pair
            }
            for p in symbols.windows(2) {
                let key = (p[0], p[1]);
                if let Some(c) = counts.get_mut(&key) {
                    *c -= *n;
                    if *c == 0 {
                        counts.remove(&key);
                    }
                }
            }
            *symbols = merge_pair(symbols, pair, new_id);
            for p in symbols.windows(2) {
                *counts.entry((p[0], p[1])).or_default() += *n;
                places.entry((p[0], p[1])).or_default().insert(w);
            }
        }
        counts.remove(&pair);
    }
    Learned { merges, tokens }
}

/// `symbols` with every occurrence of `pair`, left to right and without
/// overlap, replaced by `new_id`.
pub(crate) fn merge_pair(symbols: &[usize], pair: Pair, new_id: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        if i + 1 < symbols.len() && (symbols[i], symbols[i + 1]) == pair {
            out.push(new_id);
            i += 2;
        } else {
            out.push(symbols[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_most_frequent_pair_first() {
        // Chunks "aaa" and " aa": (a, a) occurs 3 times, (" ", a) once.
        let learned = learn(["aaa aa"], 258, 1);
        assert_eq!(learned.tokens[256], b"aa");
        // Then (aa, a) and (" ", aa) tie at 1: " " sorts before "aa".
        assert_eq!(learned.tokens[257], b" aa");
        assert_eq!(learned.merges, [(97, 97), (32, 256)]);
    }

    #[test]
    fn ties_break_by_bytes() {
        // Chunks "xy", "\n", "ab": (x, y) and (a, b) both occur once.
        let learned = learn(["xy\nab"], 257, 1);
        assert_eq!(learned.tokens[256], b"ab");
    }

    #[test]
    fn stops_below_min_frequency() {
        let learned = learn(["abc"], 1000, 2);
        assert!(learned.merges.is_empty());
        let learned = learn(["abc"], 1000, 1);
        assert_eq!(learned.tokens.last().unwrap(), b"abc");
        assert_eq!(learned.tokens.len(), 258);
    }

    #[test]
    fn merge_pair_is_left_to_right() {
        assert_eq!(merge_pair(&[1, 1, 1, 2, 1, 1], (1, 1), 9), [9, 1, 2, 9]);
    }
}
