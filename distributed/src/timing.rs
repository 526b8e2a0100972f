//! [`StepTiming`]: where one data-parallel backward's time went on this
//! rank — backward's compute, the gradient all-reduce, and how much of
//! the all-reduce ran while backward was still computing (the figures
//! PyTorch's DDP logging data reports as backward compute, comm and
//! overlap times).

use std::time::{Duration, Instant};

/// The timeline of the last synchronised backward of a
/// [`DistributedDataParallel`](crate::DistributedDataParallel) on this
/// rank, from the end of its forward to the averaged gradients in place
/// ([`DistributedDataParallel::last_step_timing`](crate::DistributedDataParallel::last_step_timing)).
///
/// On MPI a bucket's all-reduce runs on the communication thread from the
/// moment the bucket is ready, so it can overlap the rest of backward.
/// On `Local` ranks the reduction is work the ranks do themselves, in the
/// wait after backward's last gradient: it never overlaps (and with one
/// bucket, as for models under 1 MiB of parameters, nothing can: the
/// bucket is ready only when backward is done).
#[derive(Clone, Debug, PartialEq)]
pub struct StepTiming {
    /// From the end of forward to the last bucket's launch: backward's
    /// compute (the loss's backward to the first layer's gradient).
    pub backward_compute: Duration,
    /// Time during which some bucket's all-reduce was running (the union
    /// of the buckets' intervals).
    pub backward_comm: Duration,
    /// The part of `backward_comm` before the last bucket's launch, while
    /// backward was still computing.
    pub overlap: Duration,
    /// From the end of forward until every gradient was averaged and in
    /// place (what `backward` cost beyond the forward).
    pub backward_total: Duration,
    /// Per bucket, from the end of forward: when it was ready (launched),
    /// and when its all-reduce started and ended.
    pub buckets: Vec<BucketTiming>,
}

/// One bucket's times, as offsets from the end of forward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketTiming {
    /// Its last gradient was accumulated and its all-reduce launched.
    pub launched: Duration,
    /// The backend started moving it.
    pub comm_started: Duration,
    /// Its all-reduce was done.
    pub comm_ended: Duration,
}

impl StepTiming {
    /// The timing of a backward whose forward ended at `origin`, whose
    /// buckets launched at `launched` and were moved during `comm`, and
    /// whose gradients were in place at `done`.
    pub(crate) fn new(
        origin: Instant,
        launched: &[Instant],
        comm: &[(Instant, Instant)],
        done: Instant,
    ) -> StepTiming {
        let at = |t: Instant| t.saturating_duration_since(origin);
        let buckets: Vec<BucketTiming> = launched
            .iter()
            .zip(comm)
            .map(|(&l, &(s, e))| BucketTiming {
                launched: at(l),
                // A backend cannot start before the launch.
                comm_started: at(s.max(l)),
                comm_ended: at(e.max(s).max(l)),
            })
            .collect();
        let compute_end = buckets.iter().map(|b| b.launched).max().unwrap_or_default();
        let mut spans: Vec<(Duration, Duration)> = buckets
            .iter()
            .map(|b| (b.comm_started, b.comm_ended))
            .collect();
        spans.sort();
        let (mut comm, mut overlap) = (Duration::ZERO, Duration::ZERO);
        let mut covered = Duration::ZERO; // the union so far ends here
        for (s, e) in spans {
            let s = s.max(covered);
            if e > s {
                comm += e - s;
                overlap += e.min(compute_end).saturating_sub(s);
                covered = e;
            }
        }
        StepTiming {
            backward_compute: compute_end,
            backward_comm: comm,
            overlap,
            backward_total: at(done),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_is_the_union_and_overlap_its_part_before_the_last_launch() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        // Bucket 0 ready at 2, moved 3..6; bucket 1 ready at 5, moved 5..9
        // (overlapping bucket 0's); bucket 2 ready at 8, moved 10..11.
        let t = StepTiming::new(
            t0,
            &[ms(2), ms(5), ms(8)],
            &[(ms(3), ms(6)), (ms(5), ms(9)), (ms(10), ms(11))],
            ms(12),
        );
        let d = Duration::from_millis;
        assert_eq!(t.backward_compute, d(8));
        assert_eq!(t.backward_comm, d(6 + 1)); // 3..9 and 10..11
        assert_eq!(t.overlap, d(5)); // 3..8
        assert_eq!(t.backward_total, d(12));
        assert_eq!(t.buckets[1].comm_started, d(5));
        // A backend that reports a start before the launch is clamped.
        let t = StepTiming::new(t0, &[ms(4)], &[(ms(1), ms(6))], ms(7));
        assert_eq!(t.buckets[0].comm_started, d(4));
        assert_eq!(t.overlap, Duration::ZERO);
    }
}
