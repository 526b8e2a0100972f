//! nn's own trace records: each layer that traces as one op reports a
//! record whose name is in `TRACED_OPS` (the list consumers check their
//! tables against), with PyTorch's name and attributes.

use torchlet_autograd::ir::Attr;
use torchlet_autograd::trace::{trace, TracedOp, Untraceable};
use torchlet_autograd::Variable;
use torchlet_nn::{
    lengths_from_padding, BagMode, EmbeddingBag, EmbeddingBagRecord, Nonlinearity,
    PaddedLengthsRecord, RnnCell, RnnOptions, RnnRecord, GRU, LSTM, RNN, TRACED_OPS,
};
use torchlet_tensor::Tensor;

/// The one op `f` traces.
fn only_op<R>(f: impl FnOnce() -> R) -> TracedOp {
    let (_, t) = trace(f);
    assert_eq!(t.ops.len(), 1, "{:?}", t.ops);
    t.ops.into_iter().next().unwrap()
}

#[test]
fn recurrent_layers_trace_under_their_aten_names() {
    let x = Variable::constant(Tensor::rand(&[5, 2, 3]));
    let options = RnnOptions {
        num_layers: 2,
        bidirectional: true,
        ..RnnOptions::default()
    };
    let cases: Vec<(TracedOp, &str, RnnCell)> = vec![
        (
            only_op(|| RNN::new(3, 4).unwrap().forward_with_state(&x, None)),
            "aten::rnn_tanh",
            RnnCell::Tanh,
        ),
        (
            only_op(|| {
                RNN::with_options(3, 4, Nonlinearity::Relu, options)
                    .unwrap()
                    .forward_with_state(&x, None)
            }),
            "aten::rnn_relu",
            RnnCell::Relu,
        ),
        (
            only_op(|| LSTM::new(3, 4).unwrap().forward_with_state(&x, None)),
            "aten::lstm",
            RnnCell::Lstm,
        ),
        (
            only_op(|| GRU::new(3, 4).unwrap().forward_with_state(&x, None)),
            "aten::gru",
            RnnCell::Gru,
        ),
    ];
    for (op, name, cell) in cases {
        assert_eq!(op.name(), name);
        assert!(TRACED_OPS.contains(&name));
        let record = op.record::<RnnRecord>().expect("an RnnRecord");
        assert_eq!(record.cell, cell);
        assert_eq!(record.hidden_size, 4);
        assert!(!record.with_lengths);
    }
    let relu = only_op(|| {
        RNN::with_options(3, 4, Nonlinearity::Relu, options)
            .unwrap()
            .forward_with_state(&x, None)
    });
    let attrs = relu.op.attrs();
    assert!(attrs.contains(&("num_layers", Attr::Int(2))));
    assert!(attrs.contains(&("bidirectional", Attr::Int(1))));
}

#[test]
fn lengths_given_as_numbers_trace_as_untraceable() {
    let x = Variable::constant(Tensor::rand(&[5, 2, 3]));
    let lstm = LSTM::new(3, 4).unwrap();
    let op = only_op(|| lstm.forward_with_lengths(&x, &[5, 3], None));
    assert!(op.record::<Untraceable>().is_some());
    assert!(!TRACED_OPS.contains(&op.name()));
}

#[test]
fn bags_and_lengths_trace_under_their_names() {
    let tokens = Tensor::from_vec(vec![3i64, 1, 0, 2, 0, 0], &[2, 3]).unwrap();
    let bag = EmbeddingBag::with_padding(5, 2, BagMode::Max, Some(0)).unwrap();
    let op = only_op(|| bag.forward_bags(&tokens, None, None));
    assert_eq!(op.name(), "aten::embedding_bag");
    assert!(TRACED_OPS.contains(&op.name()));
    assert_eq!(
        op.record::<EmbeddingBagRecord>(),
        Some(&EmbeddingBagRecord {
            mode: BagMode::Max,
            padding_idx: Some(0)
        })
    );
    assert_eq!(
        op.op.attrs(),
        vec![("mode", Attr::Int(2)), ("padding_idx", Attr::Int(0))]
    );

    let op = only_op(|| lengths_from_padding(&tokens, 0));
    assert_eq!(op.name(), "torchlet::lengths_from_padding");
    assert!(TRACED_OPS.contains(&op.name()));
    assert_eq!(
        op.record::<PaddedLengthsRecord>(),
        Some(&PaddedLengthsRecord { pad: 0 })
    );
}
