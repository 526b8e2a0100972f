//! Lookup tables (`torch.nn.modules.sparse`): [`Embedding`] and
//! [`EmbeddingBag`], which reduces each bag of looked-up vectors to one
//! (its record, [`EmbeddingBagRecord`], traces it as one
//! `aten::embedding_bag` op).

mod embedding;
mod embedding_bag;

pub use embedding::Embedding;
pub use embedding_bag::{BagMode, EmbeddingBag, EmbeddingBagRecord};
