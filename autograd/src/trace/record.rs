//! The open side of tracing: what a trace record is ([`OpRecord`]), and the
//! per-consumer table ([`OpTable`]) that says what a consumer does for
//! each op name.
//!
//! A traced op is a stable name plus typed attributes. The crate that
//! owns an op owns its record type: autograd's ops are [`AtenOp`]s
//! (`aten::linear`, `aten::relu`), torchlet-nn's recurrent layers and
//! bags are nn's own records (`aten::lstm`, `aten::embedding_bag`). Each
//! owner lists its names (`ATEN_OPS`, `torchlet_nn::TRACED_OPS`), and a
//! consumer — the ONNX exporter now, a compiler or a quantizer next —
//! keeps one [`OpTable`] from names to what it does, reads the typed
//! record back with [`TracedOp::record`](super::TracedOp::record), and
//! checks in its tests that every listed name has an entry.
//!
//! [`AtenOp`]: super::AtenOp

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::ir::Attr;

/// The record of one traced op: its stable name and its attributes.
///
/// Names are PyTorch's where PyTorch has the op (`aten::linear`,
/// `aten::lstm`), else `torchlet::...`. [`attrs`](OpRecord::attrs) gives
/// the attributes in the IR's generic form, for printing, graphs of
/// traced ops and saving; consumers that know the op read the typed
/// record instead.
///
/// ```
/// use torchlet_autograd::ir::Attr;
/// use torchlet_autograd::trace::OpRecord;
///
/// /// `torch.roll` over one dim, as a crate outside autograd would trace it.
/// #[derive(Debug, Clone, PartialEq)]
/// struct Roll { shift: i64, dim: i64 }
///
/// impl OpRecord for Roll {
///     fn name(&self) -> &'static str { "aten::roll" }
///     fn attrs(&self) -> Vec<(&'static str, Attr)> {
///         vec![("shifts", Attr::Ints(vec![self.shift])), ("dims", Attr::Ints(vec![self.dim]))]
///     }
/// }
/// assert_eq!(Roll { shift: 1, dim: 0 }.name(), "aten::roll");
/// ```
pub trait OpRecord: Any + fmt::Debug + Send + Sync {
    /// The op's stable name.
    fn name(&self) -> &'static str;

    /// The attributes by name, in the IR's generic form.
    fn attrs(&self) -> Vec<(&'static str, Attr)>;
}

/// What [`traced`](super::traced)'s `describe` may return as the record:
/// any [`OpRecord`], or an already shared one (for ops whose record type
/// depends on how they were called).
pub trait IntoRecord {
    /// The shared record.
    fn into_record(self) -> Arc<dyn OpRecord>;
}

impl<T: OpRecord> IntoRecord for T {
    fn into_record(self) -> Arc<dyn OpRecord> {
        Arc::new(self)
    }
}

impl IntoRecord for Arc<dyn OpRecord> {
    fn into_record(self) -> Arc<dyn OpRecord> {
        self
    }
}

/// The record of an op that ran but cannot be described faithfully (a
/// layer called in a way its record does not cover): its name says what
/// it was, and no consumer has an entry for it, so an exporter refuses
/// the graph naming it instead of writing a wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untraceable(pub &'static str);

impl OpRecord for Untraceable {
    fn name(&self) -> &'static str {
        self.0
    }

    fn attrs(&self) -> Vec<(&'static str, Attr)> {
        Vec::new()
    }
}

/// One consumer's table: what it does (`T`: a lowering function, a
/// kernel, a refusal with its reason) for each op name.
///
/// ```
/// use torchlet_autograd::trace::{OpTable, ATEN_OPS};
/// let mut table: OpTable<&str> = OpTable::new("printer");
/// table.register("aten::relu", "max(x, 0)");
/// assert_eq!(table.get("aten::relu"), Some(&"max(x, 0)"));
/// assert!(table.missing(ATEN_OPS).contains(&"aten::linear"));
/// ```
pub struct OpTable<T> {
    consumer: &'static str,
    entries: HashMap<&'static str, T>,
}

impl<T> OpTable<T> {
    /// An empty table for `consumer` (named in messages).
    pub fn new(consumer: &'static str) -> OpTable<T> {
        OpTable {
            consumer,
            entries: HashMap::new(),
        }
    }

    /// Registers `entry` for `name`.
    ///
    /// # Panics
    /// When `name` already has an entry: two entries for one op is a bug
    /// in the consumer's table, found when the table is built.
    pub fn register(&mut self, name: &'static str, entry: T) {
        let consumer = self.consumer;
        assert!(
            self.entries.insert(name, entry).is_none(),
            "{consumer}: two entries for op {name}"
        );
    }

    /// Registers `entry` for every name in `names`.
    pub fn register_all(&mut self, names: &[&'static str], entry: T)
    where
        T: Clone,
    {
        for &name in names {
            self.register(name, entry.clone());
        }
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.entries.get(name)
    }

    /// The consumer's name.
    pub fn consumer(&self) -> &'static str {
        self.consumer
    }

    /// The names in `names` without an entry (for coverage tests).
    pub fn missing<'a>(&self, names: &[&'a str]) -> Vec<&'a str> {
        names
            .iter()
            .copied()
            .filter(|n| !self.entries.contains_key(n))
            .collect()
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.entries.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

impl<T> fmt::Debug for OpTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpTable")
            .field("consumer", &self.consumer)
            .field("ops", &self.names())
            .finish()
    }
}
