//! The `Mpi` backend: one rank per MPI process, over rsmpi (Open MPI).
//!
//! MPI is initialized, used and finalized on the group's communication
//! thread (`MPI_THREAD_SERIALIZED` is asked for, so a program may also
//! call rsmpi itself between the group's calls; `FUNNELED` is the least
//! accepted), and the group's drop waits for the finalize. Collectives are
//! MPI's (`MPI_Allreduce`, `MPI_Bcast`, `MPI_Allgather(v)`,
//! `MPI_Reduce_scatter_block`, `MPI_Barrier`, `MPI_Send`/`MPI_Recv`) on
//! f32, f64 and i64 tensors. In debug and test builds every collective
//! first compares a fingerprint of the call (op, dtype, shape) across
//! ranks, so disagreeing ranks get [`DistError::Mismatch`] instead of
//! corrupt data or a hang; release builds skip that round trip.
//!
//! A failing rank ends the whole job: `abort` calls `MPI_Abort`, and
//! `mpirun` stops every process.

#[cfg(not(feature = "mpi"))]
pub(crate) fn init() -> crate::Result<crate::ProcessGroup> {
    Err(crate::DistError::invalid(
        "init_process_group",
        "Backend::Mpi needs torchlet-distributed built with the `mpi` feature (and Open MPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev)",
    ))
}

