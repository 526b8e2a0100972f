//! The course's text slide, end to end: tokenize → numericalize → embed.

use torchlet_nn::Embedding;
use torchlet_tensor::Tensor;
use torchlet_text::{basic_english, Vocab, VocabOptions};

#[test]
fn the_course_contents_are_well_organized() {
    let tokens = basic_english(" The course contents are well organized");
    assert_eq!(
        tokens,
        ["the", "course", "contents", "are", "well", "organized"]
    );

    let vocab = Vocab::build([&tokens], VocabOptions::default()).unwrap();
    // Four specials, then the six words (each seen once) alphabetically.
    assert_eq!(
        vocab.itos(),
        [
            "<unk>",
            "<pad>",
            "<bos>",
            "<eos>",
            "are",
            "contents",
            "course",
            "organized",
            "the",
            "well"
        ]
    );
    let indices = vocab.numericalize(&tokens).unwrap();
    assert_eq!(indices, [8, 6, 5, 4, 9, 7]);
    let back: Vec<usize> = indices.iter().map(|&i| i as usize).collect();
    assert_eq!(vocab.lookup_tokens(&back).unwrap(), tokens);

    let dim = 5;
    let embedding = Embedding::new(vocab.len(), dim).unwrap();
    let x = Tensor::from_vec(indices, &[6]).unwrap();
    let vectors = embedding.forward_indices(&x).unwrap();
    assert_eq!(vectors.shape(), [6, dim]);
    // Row k is the embedding table's row for token k's index.
    let table = embedding.weight().to_vec::<f32>().unwrap();
    let out = vectors.to_vec::<f32>().unwrap();
    assert_eq!(out[..dim], table[8 * dim..9 * dim]); // "the"
    assert_eq!(out[5 * dim..], table[7 * dim..8 * dim]); // "organized"
}
