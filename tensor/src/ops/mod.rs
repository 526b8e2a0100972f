//! Tensor ops, one file per family: each holds the public methods, their
//! kernels and their unit tests.

mod binary;
mod conv;
mod index;
mod inplace;
mod matmul;
mod norm;
mod optim;
mod pool;
pub(crate) mod reduce;
mod rnn;
mod rnn_cell;
mod rnn_padded;
mod softmax;
mod unary;

pub use binary::Operand;
pub use norm::BatchNormStats;
pub use optim::{AdamStep, SgdStep};
pub use pool::MaxPool2dWindow;
pub use rnn::{lstm_sequence, lstm_sequence_backward, LstmSequence, LstmSequenceGrads, LstmTrace};
pub use rnn_padded::lstm_sequence_padded;