#[cfg(feature = "mpi")]
pub(crate) use with_mpi::init;

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::sync::Arc;

    use mpi::collective::SystemOperation;
    use mpi::datatype::{Equivalence, PartitionMut};
    use mpi::environment::Universe;
    use mpi::raw::AsRaw;
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::*;
    use mpi::Threading;
    use torchlet_tensor::{BufferPool, DType, Element, Tensor};

    use crate::error::{DistError, Result};
    use crate::group::{Blocking, Comm, ProcessGroup};
    use crate::ReduceOp;

    /// A rank's side of the MPI job; lives on the communication thread.
    struct MpiComm {
        world: SimpleCommunicator,
        /// Buffers of tensors handed in and no longer held by anyone,
        /// reused for results (a loop of all-reduces of one size stops
        /// allocating and page-faulting).
        pool: std::cell::RefCell<BufferPool>,
        /// Finalizes MPI when dropped (on the same thread).
        _universe: Universe,
    }

    pub(crate) fn init() -> Result<ProcessGroup> {
        const OP: &str = "init_process_group";
        let abort = Arc::new(|reason: String| {
            eprintln!("torchlet-distributed: {reason}; aborting the MPI job");
            // SAFETY: MPI_Abort on the world communicator of an initialized
            // MPI ends every process of the job; it does not return.
            unsafe {
                mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 1);
            }
            std::process::abort();
        });
        // MPI starts once per process: a second call fails in here, saying so.
        ProcessGroup::start("torchlet-mpi".into(), abort, || {
            // Serialized: the group calls MPI from its thread, and a program
            // may call rsmpi itself between the group's calls.
            let (universe, level) = mpi::initialize_with_threading(Threading::Serialized).ok_or_else(
                || DistError::Backend {
                    op: OP,
                    message: "MPI is already initialized (or finalized) in this process: keep and clone the first ProcessGroup".into(),
                },
            )?;
            if level < Threading::Funneled {
                return Err(DistError::Backend {
                    op: OP,
                    message: format!("the MPI library only offers {level:?} threading"),
                });
            }
            let world = universe.world();
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            let comm = MpiComm {
                world,
                pool: Default::default(),
                _universe: universe,
            };
            Ok((Box::new(comm) as Box<dyn Comm>, rank, size))
        })
    }

    fn op_of(op: ReduceOp) -> SystemOperation {
        match op {
            ReduceOp::Sum | ReduceOp::Avg => SystemOperation::sum(),
            ReduceOp::Max => SystemOperation::max(),
            ReduceOp::Min => SystemOperation::min(),
            ReduceOp::Product => SystemOperation::product(),
        }
    }

    fn unsupported(op: &'static str, dtype: DType) -> DistError {
        DistError::invalid(
            op,
            format!("the MPI backend moves float32, float64 and int64 tensors, not {dtype}"),
        )
    }

    /// Runs `$body` with `$T` bound to the tensor's element type.
    macro_rules! with_mpi_type {
        ($op:expr, $dtype:expr, $T:ident => $body:expr) => {
            match $dtype {
                DType::F32 => {
                    type $T = f32;
                    $body
                }
                DType::F64 => {
                    type $T = f64;
                    $body
                }
                DType::I64 => {
                    type $T = i64;
                    $body
                }
                other => Err(unsupported($op, other)),
            }
        };
    }

    fn data<T: Element + Equivalence>(t: &Tensor) -> Vec<T> {
        t.to_vec::<T>().expect("dtype checked")
    }

    impl MpiComm {
        /// Fails on every rank if the ranks' calls differ (debug and test
        /// builds; see the module docs).
        fn agree(&self, op: &'static str, signature: &str) -> Result<()> {
            if !cfg!(debug_assertions) {
                return Ok(());
            }
            // FNV-1a of the signature: a cheap fixed-size fingerprint.
            let mine = signature.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            let mut all = vec![0u64; self.world.size() as usize];
            self.world.all_gather_into(&mine, &mut all[..]);
            if let Some(r) = all.iter().position(|&h| h != mine) {
                return Err(DistError::Mismatch {
                    op,
                    message: format!(
                        "rank {} passed {signature}; rank {r} passed something else",
                        self.world.rank()
                    ),
                });
            }
            Ok(())
        }

        fn size(&self) -> usize {
            self.world.size() as usize
        }

        /// `MPI_Allreduce` from `t`'s own buffer into a reused one: no
        /// copy in, no zero fill (what a direct rsmpi call costs).
        fn all_reduce_typed<T: Element + Equivalence>(
            &self,
            t: &Tensor,
            op: ReduceOp,
        ) -> Result<Tensor> {
            let send = t
                .as_slice::<T>()
                .ok_or_else(|| DistError::invalid("all_reduce", "expected a contiguous tensor"))?;
            let n = send.len();
            let count = i32::try_from(n).map_err(|_| {
                DistError::invalid(
                    "all_reduce",
                    format!("{n} elements exceed MPI's count limit"),
                )
            })?;
            let mut recv: Vec<T> = self
                .pool
                .borrow_mut()
                .scope(|| torchlet_tensor::buffers::take_vec(n));
            // SAFETY: `send` holds `n` elements and `recv` has room for
            // `n`; MPI_Allreduce reads the one and writes every element
            // of the other (MPI_ERRORS_ARE_FATAL: it returns only on
            // success), and the datatype matches `T`.
            unsafe {
                mpi::ffi::MPI_Allreduce(
                    send.as_ptr().cast(),
                    recv.as_mut_ptr().cast(),
                    count,
                    T::equivalent_datatype().as_raw(),
                    op_of(op).as_raw(),
                    self.world.as_raw(),
                );
                recv.set_len(n);
            }
            Ok(Tensor::from_vec(recv, t.shape())?)
        }
    }

    fn describe(t: &Tensor) -> String {
        format!("{}{:?}", t.dtype(), t.shape())
    }

    impl Blocking for MpiComm {
        fn all_reduce(&self, t: Tensor, op: ReduceOp) -> Result<Tensor> {
            const OP: &str = "all_reduce";
            self.agree(OP, &format!("all_reduce {op:?} of {}", describe(&t)))?;
            let out = with_mpi_type!(OP, t.dtype(), T => self.all_reduce_typed::<T>(&t, op))?;
            self.pool.borrow_mut().recycle(t);
            Ok(if op == ReduceOp::Avg {
                out.div_scalar(self.size() as f64)
            } else {
                out
            })
        }

        fn broadcast(&self, t: Tensor, src: usize) -> Result<Tensor> {
            const OP: &str = "broadcast";
            self.agree(
                OP,
                &format!("broadcast of {} from rank {src}", describe(&t)),
            )?;
            with_mpi_type!(OP, t.dtype(), T => {
                let mut buf = data::<T>(&t);
                self.world.process_at_rank(src as i32).broadcast_into(&mut buf[..]);
                Ok(Tensor::from_vec(buf, t.shape())?)
            })
        }

        fn all_gather(&self, t: Tensor) -> Result<Vec<Tensor>> {
            const OP: &str = "all_gather";
            self.agree(OP, &format!("all_gather of {}", describe(&t)))?;
            with_mpi_type!(OP, t.dtype(), T => {
                let send = data::<T>(&t);
                let n = send.len();
                let mut recv = vec![T::default(); n * self.size()];
                self.world.all_gather_into(&send[..], &mut recv[..]);
                recv.chunks(n.max(1))
                    .take(self.size())
                    .map(|c| Ok(Tensor::from_vec(c[..n].to_vec(), t.shape())?))
                    .collect()
            })
        }

        fn reduce_scatter(&self, inputs: Vec<Tensor>, op: ReduceOp) -> Result<Tensor> {
            const OP: &str = "reduce_scatter";
            let first = inputs[0].clone();
            self.agree(
                OP,
                &format!("reduce_scatter {op:?} of {}", describe(&first)),
            )?;
            let out = with_mpi_type!(OP, first.dtype(), T => {
                let send: Vec<T> = inputs.iter().flat_map(data::<T>).collect();
                let mut recv = vec![T::default(); first.numel()];
                self.world.reduce_scatter_block_into(&send[..], &mut recv[..], op_of(op));
                Ok(Tensor::from_vec(recv, first.shape())?)
            })?;
            Ok(if op == ReduceOp::Avg {
                out.div_scalar(self.size() as f64)
            } else {
                out
            })
        }

        fn barrier(&self) -> Result<()> {
            self.world.barrier();
            Ok(())
        }

        fn send(&self, t: Tensor, dst: usize, tag: i64) -> Result<()> {
            const OP: &str = "send";
            with_mpi_type!(OP, t.dtype(), T => {
                let buf = data::<T>(&t);
                self.world.process_at_rank(dst as i32).send_with_tag(&buf[..], tag as i32);
                Ok(())
            })
        }

        fn recv(&self, like: Tensor, src: usize, tag: i64) -> Result<Tensor> {
            const OP: &str = "recv";
            with_mpi_type!(OP, like.dtype(), T => {
                let (buf, _status) = self
                    .world
                    .process_at_rank(src as i32)
                    .receive_vec_with_tag::<T>(tag as i32);
                if buf.len() != like.numel() {
                    return Err(DistError::Mismatch {
                        op: OP,
                        message: format!(
                            "rank {src} sent {} elements, rank {} expected {}",
                            buf.len(),
                            self.world.rank(),
                            describe(&like)
                        ),
                    });
                }
                Ok(Tensor::from_vec(buf, like.shape())?)
            })
        }

        fn broadcast_bytes(&self, bytes: Vec<u8>, src: usize) -> Result<Vec<u8>> {
            let root = self.world.process_at_rank(src as i32);
            let mut len = bytes.len() as u64;
            root.broadcast_into(&mut len);
            let mut buf = if self.world.rank() as usize == src {
                bytes
            } else {
                vec![0u8; len as usize]
            };
            root.broadcast_into(&mut buf[..]);
            Ok(buf)
        }

        fn all_gather_bytes(&self, bytes: Vec<u8>) -> Result<Vec<Vec<u8>>> {
            let mut counts = vec![0i32; self.size()];
            self.world
                .all_gather_into(&(bytes.len() as i32), &mut counts[..]);
            let displs: Vec<i32> = counts
                .iter()
                .scan(0, |at, &c| {
                    let d = *at;
                    *at += c;
                    Some(d)
                })
                .collect();
            let total: i32 = counts.iter().sum();
            let mut all = vec![0u8; total as usize];
            {
                let mut parts = PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
                self.world.all_gather_varcount_into(&bytes[..], &mut parts);
            }
            Ok(counts
                .iter()
                .zip(&displs)
                .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
                .collect())
        }
    }
}
