//! The `Mpi` backend's entry point. This build has no MPI (the `mpi`
//! cargo feature is off), so asking for it says how to get it.

use crate::error::{DistError, Result};
use crate::group::ProcessGroup;

/// Fails: MPI support is not compiled in.
pub(crate) fn init() -> Result<ProcessGroup> {
    Err(DistError::invalid(
        "init_process_group",
        "Backend::Mpi needs torchlet-distributed built with the `mpi` feature (and Open MPI installed: apt-get install openmpi-bin libopenmpi-dev libclang-dev)",
    ))
}
